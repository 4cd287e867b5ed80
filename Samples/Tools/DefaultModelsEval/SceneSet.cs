using System.Text.Json;
using Microsoft.ML.OnnxRuntime.Tensors;
using SkiaSharp;

/// <summary>One item of a scene: its box in image pixels and whether it is anomalous.</summary>
sealed record SceneItem(float[] Box, bool Anomalous);

/// <summary>
/// A scene folder in MVTec layout with a boxes.json listing every item (FashionScenes' {"images": [{"image", "objects": [{"box",
/// "anomalous"}]}]} as <c>rkde make-scenes</c> writes it, or a plain {"&lt;relative path&gt;": [objects]} map), images in ordinal order.
/// </summary>
sealed class SceneSet
{
    public string Root { get; }
    public IReadOnlyList<(string Image, SceneItem[] Items)> Images { get; }

    private SceneSet(string root, IReadOnlyList<(string, SceneItem[])> images)
    {
        Root = root;
        Images = images;
    }

    public static SceneSet Load(string root)
    {
        var json = new JsonSerializerOptions { PropertyNameCaseInsensitive = true };
        using var document = JsonDocument.Parse(File.ReadAllText(Path.Combine(root, "boxes.json")));
        var map = document.RootElement.TryGetProperty("images", out var images)
            ? images.EnumerateArray().ToDictionary(i => i.GetProperty("image").GetString()!, i => i.GetProperty("objects").Deserialize<SceneItem[]>(json)!)
            : document.RootElement.Deserialize<Dictionary<string, SceneItem[]>>(json)!;
        return new SceneSet(root, map.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => (p.Key, p.Value)).ToList());
    }

    public static bool IsTrain(string image) => image.StartsWith("train/", StringComparison.Ordinal);

    /// <summary>A test image outside test/good.</summary>
    public static bool IsAnomalous(string image) => !IsTrain(image) && !image.StartsWith("test/good/", StringComparison.Ordinal);

    /// <summary>The image stretched to width × height as planar RGB in [0, 1], the scale factors to those pixels, and its own size.</summary>
    public (DenseTensor<float> Tensor, float Sx, float Sy, int OriginalWidth, int OriginalHeight) LoadImage(string image, int width, int height)
    {
        string path = Path.Combine(Root, image);
        using var original = SKBitmap.Decode(path) ?? throw new InvalidDataException($"cannot decode {path}");
        using var bitmap = original.Width == width && original.Height == height ? original.Copy() : original.Resize(new SKImageInfo(width, height), new SKSamplingOptions(SKFilterMode.Linear));
        var tensor = new DenseTensor<float>([1, 3, height, width]);
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
            {
                var c = bitmap.GetPixel(x, y);
                tensor[0, 0, y, x] = c.Red / 255f;
                tensor[0, 1, y, x] = c.Green / 255f;
                tensor[0, 2, y, x] = c.Blue / 255f;
            }
        return (tensor, width / (float)original.Width, height / (float)original.Height, original.Width, original.Height);
    }

    /// <summary>The ground-truth mask (non-zero = anomalous) of a test image at its own size: ground_truth/&lt;kind&gt;/&lt;name&gt;_mask.png, zeros for normal images.</summary>
    public byte[] Mask(string image, int width, int height)
    {
        if (!IsAnomalous(image))
            return new byte[width * height];
        string kind = image.Split('/')[1];
        string path = Path.Combine(Root, "ground_truth", kind, Path.GetFileNameWithoutExtension(image) + "_mask.png");
        using var mask = SKBitmap.Decode(path) ?? throw new InvalidDataException($"cannot decode {path}");
        if (mask.Width != width || mask.Height != height)
            throw new InvalidDataException($"{path} is {mask.Width}×{mask.Height}, its image {width}×{height}");
        var result = new byte[width * height];
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
                result[y * width + x] = mask.GetPixel(x, y).Red >= 128 ? (byte)255 : (byte)0;
        return result;
    }
}

/// <summary>Box helpers in model-input pixels: the pipeline's default region filter and IoU.</summary>
static class Boxes
{
    /// <summary>Indices of the boxes the default region filter keeps (score above 0.001, sides ≥ <paramref name="minSize"/>, NMS at <paramref name="iou"/>, at most <paramref name="max"/>), in rank order.</summary>
    public static List<int> Filter(float[] boxes, float[]? scores, float minSize, float iou, int max)
    {
        var kept = new List<int>();
        for (int i = 0; i < boxes.Length / 4 && kept.Count < max; i++)
        {
            if (scores is not null && scores[i] <= 0.001f) continue;
            if (boxes[4 * i + 2] - boxes[4 * i] < minSize || boxes[4 * i + 3] - boxes[4 * i + 1] < minSize) continue;
            if (kept.All(k => Iou(boxes.AsSpan(4 * k, 4), boxes.AsSpan(4 * i, 4)) <= iou)) kept.Add(i);
        }
        return kept;
    }

    public static double Iou(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        double w = Math.Max(0, Math.Min(a[2], b[2]) - Math.Max(a[0], b[0])), h = Math.Max(0, Math.Min(a[3], b[3]) - Math.Max(a[1], b[1]));
        double inter = w * h, union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter;
        return union > 0 ? inter / union : 0;
    }

    /// <summary>The rows of <paramref name="boxes"/> at <paramref name="indices"/>, flattened.</summary>
    public static float[] Select(float[] boxes, IEnumerable<int> indices) => indices.SelectMany(k => boxes.Skip(4 * k).Take(4)).ToArray();
}
