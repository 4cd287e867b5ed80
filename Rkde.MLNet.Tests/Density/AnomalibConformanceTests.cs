using System.Text.Json;
using Rkde.MLNet.Density;
using Rkde.MLNet.Regions;

namespace Rkde.MLNet.Tests.Density;

/// <summary>
/// Holds the density model and the region filter against numbers computed by anomalib's own R-KDE code: every
/// fixture in Fixtures/anomalib/{kde,regions}, or in $RKDE_FIXTURE_DIR/{kde,regions} when that variable is set.
/// </summary>
[TestClass]
public sealed class AnomalibConformanceTests
{
    private const string NoFixtures = "(no fixtures)";

    private static string FixtureRoot =>
        Environment.GetEnvironmentVariable("RKDE_FIXTURE_DIR") is { Length: > 0 } dir
            ? dir
            : Path.Combine(AppContext.BaseDirectory, "Fixtures", "anomalib");

    public static IEnumerable<TestDataRow<string>> KdeFixtures() => Fixtures("kde");

    public static IEnumerable<TestDataRow<string>> RegionFixtures() => Fixtures("regions");

    private static IEnumerable<TestDataRow<string>> Fixtures(string kind)
    {
        string folder = Path.Combine(FixtureRoot, kind);
        var files = Directory.Exists(folder) ? Directory.GetFiles(folder, "*.json").Order(StringComparer.Ordinal).ToArray() : [];
        if (files.Length == 0)
            return [new TestDataRow<string>(Path.Combine(folder, NoFixtures)) { DisplayName = $"{kind}: no fixtures" }];
        return files.Select(f => new TestDataRow<string>(f) { DisplayName = $"{kind}/{Path.GetFileName(f)}" });
    }

    [TestMethod]
    [DynamicData(nameof(KdeFixtures))]
    public void DensityMatchesAnomalib(string path)
    {
        using var json = Load(path);
        var root = json.RootElement;
        var (train, n, dim) = Matrix(root.GetProperty("train"));
        var options = new RkdeDensityOptions
        {
            PcaComponents = root.GetProperty("n_pca_components").GetInt32(),
            FeatureScaling = root.GetProperty("feature_scaling_method").GetString() == "norm"
                ? FeatureScalingMethod.Norm
                : FeatureScalingMethod.Scale,
            MaxTrainingPoints = root.GetProperty("max_training_points").GetInt32(),
        };

        if (!root.GetProperty("fit_succeeded").GetBoolean())
        {
            var error = Assert.ThrowsExactly<InvalidOperationException>(() => KdeDensityModel.Fit(train, n, dim, options));
            StringAssert.Contains(error.Message, $"found {n} training regions");
            return;
        }
        var model = KdeDensityModel.Fit(train, n, dim, options);
        var expected = root.GetProperty("expected");

        var mean = Vector(expected.GetProperty("pca_mean"));
        Assert.HasCount(mean.Length, model.Mean);
        for (int d = 0; d < mean.Length; d++)
            Assert.AreEqual(mean[d], model.Mean[d], 1e-5 * Math.Abs(mean[d]) + 1e-30, $"pca_mean[{d}]");

        if (expected.GetProperty("max_length").ValueKind == JsonValueKind.Number)
        {
            double maxLength = expected.GetProperty("max_length").GetDouble();
            Assert.AreEqual(maxLength, model.MaxLength, 1e-5 * maxLength, "max_length");
        }

        var (test, m, _) = Matrix(root.GetProperty("test"));
        var logDensity = new double[m];
        model.LogDensities(test, logDensity);
        var expectedLog = Vector(expected.GetProperty("log_density"));
        var expectedProbability = Vector(expected.GetProperty("probability"));
        for (int i = 0; i < m; i++)
        {
            Assert.AreEqual(expectedLog[i], logDensity[i], 1e-4 + 1e-6 * Math.Abs(expectedLog[i]), $"log_density[{i}]");
            Assert.AreEqual(expectedProbability[i], KdeDensityModel.Probability(logDensity[i]), 1e-5, $"probability[{i}]");
            Assert.AreEqual(logDensity[i], model.LogDensity(test.AsSpan(i * dim, dim)), 1e-9, $"single-row log_density[{i}]");
        }
    }

    [TestMethod]
    [DynamicData(nameof(RegionFixtures))]
    public void RegionFilterMatchesAnomalib(string path)
    {
        using var json = Load(path);
        var root = json.RootElement;
        var (boxes, _, _) = Matrix(root.GetProperty("boxes"));
        var scores = Vector(root.GetProperty("scores")).Select(s => (float)s).ToArray();
        var options = new RegionFilterOptions
        {
            RoiScoreThreshold = root.GetProperty("score_threshold").GetSingle(),
            MinBoxSize = root.GetProperty("min_box_size").GetSingle(),
            IouThreshold = root.GetProperty("iou_threshold").GetSingle(),
            MaxDetectionsPerImage = root.GetProperty("max_detections_per_image").GetInt32(),
        };
        var expected = root.GetProperty("expected").GetProperty("kept_indices").EnumerateArray().Select(e => e.GetInt32()).ToArray();

        CollectionAssert.AreEqual(expected, RegionFilter.Select(boxes, scores, options));
    }

    private static JsonDocument Load(string path)
    {
        if (Path.GetFileName(path) == NoFixtures)
            Assert.Fail($"No fixture files (*.json) in {Path.GetDirectoryName(path)}: the conformance tests need anomalib's fixtures there.");
        return JsonDocument.Parse(File.ReadAllBytes(path));
    }

    private static double[] Vector(JsonElement array) => array.EnumerateArray().Select(e => e.GetDouble()).ToArray();

    private static (float[] Values, int Rows, int Columns) Matrix(JsonElement array)
    {
        var rows = array.EnumerateArray().Select(r => r.EnumerateArray().Select(e => e.GetSingle()).ToArray()).ToArray();
        int columns = rows.Length == 0 ? 0 : rows[0].Length;
        return (rows.SelectMany(r => r).ToArray(), rows.Length, columns);
    }
}
