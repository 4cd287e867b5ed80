using Microsoft.ML;
using Microsoft.ML.Data;
using Rkde.MLNet.Density;
using Rkde.MLNet.Regions;

using Rkde.MLNet.Tests.Density;

namespace Rkde.MLNet.Tests.Onnx;

/// <summary>The emitted graphs through stock ML.NET (ApplyOnnxModel from bytes, Model.Save, Model.Load in a fresh context).</summary>
[TestClass]
public sealed class GraphsThroughMLNetTests
{
    private const int D = 6;

    public sealed class Input
    {
        [VectorType, ColumnName("features")]
        public float[] Features { get; set; } = [];

        [VectorType, ColumnName("boxes")]
        public float[] Boxes { get; set; } = [];

        [VectorType, ColumnName("scores")]
        public float[] Scores { get; set; } = [];
    }

    public sealed class Output
    {
        [ColumnName("box_scores")]
        public float[] BoxScores { get; set; } = [];

        [ColumnName("log_density")]
        public float[] LogDensity { get; set; } = [];

        [ColumnName("image_score"), VectorType(1)]
        public float[] ImageScore { get; set; } = [];

        [ColumnName("kept_boxes_normalized")]
        public float[] Boxes { get; set; } = [];

        [ColumnName("kept_scores")]
        public float[] KeptScores { get; set; } = [];
    }

    [TestMethod]
    public void GraphsScoreAndRoundTripThroughModelSaveAndLoad()
    {
        var random = new Random(5);
        var model = DensityGraphTests.Fit(Enumerable.Range(0, 80 * D).Select(_ => (float)random.NextDouble()).ToArray(), D, 3, FeatureScalingMethod.Scale);
        var rows = new[]
        {
            new Input { Features = Enumerable.Range(0, 3 * D).Select(_ => (float)random.NextDouble() * 2).ToArray(),
                        Boxes = [0, 0, 100, 100, 10, 10, 110, 110, 200, 50, 380, 200], Scores = [0.9f, 0.8f, 0.7f] },
            new Input(),
        };
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(rows);
        var pipeline = ml.Transforms.ApplyOnnxModel(["box_scores", "log_density", "image_score"], ["features"], new MemoryStream(DensityGraph.Build(model)))
            .Append(ml.Transforms.ApplyOnnxModel(["kept_boxes_normalized", "kept_scores"], ["boxes", "scores"],
                new MemoryStream(RegionFilterGraph.Build(new RegionFilterOptions(), 360, 240))));
        var fitted = pipeline.Fit(data);
        var schema = fitted.GetOutputSchema(data.Schema);
        Assert.AreEqual(new VectorDataViewType(NumberDataViewType.Single), schema["box_scores"].Type);
        Assert.AreEqual(new VectorDataViewType(NumberDataViewType.Single, 1), schema["image_score"].Type);
        Assert.AreEqual(new VectorDataViewType(NumberDataViewType.Single), schema["kept_boxes_normalized"].Type);
        var before = ml.Data.CreateEnumerable<Output>(fitted.Transform(data), false).ToArray();

        string path = Path.Combine(Path.GetTempPath(), $"rkde-graphs-{Guid.NewGuid():N}.zip");
        try
        {
            ml.Model.Save(fitted, data.Schema, path);
            var fresh = new MLContext();
            var loaded = fresh.Model.Load(path, out _);
            var after = fresh.Data.CreateEnumerable<Output>(loaded.Transform(fresh.Data.LoadFromEnumerable(rows)), false).ToArray();

            for (int i = 0; i < 3; i++)
                Assert.AreEqual(model.LogDensity(rows[0].Features.AsSpan(i * D, D)), before[0].LogDensity[i], 1e-4);
            Assert.AreEqual(before[0].BoxScores.Max(), before[0].ImageScore[0]);
            // Box 1 overlaps box 0 with IoU 0.68 > 0.3: suppressed; box 2 is clipped to x2 = 360.
            CollectionAssert.AreEqual(new[] { 0.9f, 0.7f }, before[0].KeptScores);
            CollectionAssert.AreEqual(new[] { 0f, 0f, 100f / 360, 100f / 240, 200f / 360, 50f / 240, 1f, 200f / 240 }, before[0].Boxes);
            Assert.IsEmpty(before[1].BoxScores);
            Assert.IsEmpty(before[1].Boxes);
            CollectionAssert.AreEqual(new[] { 0f }, before[1].ImageScore);
            for (int r = 0; r < rows.Length; r++)
            {
                CollectionAssert.AreEqual(before[r].BoxScores, after[r].BoxScores);
                CollectionAssert.AreEqual(before[r].LogDensity, after[r].LogDensity);
                CollectionAssert.AreEqual(before[r].ImageScore, after[r].ImageScore);
                CollectionAssert.AreEqual(before[r].Boxes, after[r].Boxes);
            }
        }
        finally
        {
            File.Delete(path);
        }
    }
}
