using System.IO.Compression;
using Rkde.Cli.Scoring;
using Rkde.Cli.Evaluate.Metrics;
using SkiaSharp;

namespace Rkde.Cli.Tests;

/// <summary>Temporary folders, a tiny synthetic Fashion-MNIST, and a fake engine for the command tests.</summary>
internal static class TestData
{
    private static readonly System.Collections.Concurrent.ConcurrentBag<string> Folders = [];

    /// <summary>A new empty folder under the system's temporary folder, deleted when the test run ends (<see cref="DeleteTempFolders"/>).</summary>
    public static string TempFolder()
    {
        string path = Path.Combine(Path.GetTempPath(), "rkde-cli-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(path);
        Folders.Add(path);
        return path;
    }

    /// <summary>Deletes every folder <see cref="TempFolder"/> made in this run (generated scene sets add up to hundreds of MB).</summary>
    public static void DeleteTempFolders()
    {
        foreach (string folder in Folders)
        {
            try
            {
                Directory.Delete(folder, recursive: true);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // A file still open (e.g. by a model an engine holds) keeps its folder; the next cleanup of the temp folder takes it.
            }
        }
    }

    /// <summary>The repository's demo set (assets/demo, an MVTec AD layout), found above the test program's folder.</summary>
    public static string DemoRoot { get; } = FindDemo();

    private static string FindDemo()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, "assets", "demo");
            if (Directory.Exists(Path.Combine(candidate, "train", "good")))
                return candidate;
        }
        throw new DirectoryNotFoundException($"assets/demo was not found above {AppContext.BaseDirectory}.");
    }

    /// <summary>Writes the four IDX .gz files with <paramref name="perClass"/> items of each class: a filled rectangle whose size depends on the class.</summary>
    public static string FakeFashionMnist(int perClass = 3)
    {
        string folder = TempFolder();
        foreach (string split in new[] { "train", "t10k" })
        {
            int count = perClass * 10;
            var images = new List<byte>();
            var labels = new List<byte>();
            images.AddRange(BigEndian(2051)); images.AddRange(BigEndian(count)); images.AddRange(BigEndian(28)); images.AddRange(BigEndian(28));
            labels.AddRange(BigEndian(2049)); labels.AddRange(BigEndian(count));
            for (int i = 0; i < count; i++)
            {
                int label = i % 10;
                labels.Add((byte)label);
                for (int y = 0; y < 28; y++)
                {
                    for (int x = 0; x < 28; x++)
                    {
                        bool inside = x >= 4 && x < 10 + label && y >= 3 + i % 3 && y < 25;
                        images.Add(inside ? (byte)(150 + 10 * label) : (byte)0);
                    }
                }
            }
            Gzip(Path.Combine(folder, $"{split}-images-idx3-ubyte.gz"), images.ToArray());
            Gzip(Path.Combine(folder, $"{split}-labels-idx1-ubyte.gz"), labels.ToArray());
        }
        return folder;
    }

    public static void WritePng(string path, int width, int height, SKColor colour)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        using var bitmap = new SKBitmap(width, height);
        bitmap.Erase(colour);
        using var data = bitmap.Encode(SKEncodedImageFormat.Png, 100);
        File.WriteAllBytes(path, data.ToArray());
    }

    private static byte[] BigEndian(int v) => [(byte)(v >> 24), (byte)(v >> 16), (byte)(v >> 8), (byte)v];

    private static void Gzip(string path, byte[] bytes)
    {
        using var file = File.Create(path);
        using var gz = new GZipStream(file, CompressionLevel.Fastest);
        gz.Write(bytes);
    }
}

/// <summary>
/// An engine that "fits" by writing the training list and scores by a rule: boxes are the given ones (by file
/// name), so the commands' plumbing can be tested without the neural networks.
/// </summary>
internal sealed class FakeEngine(Func<string, int, int, ImageScore> score) : IRkdeEngine
{
    public List<string> FittedOn { get; } = [];

    public FitSettings? Settings { get; private set; }

    public int Fit(IReadOnlyList<string> images, FitSettings settings, string modelPath, IProgress<string> progress)
    {
        FittedOn.AddRange(images);
        Settings = settings;
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(modelPath))!);
        File.WriteAllLines(modelPath, images);
        return images.Count;
    }

    public IImageScorer Load(string modelPath)
    {
        Loaded.Add(modelPath);
        return new Scorer(score, 1, BatchCalls);
    }

    /// <summary>The models loaded for scoring, in order.</summary>
    public List<string> Loaded { get; } = [];

    /// <summary>Each update: the model it read, the images, the settings and where it saved.</summary>
    public List<(string Model, string[] Images, UpdateSettings Settings, string Out)> Updates { get; } = [];

    /// <summary>"Updates" by recording the call and writing the model's lines plus the images to <paramref name="outPath"/>.</summary>
    public UpdateSummary Update(string modelPath, IReadOnlyList<string> images, UpdateSettings settings, string outPath, IProgress<string> progress)
    {
        Updates.Add((modelPath, [.. images], settings, outPath));
        string[] before = File.ReadAllLines(modelPath);
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(outPath))!);
        File.WriteAllLines(outPath, [.. before, .. images]);
        return new UpdateSummary(images.Count, 0, 5L * images.Count, 5L * (before.Length + images.Count), 5 * (before.Length + images.Count), 0.5, 0.75, 0.5f);
    }

    /// <summary>"Exported" scoring: the same rule, <paramref name="batch"/> images per call of the list overload.</summary>
    public IImageScorer LoadExported(string modelPath, int batch) => new Scorer(score, batch, BatchCalls);

    /// <summary>The image counts of the list-overload calls the scorers got.</summary>
    public List<int> BatchCalls { get; } = [];

    private sealed class Scorer(Func<string, int, int, ImageScore> score, int batch, List<int> calls) : IImageScorer
    {
        public int BatchSize => batch;

        public ImageScore Score(string imagePath, int width, int height) => score(imagePath, width, height);

        public IReadOnlyList<ImageScore> Score(IReadOnlyList<(string Path, int Width, int Height)> images)
        {
            calls.Add(images.Count);
            return images.Select(i => score(i.Path, i.Width, i.Height)).ToList();
        }

        public void Dispose() { }
    }

    /// <summary>Always the same single box.</summary>
    public static FakeEngine Constant(float s) => new((_, w, h) => new ImageScore(s, [new Detection(new BoundingBox(1, 2, w / 2f, h / 2f), s)]));
}
