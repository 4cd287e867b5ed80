using System.Diagnostics;
using Rkde.MLNet.Density;

namespace Rkde.MLNet.Tests.Density;

[TestClass]
public sealed class DensityGraphTests
{
    public static IEnumerable<object[]> KdeFixtures => Fixtures.Files("kde");

    internal static KdeDensityModel Fit(float[] rows, int d, int k, FeatureScalingMethod scaling) =>
        KdeDensityModel.Fit(rows, rows.Length / d, d, new RkdeDensityOptions { PcaComponents = k, FeatureScaling = scaling });

    private static (float[] Scores, float[] LogDensity, float[] Image, long[] Shape) Score(byte[] graph, float[] rows, int d)
    {
        using var run = new OnnxRun(graph);
        int count = rows.Length / d;
        var o = run.Run(("features", rows, [1, count, d]));
        return ((float[])o["box_scores"].Data, (float[])o["log_density"].Data, (float[])o["image_score"].Data, o["box_scores"].Shape);
    }

    [TestMethod]
    [DynamicData(nameof(KdeFixtures))]
    public void GraphMatchesTheCSharpModelOnGoldenFixtures(string file)
    {
        var f = Fixtures.Load("kde", file);
        if (!f.GetProperty("fit_succeeded").GetBoolean())
            return; // anomalib builds no model: nothing to emit (the fit's error is the density stage's test).
        var train = f.GetProperty("train");
        int d = train[0].GetArrayLength();
        float[] rows = Fixtures.Flat(train);
        var model = KdeDensityModel.Fit(rows, rows.Length / d, d, Fixtures.DensityOptions(f));
        float[] test = Fixtures.Flat(f.GetProperty("test"));
        double[] expected = Fixtures.Doubles(f.GetProperty("expected").GetProperty("log_density"));
        double[] expectedP = Fixtures.Doubles(f.GetProperty("expected").GetProperty("probability"));

        var (scores, logDensity, image, _) = Score(DensityGraph.Build(model), test, d);
        for (int i = 0; i < expected.Length; i++)
        {
            double reference = model.LogDensity(test.AsSpan(i * d, d));
            Assert.AreEqual(reference, logDensity[i], Math.Max(1e-4, Math.Abs(reference) * 1e-7), $"{file} row {i}: graph vs C#");
            Assert.AreEqual(expected[i], logDensity[i], 1e-4 * Math.Max(1, Math.Abs(expected[i])), $"{file} row {i}: graph vs anomalib");
            Assert.AreEqual(expectedP[i], scores[i], 1e-6, $"{file} row {i}: probability");
        }
        Assert.AreEqual(scores.Max(), image[0]);
    }

    [TestMethod]
    [DataRow(FeatureScalingMethod.Scale, 1)]
    [DataRow(FeatureScalingMethod.Norm, 2)]
    public void GraphMatchesTheCSharpModelOnRandomModelsNearAndFar(FeatureScalingMethod scaling, int seed)
    {
        var random = new Random(seed);
        const int d = 24, k = 6, n = 500;
        var train = Enumerable.Range(0, n * d).Select(_ => (float)(random.NextDouble() * 3)).ToArray();
        var model = Fit(train, d, k, scaling);

        // Rows near the data, far away (log-densities down to −10⁶ under Scale), one equal to the mean
        // (a zero projection: Norm must not divide 0 by 0), and extreme finite values.
        var rows = new List<float[]>();
        for (int i = 0; i < 40; i++)
        {
            double spread = Math.Pow(10, random.Next(0, 4));
            rows.Add(Enumerable.Range(0, d).Select(_ => (float)(1.5 + (random.NextDouble() - 0.5) * spread)).ToArray());
        }
        rows.Add(model.Mean.ToArray());
        rows.Add(Enumerable.Repeat(3e38f, d).ToArray());
        rows.Add(Enumerable.Range(0, d).Select(j => j % 2 == 0 ? -3e38f : 3e38f).ToArray());
        float[] flat = rows.SelectMany(r => r).ToArray();

        var (scores, logDensity, image, shape) = Score(DensityGraph.Build(model), flat, d);
        CollectionAssert.AreEqual(new long[] { 1, rows.Count }, shape);
        for (int i = 0; i < rows.Count; i++)
        {
            double reference = model.LogDensity(rows[i]);
            Assert.IsFalse(float.IsNaN(logDensity[i]) || float.IsNaN(scores[i]), $"row {i} gave NaN");
            if (double.IsFinite(reference) && Math.Abs(reference) < 1e30)
                Assert.AreEqual(reference, logDensity[i], Math.Max(1e-4, Math.Abs(reference) * 1e-7), $"row {i}");
            Assert.AreEqual(KdeDensityModel.Probability(reference), scores[i], 1e-6, $"row {i}");
        }
        Assert.AreEqual(scores.Max(), image[0]);
        if (scaling == FeatureScalingMethod.Scale)
            Assert.IsTrue(rows.Take(40).Any(r => model.LogDensity(r) is < -1e4 and > -1e7), "the far case is exercised");
    }

    [TestMethod]
    [DataRow(17)]
    [DataRow(30)]
    [DataRow(101)]
    public void NearestPointIsFoundWhenTheLastBlockIsPadded(int n)
    {
        var random = new Random(n);
        const int d = 9;
        var train = Enumerable.Range(0, n * d).Select(_ => (float)(random.NextDouble() * 2)).ToArray();
        var model = Fit(train, d, 4, FeatureScalingMethod.Scale);
        // Each training row (the last ones sit in the padded block), and the same rows pushed far out.
        float[] rows = [.. train, .. train.Select((v, i) => v * (i / d % 2 == 0 ? 40f : -25f))];
        var (_, logDensity, _, _) = Score(DensityGraph.Build(model), rows, d);
        for (int i = 0; i < 2 * n; i++)
        {
            double reference = model.LogDensity(rows.AsSpan(i * d, d));
            Assert.AreEqual(reference, logDensity[i], Math.Max(1e-4, Math.Abs(reference) * 1e-7), $"n = {n}, row {i}");
        }
    }

    [TestMethod]
    [DataRow(FeatureScalingMethod.Scale)]
    [DataRow(FeatureScalingMethod.Norm)]
    public void NonFiniteRowsScoreOneWithLogDensityMinusInfinityAndNoNaN(FeatureScalingMethod scaling)
    {
        var random = new Random(5);
        const int d = 12;
        var model = Fit(Enumerable.Range(0, 200 * d).Select(_ => (float)random.NextDouble()).ToArray(), d, 4, scaling);
        float[] Row(params (int Column, float Value)[] set)
        {
            var row = Enumerable.Range(0, d).Select(_ => (float)random.NextDouble()).ToArray();
            foreach (var (column, value) in set) row[column] = value;
            return row;
        }
        var rows = new[]
        {
            Row(), Row((3, float.NaN)), Row((0, float.PositiveInfinity)), Row((11, float.NegativeInfinity)),
            Row((1, float.PositiveInfinity), (2, float.NegativeInfinity)), Row((5, 3e38f)), Row(),
        };
        bool[] bad = [false, true, true, true, true, false, false];

        var (scores, logDensity, image, _) = Score(DensityGraph.Build(model), rows.SelectMany(r => r).ToArray(), d);
        for (int i = 0; i < rows.Length; i++)
        {
            double reference = model.LogDensity(rows[i]);
            Assert.IsFalse(float.IsNaN(scores[i]) || float.IsNaN(logDensity[i]), $"row {i} gave NaN");
            if (bad[i])
            {
                Assert.AreEqual(double.NegativeInfinity, reference, $"row {i}: C#");
                Assert.AreEqual(float.NegativeInfinity, logDensity[i], $"row {i}: graph");
                Assert.AreEqual(1f, scores[i], $"row {i}: box score");
            }
            else
            {
                if (Math.Abs(reference) < 1e30) // beyond float range the output is −∞ by the final cast
                    Assert.AreEqual(reference, logDensity[i], Math.Max(1e-4, Math.Abs(reference) * 1e-7), $"row {i}");
                Assert.AreEqual(KdeDensityModel.Probability(reference), scores[i], 1e-6, $"row {i}: box score");
            }
        }
        Assert.AreEqual(1f, image[0]);
    }

    [TestMethod]
    public void NoRegionsGiveEmptyOutputsAndImageScoreZero()
    {
        var random = new Random(3);
        const int d = 8;
        var model = Fit(Enumerable.Range(0, 50 * d).Select(_ => (float)random.NextDouble()).ToArray(), d, 3, FeatureScalingMethod.Norm);
        var (scores, logDensity, image, shape) = Score(DensityGraph.Build(model), [], d);
        CollectionAssert.AreEqual(new long[] { 1, 0 }, shape);
        Assert.IsEmpty(scores);
        Assert.IsEmpty(logDensity);
        CollectionAssert.AreEqual(new[] { 0f }, image);
    }

    [TestMethod]
    public void GraphCarriesFormatMetadataAndCustomNames()
    {
        var random = new Random(4);
        const int d = 5;
        var model = Fit(Enumerable.Range(0, 30 * d).Select(_ => (float)random.NextDouble()).ToArray(), d, 2, FeatureScalingMethod.Scale);
        using var run = new OnnxRun(DensityGraph.Build(model, new DensityGraphNames("F", "B", "L", "S")));
        Assert.AreEqual("3", run.Metadata.CustomMetadataMap["rkde_format_version"]);
        Assert.AreEqual("density", run.Metadata.CustomMetadataMap["rkde_stage"]);
        var o = run.Run(("F", new float[2 * d], [1, 2, d]));
        CollectionAssert.AreEquivalent(new[] { "B", "L", "S" }, o.Keys.ToArray());
    }

    [TestMethod]
    [DataRow(FeatureScalingMethod.Scale)]
    [DataRow(FeatureScalingMethod.Norm)]
    public void TheStateReadBackFromTheGraphIsTheModel(FeatureScalingMethod scaling)
    {
        var random = new Random(5);
        const int d = 12, k = 4;
        var rows = Enumerable.Range(0, 80 * d).Select(_ => (float)random.NextDouble()).ToArray();
        var model = Fit(rows, d, k, scaling);
        var read = DensityGraph.Read(global::Onnx.ModelProto.Parser.ParseFrom(DensityGraph.Build(model)));
        Assert.AreEqual(scaling, read.Scaling);
        CollectionAssert.AreEqual(model.Mean, read.Mean);
        CollectionAssert.AreEqual(model.Components, read.Components);
        Assert.AreEqual(model.MaxLength, read.MaxLength);
        CollectionAssert.AreEqual(model.Sample, read.Sample);
        CollectionAssert.AreEqual(model.BandwidthTransform, read.BandwidthTransform);
        Assert.AreEqual(model.LogNormaliser, read.LogNormaliser);
        Assert.AreEqual(model.History, read.History);
        Assert.AreEqual(80L, read.History.RegionsSeen);
        for (int i = 0; i < model.Points.Length; i++)
            Assert.AreEqual(model.Points[i], read.Points[i], 1e-12 * Math.Max(1, Math.Abs(model.Points[i])), $"point value {i}");
    }

    [TestMethod]
    public void TheScoringTensorsFoldIntoConstantsWhenOnnxRuntimeLoadsTheGraph()
    {
        // The graph stores the state once and derives the kernel points from the sample; ORT must fold that derivation at
        // load time (as ML.NET's OnnxTransformer creates its session, with default options), or every run would redo it.
        var random = new Random(6);
        const int d = 16, k = 4;
        var model = Fit(Enumerable.Range(0, 300 * d).Select(_ => (float)random.NextDouble()).ToArray(), d, k, FeatureScalingMethod.Scale);
        byte[] graph = DensityGraph.Build(model);
        Assert.IsTrue(global::Onnx.ModelProto.Parser.ParseFrom(graph).Graph.Node.Any(n => n.Input.Contains(DensityGraph.State.Sample)));
        string optimized = Path.Combine(Path.GetTempPath(), $"rkde-density-optimized-{Guid.NewGuid():N}.onnx");
        try
        {
            using (var options = new Microsoft.ML.OnnxRuntime.SessionOptions { OptimizedModelFilePath = optimized })
            using (new OnnxRun(graph, options)) { }
            var folded = global::Onnx.ModelProto.Parser.ParseFrom(File.ReadAllBytes(optimized)).Graph;
            string[] state = [DensityGraph.State.Sample, DensityGraph.State.Components, DensityGraph.State.BandwidthTransform, DensityGraph.State.Mean];
            var reading = folded.Node.Where(n => n.Input.Any(state.Contains)).Select(n => n.OpType).ToArray();
            Assert.IsEmpty(reading, "nodes still computing from the state at run time: " + string.Join(", ", reading));
            // What remains per run: one row-side projection MatMul and the kernel MatMul, nothing of size n × k × k.
            Assert.IsLessThanOrEqualTo(2, folded.Node.Count(n => n.OpType is "MatMul" or "Gemm" or "FusedMatMul"));
        }
        finally
        {
            File.Delete(optimized);
        }
    }
}
