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
    public static IEnumerable<object[]> KdeFixtures => Fixtures.Files("kde");

    public static IEnumerable<object[]> RegionFixtures => Fixtures.Files("regions");

    [TestMethod]
    [DynamicData(nameof(KdeFixtures))]
    public void DensityMatchesAnomalib(string file)
    {
        var root = Fixtures.Load("kde", file);
        var trainRows = root.GetProperty("train");
        int n = trainRows.GetArrayLength(), dim = n == 0 ? 0 : trainRows[0].GetArrayLength();
        float[] train = Fixtures.Flat(trainRows);
        var options = Fixtures.DensityOptions(root);

        if (!root.GetProperty("fit_succeeded").GetBoolean())
        {
            var error = Assert.ThrowsExactly<InvalidOperationException>(() => KdeDensityModel.Fit(train, n, dim, options));
            StringAssert.Contains(error.Message, $"found {n} training regions");
            return;
        }
        var model = KdeDensityModel.Fit(train, n, dim, options);
        var expected = root.GetProperty("expected");

        var mean = Fixtures.Doubles(expected.GetProperty("pca_mean"));
        Assert.HasCount(mean.Length, model.Mean);
        for (int d = 0; d < mean.Length; d++)
            Assert.AreEqual(mean[d], model.Mean[d], 1e-5 * Math.Abs(mean[d]) + 1e-30, $"pca_mean[{d}]");

        if (expected.GetProperty("max_length").ValueKind == JsonValueKind.Number)
        {
            double maxLength = expected.GetProperty("max_length").GetDouble();
            Assert.AreEqual(maxLength, model.MaxLength, 1e-5 * maxLength, "max_length");
        }

        float[] test = Fixtures.Flat(root.GetProperty("test"));
        int m = test.Length / dim;
        var logDensity = new double[m];
        model.LogDensities(test, logDensity);
        var expectedLog = Fixtures.Doubles(expected.GetProperty("log_density"));
        var expectedProbability = Fixtures.Doubles(expected.GetProperty("probability"));
        for (int i = 0; i < m; i++)
        {
            Assert.AreEqual(expectedLog[i], logDensity[i], 1e-4 + 1e-6 * Math.Abs(expectedLog[i]), $"log_density[{i}]");
            Assert.AreEqual(expectedProbability[i], KdeDensityModel.Probability(logDensity[i]), 1e-5, $"probability[{i}]");
            Assert.AreEqual(logDensity[i], model.LogDensity(test.AsSpan(i * dim, dim)), 1e-9, $"single-row log_density[{i}]");
        }
    }

    [TestMethod]
    [DynamicData(nameof(RegionFixtures))]
    public void RegionFilterMatchesAnomalib(string file)
    {
        var root = Fixtures.Load("regions", file);
        float[] boxes = Fixtures.Flat(root.GetProperty("boxes"));
        float[] scores = Fixtures.Flat(root.GetProperty("scores"));
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
}
