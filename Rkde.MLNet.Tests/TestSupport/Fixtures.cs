using System.Text.Json;
using Rkde.MLNet.Density;

namespace Rkde.MLNet.Tests.TestSupport;

/// <summary>The anomalib golden fixtures: the copies in the test project, or RKDE_FIXTURE_DIR (same layout) when set.</summary>
internal static class Fixtures
{
    public static string Root =>
        Environment.GetEnvironmentVariable("RKDE_FIXTURE_DIR") is { Length: > 0 } dir
            ? dir
            : Path.Combine(AppContext.BaseDirectory, "Fixtures", "anomalib");

    private const string None = "(no fixtures)";

    /// <summary>
    /// The fixture files of one kind ("regions" or "kde"); when the folder holds none, a single placeholder row
    /// whose <see cref="Load"/> fails the test with the folder's name.
    /// </summary>
    public static IEnumerable<object[]> Files(string kind)
    {
        string folder = Path.Combine(Root, kind);
        string[] files = Directory.Exists(folder) ? Directory.GetFiles(folder, "*.json").Order(StringComparer.Ordinal).ToArray() : [];
        return files.Length == 0 ? [[None]] : files.Select(f => new object[] { Path.GetFileName(f) });
    }

    public static JsonElement Load(string kind, string file)
    {
        string folder = Path.Combine(Root, kind);
        if (file == None)
            Assert.Fail($"No {kind} fixtures (*.json) in '{folder}': set RKDE_FIXTURE_DIR to a folder with {kind}/ inside, or unset it.");
        return JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, file))).RootElement;
    }

    public static float[] Flat(JsonElement rows) =>
        rows.EnumerateArray().SelectMany(r => r.ValueKind == JsonValueKind.Array ? r.EnumerateArray().ToArray() : new[] { r }).Select(v => v.GetSingle()).ToArray();

    public static double[] Doubles(JsonElement values) => values.EnumerateArray().Select(v => v.GetDouble()).ToArray();

    /// <summary>The density settings a kde fixture was computed with.</summary>
    public static RkdeDensityOptions DensityOptions(JsonElement fixture) => new()
    {
        PcaComponents = fixture.GetProperty("n_pca_components").GetInt32(),
        FeatureScaling = fixture.GetProperty("feature_scaling_method").GetString() == "norm" ? FeatureScalingMethod.Norm : FeatureScalingMethod.Scale,
        MaxTrainingPoints = fixture.GetProperty("max_training_points").GetInt32(),
    };
}
