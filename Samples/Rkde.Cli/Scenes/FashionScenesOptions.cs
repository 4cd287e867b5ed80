namespace Rkde.Cli.Scenes;

/// <summary>What kind of backdrop the scenes get.</summary>
internal enum BackgroundKind
{
    /// <summary>Random crops of texture photos (grass, gravel, brick …).</summary>
    Texture,
    /// <summary>A plain colour with faint noise.</summary>
    Plain,
    /// <summary>Texture or plain, half and half.</summary>
    Mixed,
}

/// <summary>Settings of the FashionScenes generator; the defaults are the standard configuration.</summary>
internal sealed record FashionScenesOptions
{
    /// <summary>The skimage texture photos used by default (all CC0).</summary>
    public static readonly string[] DefaultTextures = ["grass.png", "gravel.png", "brick.png"];

    public const string SkimageDataFolder = "/usr/lib/python3/dist-packages/skimage/data";

    public int Seed { get; init; } = 2026;
    public int Width { get; init; } = 360;
    public int Height { get; init; } = 240;
    /// <summary>Side, in pixels, of the upscaled 28×28 Fashion-MNIST cell (the item itself is a bit smaller).</summary>
    public int MinItemSize { get; init; } = 56;
    public int MaxItemSize { get; init; } = 96;
    public int[] NormalClasses { get; init; } = [0, 1, 2, 3, 4, 6];
    public int[] AnomalyClasses { get; init; } = [5, 7, 8, 9];
    public int TrainCount { get; init; } = 200;
    public int TestGoodCount { get; init; } = 60;
    public int TestAnomalousCount { get; init; } = 60;
    public int MinNormalItems { get; init; } = 2;
    public int MaxNormalItems { get; init; } = 5;
    public int MinAnomalousItems { get; init; } = 1;
    public int MaxAnomalousItems { get; init; } = 2;
    public BackgroundKind Background { get; init; } = BackgroundKind.Texture;
    /// <summary>Folder of background photos; null → skimage's grass, gravel and brick.</summary>
    public string? BackgroundFolder { get; init; }
    public string FashionMnistFolder { get; init; } = FashionMnist.DebianFolder;
    /// <summary>Scene files as lossless PNG (default) or JPEG (quality 92, about a fifth of the size); masks are always PNG.</summary>
    public bool Jpeg { get; init; }

    /// <summary>Throws a <see cref="CliException"/> naming the first inconsistent setting.</summary>
    public void Validate()
    {
        if (Width < 64 || Height < 64)
        {
            throw new CliException($"--width/--height must be at least 64 (got {Width}×{Height}).");
        }
        if (MinItemSize < 28 || MaxItemSize < MinItemSize || MaxItemSize > Math.Min(Width, Height))
        {
            throw new CliException(
                $"--item-size {MinItemSize}-{MaxItemSize}: need 28 ≤ min ≤ max ≤ the image's shorter side ({Math.Min(Width, Height)}).");
        }
        if (NormalClasses.Intersect(AnomalyClasses).Any())
        {
            throw new CliException("--normal-classes and --anomaly-classes overlap; a class is either normal or anomalous.");
        }
        if (TrainCount < 0 || TestGoodCount < 0 || TestAnomalousCount < 0)
        {
            throw new CliException("--train, --test-good and --test-anomalous counts must not be negative.");
        }
        if (MinNormalItems < 0 || MaxNormalItems < MinNormalItems || MinNormalItems == 0 && MaxNormalItems == 0)
        {
            throw new CliException($"--normal-items {MinNormalItems}-{MaxNormalItems}: need 0 ≤ min ≤ max and max ≥ 1.");
        }
        if (MinAnomalousItems < 1 || MaxAnomalousItems < MinAnomalousItems)
        {
            throw new CliException($"--anomalous-items {MinAnomalousItems}-{MaxAnomalousItems}: need 1 ≤ min ≤ max.");
        }
    }
}
