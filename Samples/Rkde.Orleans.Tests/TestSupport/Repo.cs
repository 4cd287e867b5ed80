namespace Rkde.Orleans.Tests.TestSupport;

/// <summary>Paths in the repository the tests run from.</summary>
internal static class Repo
{
    public static string Root { get; } = FindRoot();

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Rkde.MLNet.sln")))
                return dir.FullName;
        throw new InvalidOperationException($"No Rkde.MLNet.sln above {AppContext.BaseDirectory}: run the tests from the repository.");
    }

    /// <summary>The demo set's normal training images, in name order, as bytes.</summary>
    public static byte[][] DemoTrain() => Directory.GetFiles(Path.Combine(Root, "assets", "demo", "train", "good"), "*.jpg")
        .Order(StringComparer.Ordinal).Select(File.ReadAllBytes).ToArray();

    /// <summary>The demo set's test images (normal and anomalous), in name order, as bytes.</summary>
    public static byte[][] DemoTest() => Directory.GetFiles(Path.Combine(Root, "assets", "demo", "test"), "*.jpg", SearchOption.AllDirectories)
        .Order(StringComparer.Ordinal).Select(File.ReadAllBytes).ToArray();
}
