using System.IO.Compression;
using Google.Protobuf;
using Microsoft.ML;
using Microsoft.ML.Data;
using Onnx;
using Rkde.MLNet.Density;
using SkiaSharp;

namespace Rkde.MLNet.Tests;

/// <summary>
/// UpdateRkde on whole models (tiny ONNX models, so each fit takes a moment): a model just fitted and one read back with
/// Model.Load update alike; the new images' regions enter the sample and those images become normal; the result is a plain
/// ML.NET model; bad models and bad images fail naming them, and the model stays as it was.
/// </summary>
[TestClass]
public sealed class ModelUpdateTests
{
    private static TestImages s_images = null!;
    private static ImageInput[] s_train = [];
    private static ImageInput[] s_new = [];
    private static MLContext s_ml = null!;
    private static ITransformer s_model = null!;
    private static string s_saved = "";

    [ClassInitialize]
    public static void FitOnce(TestContext _)
    {
        s_images = new TestImages();
        s_train = Enumerable.Range(0, 8).Select(i => new ImageInput { ImagePath = s_images.Noise($"train{i}.png", 40, 30, seed: i) }).ToArray();
        // New normals: a colour the training images never show, so the model finds them anomalous until it learns them.
        s_new = Enumerable.Range(0, 4).Select(i => new ImageInput { ImagePath = s_images.Noise($"new{i}.png", 40, 30, seed: 20 + i, r: 230, g: 60, b: 30) }).ToArray();
        s_ml = new MLContext(seed: 1);
        var data = s_ml.Data.LoadFromEnumerable(s_train);
        s_model = s_ml.Transforms.RkdeAnomaly(RkdeAnomalyTests.Options(s_images.Folder)).Fit(data);
        s_saved = Path.Combine(s_images.Folder, "rkde.zip");
        s_ml.Model.Save(s_model, data.Schema, s_saved);
    }

    [ClassCleanup]
    public static void Cleanup() => s_images?.Dispose();

    private static RkdePrediction[] Score(MLContext ml, ITransformer model, IEnumerable<ImageInput> images) =>
        ml.Data.CreateEnumerable<RkdePrediction>(model.Transform(ml.Data.LoadFromEnumerable(images)), reuseRowObject: false).ToArray();

    private static RkdeUpdateResult Update(MLContext ml, ITransformer model, IEnumerable<ImageInput> images, RkdeUpdateOptions? options = null) =>
        ml.Model.UpdateRkde(model, ml.Data.LoadFromEnumerable(images), options);

    /// <summary>The density graph of a saved model (split from its one fitted graph) and its metadata.</summary>
    private static (ModelProto Graph, Dictionary<string, string> Meta) Density(string zipPath)
    {
        var fitted = RkdeModelCatalog.OnnxGraphs(zipPath).Select(g => g.Model).Single(g => g.MetadataProps.Any(p => p.Key == "rkde_stage" && p.Value == "fitted"));
        var graph = ModelProto.Parser.ParseFrom(Rkde.MLNet.Pipeline.FittedGraph.Split(fitted.ToByteArray()).Density);
        return (graph, graph.MetadataProps.ToDictionary(p => p.Key, p => p.Value));
    }

    [TestMethod]
    public void AJustFittedModelAndTheSameModelLoadedUpdateAlike()
    {
        var fromFit = Update(s_ml, s_model, s_new);
        var ml = new MLContext();
        var fromLoad = Update(ml, ml.Model.Load(s_saved, out _), s_new);

        Assert.AreEqual(4, fromFit.ImagesAdded);
        Assert.AreEqual(fromFit.RegionsSeen, fromLoad.RegionsSeen);
        Assert.AreEqual(fromFit.TrainingPoints, fromLoad.TrainingPoints);
        var probe = s_new.Concat(s_train[..2]).ToArray();
        var a = Score(s_ml, fromFit.Model, probe);
        var b = Score(ml, fromLoad.Model, probe);
        for (int i = 0; i < probe.Length; i++)
            CollectionAssert.AreEqual(a[i].BoxScores, b[i].BoxScores, $"image {i}");
    }

    [TestMethod]
    public void AnUpdateAddsTheRegionsTheTrainingFilterKeeps()
    {
        // Scoring NMS at 0.1 keeps the tiny proposer's four quadrants; the default training filter (NMS off) all five boxes.
        var ml = new MLContext(seed: 1);
        var options = RkdeAnomalyTests.Options(s_images.Folder);
        options.IouThreshold = 0.1f;
        var data = ml.Data.LoadFromEnumerable(s_train);
        var model = ml.Transforms.RkdeAnomaly(options).Fit(data);
        string path = Path.Combine(s_images.Folder, "training-filter-update.zip");
        ml.Model.Save(model, data.Schema, path);
        var loaded = new MLContext().Model.Load(path, out _);
        foreach (var fitted in new[] { model, loaded })
        {
            var result = Update(ml, fitted, s_new);
            Assert.AreEqual(4L * 5, result.RegionsAdded, "five regions per new image, as the fit took from each training image");
            Assert.IsTrue(Score(ml, result.Model, s_new).All(p => p.BoxCount == 4), "scoring keeps its own filter's four");
            Assert.IsTrue(float.IsFinite(result.Threshold), "the threshold is chosen again");
        }
    }

    [TestMethod]
    public void TheNewImagesRegionsEnterTheSampleAndTheNewImagesBecomeNormal()
    {
        var before = Score(s_ml, s_model, s_new);
        int newRegions = before.Sum(p => p.BoxCount);
        long fitted = long.Parse(Density(s_saved).Meta["rkde_regions_seen"], System.Globalization.CultureInfo.InvariantCulture);
        var messages = new List<string>();
        var result = Update(s_ml, s_model, s_new, new RkdeUpdateOptions { Progress = new SynchronousProgress(messages.Add) });

        Assert.AreEqual((long)newRegions, result.RegionsAdded, "every box the model finds in a new image");
        Assert.AreEqual(fitted + newRegions, result.RegionsSeen);
        Assert.AreEqual((int)(fitted + newRegions), result.TrainingPoints, "below MaxTrainingPoints every region is kept");
        Assert.IsTrue(result.ExplainedVariance is >= 0 and <= 1, $"explained variance {result.ExplainedVariance}");
        Assert.IsTrue(result.TrainingExplainedVariance is > 0 and <= 1, $"training explained variance {result.TrainingExplainedVariance}");
        StringAssert.Contains(string.Join("\n", messages), $"added {newRegions} regions of 4 images; the sample holds {result.TrainingPoints} of the {result.RegionsSeen} regions seen");
        StringAssert.Contains(string.Join("\n", messages), "of the new regions' variance");

        var after = Score(s_ml, result.Model, s_new);
        for (int i = 0; i < s_new.Length; i++)
        {
            CollectionAssert.AreEqual(before[i].Boxes, after[i].Boxes, "the same boxes");
            Assert.IsLessThan(before[i].Score, after[i].Score, $"new image {i}: {before[i].Score} before, {after[i].Score} after");
        }
        // The model given is unchanged.
        CollectionAssert.AreEqual(before[0].BoxScores, Score(s_ml, s_model, s_new[..1])[0].BoxScores);
    }

    [TestMethod]
    public void TheUpdatedModelSavesAndLoadsAsAPlainMlNetModelAndUpdatesAgain()
    {
        var once = Update(s_ml, s_model, s_new[..2]);
        string path = Path.Combine(s_images.Folder, "updated.zip");
        s_ml.Model.Save(once.Model, s_ml.Data.LoadFromEnumerable(s_train).Schema, path);
        var (graph, meta) = Density(path);
        Assert.AreEqual("3", meta["rkde_format_version"]);
        Assert.AreEqual(once.RegionsSeen.ToString(System.Globalization.CultureInfo.InvariantCulture), meta["rkde_regions_seen"]);
        Assert.AreEqual(once.TrainingPoints, (int)graph.Graph.Initializer.Single(i => i.Name == DensityGraph.State.Sample).Dims[0]);

        var fresh = new MLContext();
        var loaded = fresh.Model.Load(path, out var schema);
        Assert.IsNotNull(schema.GetColumnOrNull("ImagePath"));
        CollectionAssert.AreEqual(Score(s_ml, once.Model, s_new)[3].BoxScores, Score(fresh, loaded, s_new)[3].BoxScores);

        // Updating with the first two then the last two new images equals updating with all four at once (below the cap).
        var twice = Update(fresh, loaded, s_new[2..]);
        var all = Update(s_ml, s_model, s_new);
        Assert.AreEqual(all.RegionsSeen, twice.RegionsSeen);
        var probe = s_train[..3];
        var x = Score(s_ml, all.Model, probe);
        var y = Score(fresh, twice.Model, probe);
        for (int i = 0; i < probe.Length; i++)
            CollectionAssert.AreEqual(x[i].BoxScores, y[i].BoxScores, $"image {i}");
    }

    [TestMethod]
    public void WindowKeepsTheNewestRegionsAtTheModelsMaxTrainingPoints()
    {
        var options = RkdeAnomalyTests.Options(s_images.Folder);
        options.MaxTrainingPoints = 30;
        var ml = new MLContext(seed: 1);
        var model = ml.Transforms.RkdeAnomaly(options).Fit(ml.Data.LoadFromEnumerable(s_train));
        var result = Update(ml, model, s_new, new RkdeUpdateOptions { Sampling = UpdateSampling.Window });
        Assert.AreEqual(30, result.TrainingPoints);
        Assert.AreEqual(8L * 5 + 4 * 5, result.RegionsSeen, "the tiny proposer keeps 5 boxes per image");
        // Below, the same capacity under Reservoir; with Window the new images score lower than before the update.
        var reservoir = Update(ml, model, s_new);
        Assert.AreEqual(30, reservoir.TrainingPoints);
        Assert.IsTrue(Score(ml, result.Model, s_new).Zip(Score(ml, model, s_new)).All(p => p.First.Score < p.Second.Score));
    }

    [TestMethod]
    public void ADensityModelUpdatesFromAFeaturesColumnAndRejectsFeaturesOfAnotherLength()
    {
        var ml = new MLContext(seed: 1);
        var random = new Random(3);
        float[] Features(int regions, int d) => Enumerable.Range(0, regions * d).Select(_ => (float)random.NextDouble()).ToArray();
        var train = ml.Data.LoadFromEnumerable(Enumerable.Range(0, 30).Select(_ => new FeatureRow { Features = Features(3, 6) }));
        var model = ml.Transforms.RkdeDensity(new RkdeDensityOptions { FeatureDimension = 6, PcaComponents = 3 }).Fit(train);

        var result = ml.Model.UpdateRkde(model, ml.Data.LoadFromEnumerable(Enumerable.Range(0, 5).Select(_ => new FeatureRow { Features = Features(2, 6) })));
        Assert.AreEqual(10L, result.RegionsAdded);
        Assert.AreEqual(100, result.TrainingPoints);

        // A fixed-size column (one region per row) keeps its fixed input through the update.
        var fixedTrain = ml.Data.LoadFromEnumerable(Enumerable.Range(0, 40).Select(_ => new SixRow { Features = Features(1, 6) }));
        var fixedModel = ml.Transforms.RkdeDensity(new RkdeDensityOptions { PcaComponents = 3 }).Fit(fixedTrain);
        var fixedNew = ml.Data.LoadFromEnumerable(Enumerable.Range(0, 5).Select(_ => new SixRow { Features = Features(1, 6) }));
        var fixedResult = ml.Model.UpdateRkde(fixedModel, fixedNew);
        Assert.AreEqual(45, fixedResult.TrainingPoints);
        var scores = ml.Data.CreateEnumerable<ScoreRow>(fixedResult.Model.Transform(fixedNew), reuseRowObject: false).Select(r => r.Score).ToArray();
        Assert.HasCount(5, scores);
        Assert.IsTrue(scores.All(float.IsFinite));

        var fixedLength = ml.Data.LoadFromEnumerable(Enumerable.Range(0, 5).Select(_ => new FixedRow { Features = Features(1, 4) }));
        var e = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => ml.Model.UpdateRkde(model, fixedLength));
        StringAssert.Contains(e.Message, "Column 'Features' holds 4 feature values per row, but the model's density stage takes 6 per region");
        var ragged = ml.Data.LoadFromEnumerable(new[] { new FeatureRow { Features = Features(1, 6) }, new FeatureRow { Features = Features(1, 5) } });
        var r = Assert.ThrowsExactly<InvalidOperationException>(() => ml.Model.UpdateRkde(model, ragged));
        StringAssert.Contains(r.Message, "Row 1 of column 'Features' has 5 values, not a multiple of the feature length 6");
    }

    public sealed class FeatureRow
    {
        [VectorType]
        public float[] Features { get; set; } = [];
    }

    public sealed class SixRow
    {
        [VectorType(6)]
        public float[] Features { get; set; } = [];
    }

    public sealed class ScoreRow
    {
        public float Score { get; set; }
    }

    public sealed class FixedRow
    {
        [VectorType(4)]
        public float[] Features { get; set; } = [];
    }

    [TestMethod]
    public void AModelThatIsNotRkdeIsNamed()
    {
        var ml = new MLContext();
        var data = ml.Data.LoadFromEnumerable(new[] { new { A = 1f, B = 2f } });
        var other = ml.Transforms.Concatenate("C", "A", "B").Fit(data);
        var e = Assert.ThrowsExactly<InvalidDataException>(() => ml.Model.UpdateRkde(other, data));
        StringAssert.Contains(e.Message, "The model holds no R-KDE density graph: it is not a model fitted by RkdeAnomaly or RkdeDensity");
    }

    [TestMethod]
    public void AVersionTwoModelCannotBeUpdatedAndTheMessageSaysRefit()
    {
        string path = Path.Combine(s_images.Folder, "v2.zip");
        File.Copy(s_saved, path, overwrite: true);
        ZipGraphs.Rewrite(path, "fitted", ModelLoadTests.AsVersionTwo);
        var ml = new MLContext();
        var model = ml.Model.LoadRkdeModel(path, out _);
        var e = Assert.ThrowsExactly<InvalidDataException>(() => Update(ml, model, s_new));
        StringAssert.Contains(e.Message, "The model cannot be updated: its density graph is of rkde_format_version 2, which scores but does not keep its training sample");
        StringAssert.Contains(e.Message, "Refit it with RkdeAnomaly");
    }

    [TestMethod]
    public void TheThresholdPoolsTheNewImagesScoresUnderTheModelBeforeTheUpdate()
    {
        var info = s_ml.Model.ReadRkdeModelInfo(s_saved);
        var (_, before) = Density(s_saved);
        var kept = Scores(before);
        Assert.HasCount(info.ThresholdImages, kept, "the fit keeps the held-out scores its threshold came from");
        var heldOut = Score(s_ml, s_model, s_new).Select(p => p.Score).ToArray();

        var result = Update(s_ml, s_model, s_new);
        string path = Path.Combine(s_images.Folder, "threshold.zip");
        s_ml.Model.Save(result.Model, s_ml.Data.LoadFromEnumerable(s_train).Schema, path);
        var (_, after) = Density(path);
        var pooled = Scores(after);
        CollectionAssert.AreEqual(kept, pooled[..kept.Length], "the old scores stay, oldest first");
        RkdeAnomalyTests.AssertClose(heldOut, pooled[kept.Length..], 1e-5f);
        var expected = ImageThreshold.FromScores(pooled, info.FalsePositiveRate);
        Assert.AreEqual(expected.Value, result.Threshold);
        var updatedInfo = s_ml.Model.ReadRkdeModelInfo(path);
        Assert.AreEqual(expected.Value, updatedInfo.Threshold);
        Assert.AreEqual(kept.Length + s_new.Length, updatedInfo.ThresholdImages);
        Assert.AreEqual(info.FalsePositiveRate, updatedInfo.FalsePositiveRate);
        foreach (var p in Score(s_ml, result.Model, s_new.Concat(s_train)))
            Assert.AreEqual(p.Score >= result.Threshold, p.IsAnomaly, $"IsAnomaly follows the updated threshold (score {p.Score})");
    }

    private static float[] Scores(Dictionary<string, string> densityMeta)
    {
        var bytes = Convert.FromBase64String(densityMeta[ImageThreshold.ScoresKey]);
        return Enumerable.Range(0, bytes.Length / 4).Select(i => BitConverter.ToSingle(bytes, 4 * i)).ToArray();
    }

    [TestMethod]
    public void AnUpdatedModelExportsAndTheExportScoresAsTheUpdatedZip()
    {
        var result = Update(s_ml, s_model, s_new);
        string path = Path.Combine(s_images.Folder, "export-updated.zip");
        s_ml.Model.Save(result.Model, s_ml.Data.LoadFromEnumerable(s_train).Schema, path);
        using var export = new MemoryStream();
        s_ml.Model.ExportRkdeOnnx(path, export, batched: false);
        using var run = new OnnxRun(export.ToArray());
        var probe = s_new.Concat(s_train[..2]).ToArray();
        var zip = Score(s_ml, result.Model, probe);
        var original = Score(s_ml, s_model, probe);
        for (int i = 0; i < probe.Length; i++)
        {
            var (rgb, w, h) = Rkde.MLNet.Tests.Pipeline.OnnxExportTests.Rgb(Path.Combine(s_images.Folder, probe[i].ImagePath));
            var onnx = run.Run(("image", rgb, [h, w, 3]));
            Assert.AreEqual(zip[i].Score, ((float[])onnx["score"].Data)[0], 1e-5f, probe[i].ImagePath);
            Assert.AreEqual(zip[i].IsAnomaly, ((bool[])onnx["is_anomaly"].Data)[0], probe[i].ImagePath);
            if (i < s_new.Length)
                Assert.IsLessThan(original[i].Score, ((float[])onnx["score"].Data)[0], "the export holds the updated density");
        }
    }

    [TestMethod]
    public void UnreadableNewImagesAreSkippedWithAWarningOrStopTheUpdate()
    {
        File.WriteAllText(Path.Combine(s_images.Folder, "text.png"), "not an image");
        ImageInput[] mixed = [s_new[0], new() { ImagePath = "text.png" }, s_new[1]];
        var messages = new List<string>();
        var result = Update(s_ml, s_model, mixed, new RkdeUpdateOptions { Progress = new SynchronousProgress(messages.Add) });
        Assert.AreEqual(2, result.ImagesAdded);
        Assert.AreEqual(1, result.ImagesSkipped);
        StringAssert.Contains(string.Join("\n", messages), "RkdeUpdate: skipping new image at row 1: '" + Path.Combine(s_images.Folder, "text.png") + "' is not an image");

        var strict = Assert.ThrowsExactly<InvalidOperationException>(() => Update(s_ml, s_model, mixed, new RkdeUpdateOptions { SkipUnreadableImages = false }));
        StringAssert.Contains(strict.Message, "New image at row 1 is unreadable");
        var none = Assert.ThrowsExactly<InvalidOperationException>(() => Update(s_ml, s_model, [new() { ImagePath = "missing.png" }, new() { ImagePath = "text.png" }]));
        StringAssert.Contains(none.Message, "None of the 2 new images is readable (row 0: Image '");
        StringAssert.Contains(none.Message, "missing.png' does not exist");
    }

    [TestMethod]
    public void NewImagesWithoutRegionsFailNamingThemAndTheModelIsUnchanged()
    {
        // The tiny proposer scores every box with the image's brightness: black images keep no box.
        var black = Enumerable.Range(0, 2).Select(i => new ImageInput { ImagePath = s_images.Solid($"black{i}.png", 40, 30, SKColors.Black) }).ToArray();
        var before = Score(s_ml, s_model, s_new);
        var e = Assert.ThrowsExactly<InvalidOperationException>(() => Update(s_ml, s_model, black));
        StringAssert.Contains(e.Message, "The 2 new images (black0.png, black1.png) gave no regions");
        StringAssert.Contains(e.Message, "the model is unchanged");
        var after = Score(s_ml, s_model, s_new);
        for (int i = 0; i < s_new.Length; i++)
            CollectionAssert.AreEqual(before[i].BoxScores, after[i].BoxScores);
    }

    [TestMethod]
    public void AMissingImageColumnIsNamed()
    {
        var e = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() =>
            s_ml.Model.UpdateRkde(s_model, s_ml.Data.LoadFromEnumerable(new[] { new { Path = "new0.png" } })));
        StringAssert.Contains(e.Message, "Input column 'ImagePath' (ImageColumnName) is missing");
        var renamed = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() =>
            s_ml.Model.UpdateRkde(s_model, s_ml.Data.LoadFromEnumerable(new[] { new { Path = "new0.png" } }), new RkdeUpdateOptions { ImageColumnName = "Path" }));
        StringAssert.Contains(renamed.Message, "The model's stages cannot read the new input");
    }
}
