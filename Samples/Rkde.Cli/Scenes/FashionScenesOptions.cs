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
    /// <summary>Random crops of real photographs (people, animals, objects …) at random scales: clutter that competes with the items.</summary>
    Photo,
}

/// <summary>How an item is blended into the background; its box and mask are the same in every mode.</summary>
internal enum ItemOpacity
{
    /// <summary>Opaque wherever the item is (a soft edge only), shaded by its intensity.</summary>
    Opaque,
    /// <summary>Alpha is the item's own intensity: dark parts let the background through, so contrast is low.</summary>
    Intensity,
    /// <summary>Uniformly see-through (alpha 0.4 of opaque): every item is faint.</summary>
    Faint,
}

/// <summary>The colours items get.</summary>
internal enum ItemTint
{
    /// <summary>Any hue, saturation 0.45–0.9, bright: items stand out by colour.</summary>
    Saturated,
    /// <summary>No colour, value 0.45–1: items stand out by brightness and shape only.</summary>
    Grey,
    /// <summary>Colours of real clothes (black, white, navy, denim, grey, beige, khaki, olive, brown, burgundy), slightly varied.</summary>
    Natural,
}

/// <summary>Settings of the FashionScenes generator; the defaults are the standard configuration.</summary>
internal sealed record FashionScenesOptions
{
    /// <summary>The skimage texture photos used by default (all CC0).</summary>
    public static readonly string[] DefaultTextures = ["grass.png", "gravel.png", "brick.png"];

    /// <summary>The skimage photographs used by <see cref="BackgroundKind.Photo"/> (public domain or CC0, see skimage's data README).</summary>
    public static readonly string[] DefaultPhotos =
        ["astronaut.png", "camera.png", "chelsea.png", "coffee.png", "coins.png", "motorcycle_left.png", "rocket.jpg"];

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
    public ItemOpacity Opacity { get; init; } = ItemOpacity.Opaque;
    public ItemTint Tint { get; init; } = ItemTint.Saturated;
    /// <summary>Folder of background photos; null → skimage's grass, gravel and brick (texture) or <see cref="DefaultPhotos"/> (photo).</summary>
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
        if (!Enum.IsDefined(Background) || !Enum.IsDefined(Opacity) || !Enum.IsDefined(Tint))
        {
            throw new CliException($"--background {Background}, --opacity {Opacity} or --tint {Tint} is not a known value.");
        }
        if (MinAnomalousItems < 1 || MaxAnomalousItems < MinAnomalousItems)
        {
            throw new CliException($"--anomalous-items {MinAnomalousItems}-{MaxAnomalousItems}: need 1 ≤ min ≤ max.");
        }
    }
}
