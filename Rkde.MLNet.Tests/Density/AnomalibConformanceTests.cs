using System.Text.Json;
using Rkde.MLNet.Density;
using Rkde.MLNet.Regions;

namespace Rkde.MLNet.Tests.Density;

/// <summary>
/// Holds the density model and the region filter against numbers computed by anomalib's own R-KDE code: every
/// fixture in Fixtures/anomalib/{kde,regions}, or in $RKDE_FIXTURE_DIR/{kde,regions} when that variable is set; and
/// the density model against the generated fixtures of the same definition in Fixtures/generated/kde.
/// </summary>
[TestClass]
public sealed class AnomalibConformanceTests
{
    public static IEnumerable<object[]> RegionFixtures => Fixtures.Files("regions");

    /// <summary>
    /// Every PCA path at the fixture's shape (<see cref="PcaSolver.Auto"/>, and the LOBPCG or exact path that Auto does
    /// not pick there, where it can run in a test's time: <see cref="Applies"/>) must give
    /// anomalib's log-densities within <see cref="LogDensityTolerance"/> · max(1, |log-density|). The relative part:
    /// far from the training points log-densities reach −10² … −10³, where 1e-5 of them still moves the
    /// probability 1 / (1 + exp(0.05 (ld − 12))) by less than 1e-5 (its slope there is below 0.05 e^(−|0.05 ld|)).
    /// Fixtures whose rows are written as decimals (anomalib's) also get the difference that rounding those rows to
    /// float makes to the exact answer (what the library is given), measured with <see cref="AnomalibReference"/>.
    /// </summary>
    [TestMethod]
    [DynamicData(nameof(KdeCases))]
    public void DensityMatchesAnomalib(string set, string file, string path)
    {
        var solver = Enum.Parse<PcaSolver>(path);
        var root = Load(set, file);
        var options = Fixtures.DensityOptions(root);
        var (train, test, n, dim) = Rows(root);

        if (!root.GetProperty("fit_succeeded").GetBoolean())
        {
            var error = Assert.ThrowsExactly<InvalidOperationException>(() => KdeDensityModel.Fit(train, n, dim, options, 0, null, solver));
            StringAssert.Contains(error.Message, $"found {n} training regions");
            return;
        }
        var expected = root.GetProperty("expected");
        var expectedLog = Fixtures.Doubles(expected.GetProperty("log_density"));
        var expectedProbability = Fixtures.Doubles(expected.GetProperty("probability"));
        int m = expectedLog.Length;
        var model = KdeDensityModel.Fit(train, n, dim, options, seed: 0, progress: null, solver);

        var mean = Fixtures.Doubles(expected.GetProperty("pca_mean"));
        Assert.HasCount(mean.Length, model.Mean);
        for (int d = 0; d < mean.Length; d++)
            Assert.AreEqual(mean[d], model.Mean[d], 1e-5 * Math.Abs(mean[d]) + 1e-30, $"pca_mean[{d}]");
        if (expected.GetProperty("max_length").ValueKind == JsonValueKind.Number)
        {
            double maxLength = expected.GetProperty("max_length").GetDouble();
            Assert.AreEqual(maxLength, model.MaxLength, 1e-6 * maxLength, "max_length");
        }

        double[] rounding = set == Generated ? new double[m] : RoundingEffect(root, train, test, dim, options, expectedLog);
        var logDensity = new double[m];
        model.LogDensities(test, logDensity);
        double worst = 0;
        for (int i = 0; i < m; i++)
        {
            double difference = Math.Abs(expectedLog[i] - logDensity[i]);
            worst = Math.Max(worst, difference / Math.Max(1, Math.Abs(expectedLog[i])));
            Assert.IsLessThanOrEqualTo(LogDensityTolerance * Math.Max(1, Math.Abs(expectedLog[i])) + rounding[i], difference,
                $"log_density[{i}]: {logDensity[i]} vs anomalib's {expectedLog[i]} ({solver} PCA; float rounding of the rows accounts for {rounding[i]:0.0e0})");
            Assert.AreEqual(expectedProbability[i], KdeDensityModel.Probability(logDensity[i]), 1e-5, $"probability[{i}]");
        }
        Console.WriteLine($"{set}/{file} {solver}: max |Δ log-density| / max(1, |log-density|) = {worst:0.0e0}");
    }

    /// <summary>Largest accepted |Δ log-density| / max(1, |log-density|) against the exact float64 answer.</summary>
    public const double LogDensityTolerance = 1e-5;

    private const string Generated = "generated";

    /// <summary>The generated fixtures (scripts/kde-fixtures.sh): rows rebuilt from a generator spec, not listed.</summary>
    private static string GeneratedRoot => Path.Combine(AppContext.BaseDirectory, "Fixtures", Generated, "kde");

    /// <summary>(set, file, PCA path) for every density fixture and every path that applies to its shape.</summary>
    public static IEnumerable<object[]> KdeCases()
    {
        var files = Fixtures.Files("kde").Select(f => ("anomalib", (string)f[0]))
            .Concat(Directory.GetFiles(GeneratedRoot, "*.json").Order(StringComparer.Ordinal).Select(f => (Generated, Path.GetFileName(f))));
        foreach (var (set, file) in files)
        {
            var (n, dim, k) = Shape(set, file);
            foreach (var solver in Enum.GetValues<PcaSolver>().Where(s => Applies(s, n, dim, k)))
                yield return [set, file, solver.ToString()];
        }
    }

    private static JsonElement Load(string set, string file) => set == Generated
        ? JsonDocument.Parse(File.ReadAllText(Path.Combine(GeneratedRoot, file))).RootElement
        : Fixtures.Load("kde", file);

    /// <summary>Rows, dimension and k of a fixture, without building its rows (a placeholder for a missing folder gets one case, which fails).</summary>
    private static (int Rows, int Dimension, int K) Shape(string set, string file)
    {
        if (set != Generated && !File.Exists(Path.Combine(Fixtures.Root, "kde", file))) return (0, 0, 0);
        var root = Load(set, file);
        int k = root.GetProperty("n_pca_components").GetInt32();
        if (root.TryGetProperty("generator", out var g))
            return (g.GetProperty("rows").GetInt32(), g.GetProperty("dimension").GetInt32(), k);
        var train = root.GetProperty("train");
        return (train.GetArrayLength(), train[0].GetArrayLength(), k);
    }

    private static (float[] Train, float[] Test, int Rows, int Dimension) Rows(JsonElement root)
    {
        if (root.TryGetProperty("generator", out var generator))
            return GeneratedRows.Build(generator);
        var trainRows = root.GetProperty("train");
        int dim = trainRows[0].GetArrayLength();
        return (Fixtures.Flat(trainRows), Fixtures.Flat(root.GetProperty("test")), trainRows.GetArrayLength(), dim);
    }

    /// <summary>
    /// Whether <paramref name="solver"/> is a path of its own at this shape: Auto always; Randomized (LOBPCG, which
    /// needs 3 blocks of k + 16 columns within D) and Exact where Auto picks another path; Exact, whose cost grows as D³
    /// (or n³ for the Gram matrix), up to 512 dimensions (1,000 rows) so that the tests stay short.
    /// </summary>
    private static bool Applies(PcaSolver solver, int n, int dim, int k)
    {
        bool autoIsExact = (n < dim && n <= Pca.ExactMaxRows) || dim <= Pca.ExactMaxDimension || 3 * Lobpcg.BlockSize(k) > dim;
        return solver switch
        {
            PcaSolver.Randomized => autoIsExact && 3 * Lobpcg.BlockSize(k) <= dim,
            PcaSolver.Exact => !autoIsExact && (n < dim ? n <= 1000 : dim <= 512),
            _ => true,
        };
    }

    /// <summary>
    /// |reference(rows as written) − reference(rows rounded to float)| per test row, after checking that the reference
    /// on the rows as written reproduces the fixture (so that it is anomalib's definition).
    /// </summary>
    private static double[] RoundingEffect(JsonElement root, float[] train, float[] test, int dim, RkdeDensityOptions options, double[] expectedLog)
    {
        static double[] Written(JsonElement rows) => rows.EnumerateArray().SelectMany(r => r.EnumerateArray()).Select(v => v.GetDouble()).ToArray();
        var written = new AnomalibReference(Written(root.GetProperty("train")), dim, options.PcaComponents, options.FeatureScaling)
            .LogDensities(Written(root.GetProperty("test")));
        for (int i = 0; i < written.Length; i++)
            Assert.AreEqual(expectedLog[i], written[i], 1e-8 * Math.Max(1, Math.Abs(expectedLog[i])), $"the reference on the rows as written, log_density[{i}]");
        var rounded = new AnomalibReference(Array.ConvertAll(train, v => (double)v), dim, options.PcaComponents, options.FeatureScaling)
            .LogDensities(Array.ConvertAll(test, v => (double)v));
        return written.Zip(rounded, (a, b) => Math.Abs(a - b)).ToArray();
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
