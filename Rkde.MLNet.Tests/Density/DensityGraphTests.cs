using System.Diagnostics;
using Rkde.MLNet.Density;

namespace Rkde.MLNet.Tests.Density;

[TestClass]
public sealed class DensityGraphTests
{
    public static IEnumerable<object[]> KdeFixtures => Fixtures.Files("kde");

    private static (float[] Scores, float[] LogDensity, float[] Image, long[] Shape) Score(byte[] graph, float[] rows, int d)
    {
        using var run = new OnnxRun(graph);
        int count = rows.Length / d;
        var o = run.Run(("features", rows, [1, count, d]));
        return ((float[])o["box_scores"].Data, (float[])o["log_density"].Data, (float[])o["image_score"].Data, o["box_scores"].Shape);
    }

    [TestMethod]
    [DynamicData(nameof(KdeFixtures))]
    public void GraphMatchesTheReferenceOnGoldenFixtures(string file)
    {
        var f = Fixtures.Load("kde", file);
        if (!f.GetProperty("fit_succeeded").GetBoolean())
            return; // anomalib builds no model: nothing to emit (the fit's error is the density stage's test).
        var train = f.GetProperty("train");
        int d = train[0].GetArrayLength();
        var scaling = f.GetProperty("feature_scaling_method").GetString() == "norm" ? FeatureScalingMethod.Norm : FeatureScalingMethod.Scale;
        var model = ReferenceKde.Fit(Fixtures.Flat(train), d, f.GetProperty("n_pca_components").GetInt32(), scaling);
        float[] test = Fixtures.Flat(f.GetProperty("test"));
        double[] expected = Fixtures.Doubles(f.GetProperty("expected").GetProperty("log_density"));
        double[] expectedP = Fixtures.Doubles(f.GetProperty("expected").GetProperty("probability"));

        var (scores, logDensity, image, _) = Score(DensityGraph.Build(model), test, d);
        for (int i = 0; i < expected.Length; i++)
        {
            double reference = ReferenceKde.LogDensity(model, test.AsSpan(i * d, d));
            Assert.AreEqual(expected[i], reference, 1e-6 * Math.Max(1, Math.Abs(expected[i])), $"{file} row {i}: reference vs anomalib");
            Assert.AreEqual(reference, logDensity[i], Math.Max(1e-4, Math.Abs(reference) * 1e-7), $"{file} row {i}: graph vs reference");
            Assert.AreEqual(expectedP[i], scores[i], 1e-6, $"{file} row {i}: probability");
        }
        Assert.AreEqual(scores.Max(), image[0]);
    }

    [TestMethod]
    [DataRow(FeatureScalingMethod.Scale, 1)]
    [DataRow(FeatureScalingMethod.Norm, 2)]
    public void GraphMatchesTheReferenceOnRandomModelsNearAndFar(FeatureScalingMethod scaling, int seed)
    {
        var random = new Random(seed);
        const int d = 24, k = 6, n = 500;
        var train = Enumerable.Range(0, n * d).Select(_ => (float)(random.NextDouble() * 3)).ToArray();
        var model = ReferenceKde.Fit(train, d, k, scaling);

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
            double reference = ReferenceKde.LogDensity(model, rows[i]);
            Assert.IsFalse(float.IsNaN(logDensity[i]) || float.IsNaN(scores[i]), $"row {i} gave NaN");
            if (double.IsFinite(reference) && Math.Abs(reference) < 1e30)
                Assert.AreEqual(reference, logDensity[i], Math.Max(1e-4, Math.Abs(reference) * 1e-7), $"row {i}");
            Assert.AreEqual(ReferenceKde.Probability(reference), scores[i], 1e-6, $"row {i}");
        }
        Assert.AreEqual(scores.Max(), image[0]);
    }

    [TestMethod]
    public void NoRegionsGiveEmptyOutputsAndImageScoreZero()
    {
        var random = new Random(3);
        const int d = 8;
        var model = ReferenceKde.Fit(Enumerable.Range(0, 50 * d).Select(_ => (float)random.NextDouble()).ToArray(), d, 3, FeatureScalingMethod.Norm);
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
        var model = ReferenceKde.Fit(Enumerable.Range(0, 30 * d).Select(_ => (float)random.NextDouble()).ToArray(), d, 2, FeatureScalingMethod.Scale);
        using var run = new OnnxRun(DensityGraph.Build(model, new DensityGraphNames("F", "B", "L", "S")));
        Assert.AreEqual("1", run.Metadata.CustomMetadataMap["rkde_format_version"]);
        Assert.AreEqual("density", run.Metadata.CustomMetadataMap["rkde_stage"]);
        var o = run.Run(("F", new float[2 * d], [1, 2, d]));
        CollectionAssert.AreEquivalent(new[] { "B", "L", "S" }, o.Keys.ToArray());
    }
}
