namespace Rkde.Benchmarks;

/// <summary>The demo set (assets/demo, MVTec layout) found from the working or program folder upwards.</summary>
public static class DemoData
{
    public static string Root { get; } = Find();

    public static string[] Train => Images(Path.Combine(Root, "train", "good"));

    public static string[] Test => Directory.GetDirectories(Path.Combine(Root, "test")).Order(StringComparer.Ordinal).SelectMany(Images).ToArray();

    /// <summary>Whether a test image is anomalous: it is not under test/good.</summary>
    public static bool IsAnomalous(string path) => Path.GetFileName(Path.GetDirectoryName(path)) != "good";

    private static string[] Images(string folder) =>
        Directory.GetFiles(folder).Where(f => f.EndsWith(".png", StringComparison.OrdinalIgnoreCase) || f.EndsWith(".jpg", StringComparison.OrdinalIgnoreCase)).Order(StringComparer.Ordinal).ToArray();

    private static string Find()
    {
        foreach (var start in new[] { Environment.CurrentDirectory, AppContext.BaseDirectory })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                string candidate = Path.Combine(dir.FullName, "assets", "demo");
                if (Directory.Exists(Path.Combine(candidate, "train", "good")))
                    return candidate;
            }
        }
        throw new DirectoryNotFoundException("assets/demo was found neither above the working folder nor above the program.");
    }
}
