using Rkde.Cli.Scenes;
using Rkde.Cli.Evaluate.Metrics;
using SkiaSharp;

namespace Rkde.Cli.Evaluate;

/// <summary>
/// Ground truth of an MVTec AD layout: images in test/good are normal, every other test/&lt;kind&gt; anomalous;
/// pixel masks in ground_truth/&lt;kind&gt;/&lt;name&gt;_mask.png; anomalous boxes from boxes.json when present, else the
/// bounding boxes of the masks' connected regions.
/// </summary>
internal sealed class GroundTruth
{
    private readonly string _root;
    private readonly Dictionary<string, List<BoundingBox>>? _boxes;
    private readonly Dictionary<string, List<BoundingBox>>? _items;

    public GroundTruth(string root)
    {
        _root = root;
        string boxesFile = Path.Combine(root, "boxes.json");
        if (File.Exists(boxesFile))
        {
            _boxes = SceneBoxes.Load(boxesFile).Images.ToDictionary(
                i => i.Image,
                i => i.Objects.Where(o => o.Anomalous).Select(o => Box(o.Box, boxesFile)).ToList(),
                StringComparer.Ordinal);
            _items = SceneBoxes.Load(boxesFile).Images.ToDictionary(
                i => i.Image, i => i.Objects.Select(o => Box(o.Box, boxesFile)).ToList(), StringComparer.Ordinal);
        }
    }

    /// <summary>"boxes.json" or "mask regions": where the anomalous boxes come from.</summary>
    public string BoxSource => _boxes is null ? "mask regions" : "boxes.json";

    /// <summary>The anomaly kind of a test image ("good" for normal), from its folder.</summary>
    public static string KindOf(string relativeToTest) =>
        relativeToTest.Contains('/') ? relativeToTest[..relativeToTest.IndexOf('/')] : "good";

    /// <summary>The mask (width × height, non-zero = anomalous) of a test image, or null when the data set has none.</summary>
    public byte[]? Mask(string relativeToTest, int width, int height)
    {
        string kind = KindOf(relativeToTest);
        if (kind == "good")
        {
            return new byte[width * height];
        }
        string name = Path.GetFileNameWithoutExtension(relativeToTest);
        string path = Path.Combine(_root, "ground_truth", kind, $"{name}_mask.png");
        if (!File.Exists(path))
        {
            return null;
        }
        using var decoded = SKBitmap.Decode(path) ?? throw new CliException($"Mask '{path}' could not be decoded.");
        // Resize to the image when the mask differs (nearest neighbour keeps it binary).
        using var gray = new SKBitmap(new SKImageInfo(width, height, SKColorType.Gray8, SKAlphaType.Opaque));
        using (var canvas = new SKCanvas(gray))
        {
            canvas.Clear(SKColors.Black);
            using var image = SKImage.FromBitmap(decoded);
            canvas.DrawImage(image, SKRect.Create(width, height), new SKSamplingOptions(SKFilterMode.Nearest));
        }
        byte[] mask = gray.GetPixelSpan().ToArray();
        for (int i = 0; i < mask.Length; i++)
        {
            mask[i] = mask[i] >= 128 ? (byte)255 : (byte)0;
        }
        return mask;
    }

    /// <summary>Ground-truth anomalous boxes of a test image (pixels), or null when neither boxes.json nor a mask knows.</summary>
    public List<BoundingBox>? Boxes(string relativeToTest, byte[]? mask, int width)
    {
        if (KindOf(relativeToTest) == "good")
        {
            return [];
        }
        if (_boxes is not null)
        {
            return _boxes.TryGetValue($"test/{relativeToTest}", out var b) ? b : null;
        }
        return mask is null ? null : Regions(mask, width);
    }

    /// <summary>Boxes of every item, normal ones included, of a test image: only boxes.json knows them (else null).</summary>
    public List<BoundingBox>? AllItems(string relativeToTest) =>
        _items is not null && _items.TryGetValue($"test/{relativeToTest}", out var b) ? b : null;

    /// <summary>Bounding boxes of the 8-connected regions of non-zero pixels.</summary>
    public static List<BoundingBox> Regions(byte[] mask, int width)
    {
        int height = mask.Length / width;
        var seen = new bool[mask.Length];
        var boxes = new List<BoundingBox>();
        var stack = new Stack<int>();
        for (int start = 0; start < mask.Length; start++)
        {
            if (mask[start] == 0 || seen[start])
            {
                continue;
            }
            int x1 = int.MaxValue, y1 = int.MaxValue, x2 = -1, y2 = -1;
            seen[start] = true;
            stack.Push(start);
            while (stack.Count > 0)
            {
                int p = stack.Pop(), x = p % width, y = p / width;
                x1 = Math.Min(x1, x); y1 = Math.Min(y1, y); x2 = Math.Max(x2, x); y2 = Math.Max(y2, y);
                for (int dy = -1; dy <= 1; dy++)
                {
                    for (int dx = -1; dx <= 1; dx++)
                    {
                        int nx = x + dx, ny = y + dy;
                        if (nx < 0 || ny < 0 || nx >= width || ny >= height) continue;
                        int q = ny * width + nx;
                        if (mask[q] != 0 && !seen[q])
                        {
                            seen[q] = true;
                            stack.Push(q);
                        }
                    }
                }
            }
            boxes.Add(new BoundingBox(x1, y1, x2 + 1, y2 + 1));
        }
        return boxes;
    }

    private static BoundingBox Box(float[] b, string file) => b.Length == 4
        ? new BoundingBox(b[0], b[1], b[2], b[3])
        : throw new CliException($"'{file}': a box has {b.Length} numbers; expected [x1, y1, x2, y2].");
}
