using System.Runtime.InteropServices;
using System.Text.Json;
using SkiaSharp;

namespace Rkde.Cli.Scenes;

/// <summary>
/// Writes the FashionScenes benchmark: Fashion-MNIST items, upscaled, tinted and blended (opaque, see-through by their
/// intensity, or faint), composited on texture photos, crops of real photographs or plain backgrounds, in MVTec AD layout (train/good, test/good, test/&lt;kind&gt;, ground_truth/&lt;kind&gt;/NNN_mask.png)
/// plus <c>boxes.json</c>. Training scenes draw items from Fashion-MNIST's training split and test scenes from its
/// test split. Every scene has its own random stream derived from (seed, folder, index), so output is
/// byte-identical for a seed, and changing one count leaves the other folders' scenes unchanged.
/// </summary>
internal sealed class FashionScenesGenerator
{
    private const int Margin = 6;
    private readonly FashionScenesOptions _o;
    private readonly List<(string Name, int Width, int Height, byte[] Rgb)> _textures = [];

    public FashionScenesGenerator(FashionScenesOptions options)
    {
        options.Validate();
        _o = options;
    }

    /// <summary>Generates the whole data set under <paramref name="root"/> and returns what boxes.json holds.</summary>
    public SceneBoxes Generate(string root, IProgress<int>? progress = null)
    {
        if (_o.Background != BackgroundKind.Plain)
        {
            LoadTextures();
        }
        var train = FashionMnist.Load(_o.FashionMnistFolder, "train");
        var test = FashionMnist.Load(_o.FashionMnistFolder, "t10k");

        var images = new List<SceneImage>();
        int done = 0;
        void Write(string folder, int index, string kind, FashionMnist source, int anomalyLabel)
        {
            var rng = SceneRandom.ForStream(_o.Seed, folder, index);
            var scene = Compose(rng, source, anomalyLabel);
            string name = $"{index:D3}";
            string rel = $"{folder}/{name}.{(_o.Jpeg ? "jpg" : "png")}";
            WriteImage(Path.Combine(root, rel), scene.Rgb, _o.Width, _o.Height, SKColorType.Rgba8888, _o.Jpeg);
            if (anomalyLabel >= 0)
            {
                WriteImage(Path.Combine(root, "ground_truth", kind, $"{name}_mask.png"), scene.Mask, _o.Width, _o.Height, SKColorType.Gray8, jpeg: false);
            }
            images.Add(new SceneImage { Image = rel, Kind = kind, Objects = scene.Objects });
            progress?.Report(++done);
        }

        for (int i = 0; i < _o.TrainCount; i++)
        {
            Write("train/good", i, "good", train, -1);
        }
        for (int i = 0; i < _o.TestGoodCount; i++)
        {
            Write("test/good", i, "good", test, -1);
        }
        int[] perKind = new int[_o.AnomalyClasses.Length];
        for (int i = 0; i < _o.TestAnomalousCount; i++)
        {
            int k = i % _o.AnomalyClasses.Length;
            int label = _o.AnomalyClasses[k];
            string kind = FashionMnist.ClassNames[label];
            Write($"test/{kind}", perKind[k]++, kind, test, label);
        }

        var boxes = new SceneBoxes
        {
            Generator = "rkde make-scenes (FashionScenes)",
            Settings = JsonSerializer.SerializeToElement(new
            {
                _o.Seed,
                _o.Width,
                _o.Height,
                ItemSize = new[] { _o.MinItemSize, _o.MaxItemSize },
                NormalClasses = _o.NormalClasses.Select(c => FashionMnist.ClassNames[c]).ToArray(),
                AnomalyClasses = _o.AnomalyClasses.Select(c => FashionMnist.ClassNames[c]).ToArray(),
                NormalItems = new[] { _o.MinNormalItems, _o.MaxNormalItems },
                AnomalousItems = new[] { _o.MinAnomalousItems, _o.MaxAnomalousItems },
                Background = _o.Background.ToString().ToLowerInvariant(),
                Opacity = _o.Opacity.ToString().ToLowerInvariant(),
                Tint = _o.Tint.ToString().ToLowerInvariant(),
                Format = _o.Jpeg ? "jpg" : "png",
                Textures = _textures.Select(t => t.Name).ToArray(),
                Train = _o.TrainCount,
                TestGood = _o.TestGoodCount,
                TestAnomalous = _o.TestAnomalousCount,
            }, SceneBoxes.Json),
            Images = images,
        };
        boxes.Save(Path.Combine(root, "boxes.json"));
        return boxes;
    }

    /// <summary>Total number of images <see cref="Generate"/> writes.</summary>
    public int ImageCount => _o.TrainCount + _o.TestGoodCount + _o.TestAnomalousCount;

    private sealed record Scene(byte[] Rgb, byte[] Mask, List<SceneObject> Objects);

    private Scene Compose(SceneRandom rng, FashionMnist source, int anomalyLabel)
    {
        int w = _o.Width, h = _o.Height;
        float[] canvas = Background(rng);
        byte[] mask = new byte[w * h];
        var objects = new List<SceneObject>();
        var placed = new List<(int X1, int Y1, int X2, int Y2)>();

        // Anomalous scenes hold their held-out-class items among at least one normal item.
        int anomalous = anomalyLabel >= 0 ? rng.Next(_o.MinAnomalousItems, _o.MaxAnomalousItems + 1) : 0;
        int minTotal = anomalyLabel >= 0 ? Math.Max(_o.MinNormalItems, anomalous + 1) : _o.MinNormalItems;
        int total = rng.Next(minTotal, Math.Max(_o.MaxNormalItems, minTotal) + 1);
        for (int n = 0; n < total; n++)
        {
            bool isAnomaly = n < anomalous;
            int label = isAnomaly ? anomalyLabel : _o.NormalClasses[rng.Next(0, _o.NormalClasses.Length)];
            int item = rng.Next(0, source.Count(label));
            int size = rng.Next(_o.MinItemSize, _o.MaxItemSize + 1);
            bool flip = rng.NextDouble() < 0.5;
            var (r, g, b) = Tint(rng);
            float[] value = Upscale(source.Item(label, item), size, flip);

            // The item's shape (a steep ramp of its intensity) gives its tight box and mask: the pixels at least half
            // inside. How opaque it is drawn is the opacity mode's, so every mode has the same ground truth.
            float[] shape = new float[size * size];
            float[] alpha = new float[size * size];
            int bx1 = size, by1 = size, bx2 = -1, by2 = -1;
            for (int y = 0; y < size; y++)
            {
                for (int x = 0; x < size; x++)
                {
                    float v = value[y * size + x];
                    float a = Math.Clamp((v - 0.04f) / 0.2f, 0f, 1f);
                    shape[y * size + x] = a;
                    alpha[y * size + x] = _o.Opacity switch
                    {
                        ItemOpacity.Intensity => a > 0f ? v : 0f,
                        ItemOpacity.Faint => FaintAlpha * a,
                        _ => a,
                    };
                    if (a >= 0.5f)
                    {
                        bx1 = Math.Min(bx1, x); by1 = Math.Min(by1, y);
                        bx2 = Math.Max(bx2, x); by2 = Math.Max(by2, y);
                    }
                }
            }
            if (bx2 < 0)
            {
                continue;
            }
            int bw = bx2 - bx1 + 1, bh = by2 - by1 + 1;
            if (bw > w || bh > h)
            {
                continue;
            }

            (int X, int Y)? at = null;
            for (int attempt = 0; attempt < 200 && at is null; attempt++)
            {
                int ox = rng.Next(-bx1, w - bx2), oy = rng.Next(-by1, h - by2);
                var box = (ox + bx1, oy + by1, ox + bx2 + 1, oy + by2 + 1);
                if (placed.All(p => box.Item1 >= p.X2 + Margin || box.Item3 + Margin <= p.X1 ||
                                    box.Item2 >= p.Y2 + Margin || box.Item4 + Margin <= p.Y1))
                {
                    at = (ox, oy);
                    placed.Add(box);
                }
            }
            if (at is not (int px, int py))
            {
                continue;
            }

            for (int y = 0; y < size; y++)
            {
                int cy = py + y;
                if (cy < 0 || cy >= h) continue;
                for (int x = 0; x < size; x++)
                {
                    int cx = px + x;
                    float a = alpha[y * size + x];
                    if (cx < 0 || cx >= w || a <= 0f) continue;
                    float shade = 0.35f + 0.65f * value[y * size + x];
                    int o = (cy * w + cx) * 3;
                    canvas[o] = canvas[o] * (1 - a) + r * shade * a;
                    canvas[o + 1] = canvas[o + 1] * (1 - a) + g * shade * a;
                    canvas[o + 2] = canvas[o + 2] * (1 - a) + b * shade * a;
                    if (isAnomaly && shape[y * size + x] >= 0.5f)
                    {
                        mask[cy * w + cx] = 255;
                    }
                }
            }
            objects.Add(new SceneObject
            {
                Box = [px + bx1, py + by1, px + bx2 + 1, py + by2 + 1],
                Class = FashionMnist.ClassNames[label],
                Anomalous = isAnomaly,
            });
        }

        byte[] rgba = new byte[w * h * 4];
        for (int i = 0; i < w * h; i++)
        {
            rgba[i * 4] = ToByte(canvas[i * 3]);
            rgba[i * 4 + 1] = ToByte(canvas[i * 3 + 1]);
            rgba[i * 4 + 2] = ToByte(canvas[i * 3 + 2]);
            rgba[i * 4 + 3] = 255;
        }
        return new Scene(rgba, mask, objects);
    }

    /// <summary>RGB floats in 0–255, row-major.</summary>
    private float[] Background(SceneRandom rng)
    {
        int w = _o.Width, h = _o.Height;
        float[] rgb = new float[w * h * 3];
        bool texture = _o.Background is BackgroundKind.Texture or BackgroundKind.Photo ||
                       _o.Background == BackgroundKind.Mixed && rng.NextDouble() < 0.5;
        if (!texture)
        {
            var (r, g, b) = Hsv(rng.Uniform(0, 360), rng.Uniform(0.0, 0.35), rng.Uniform(0.25, 0.7));
            for (int i = 0; i < w * h; i++)
            {
                float noise = (float)rng.Uniform(-4, 4);
                rgb[i * 3] = r + noise; rgb[i * 3 + 1] = g + noise; rgb[i * 3 + 2] = b + noise;
            }
            return rgb;
        }

        var t = _textures[rng.Next(0, _textures.Count)];
        // A random crop of the photo at a random zoom (same aspect as the scene), flipped at random, with a
        // random brightness and a faint colour cast. Photographs are cropped at a wider range of scales (from a fifth of
        // the photo's side up), so their objects appear at sizes from much larger than an item to about one.
        double zoom = _o.Background == BackgroundKind.Photo ? rng.Uniform(0.2, 1.0) : rng.Uniform(0.6, 1.0);
        double cw = Math.Min(t.Width, t.Height * (double)w / h) * zoom, ch = cw * h / w;
        double x0 = rng.Uniform(0, t.Width - cw), y0 = rng.Uniform(0, t.Height - ch);
        bool flipX = rng.NextDouble() < 0.5, flipY = rng.NextDouble() < 0.5;
        float gain = (float)rng.Uniform(0.75, 1.1);
        float cr = gain * (float)rng.Uniform(0.92, 1.08), cg = gain * (float)rng.Uniform(0.92, 1.08), cb = gain * (float)rng.Uniform(0.92, 1.08);
        for (int y = 0; y < h; y++)
        {
            double sy = y0 + ((flipY ? h - 1 - y : y) + 0.5) * ch / h - 0.5;
            for (int x = 0; x < w; x++)
            {
                double sx = x0 + ((flipX ? w - 1 - x : x) + 0.5) * cw / w - 0.5;
                int o = (y * w + x) * 3;
                rgb[o] = cr * Bilinear(t.Rgb, t.Width, t.Height, sx, sy, 0);
                rgb[o + 1] = cg * Bilinear(t.Rgb, t.Width, t.Height, sx, sy, 1);
                rgb[o + 2] = cb * Bilinear(t.Rgb, t.Width, t.Height, sx, sy, 2);
            }
        }
        return rgb;
    }

    private static float Bilinear(byte[] rgb, int width, int height, double sx, double sy, int channel)
    {
        sx = Math.Clamp(sx, 0, width - 1);
        sy = Math.Clamp(sy, 0, height - 1);
        int x0 = (int)sx, y0 = (int)sy;
        int x1 = Math.Min(x0 + 1, width - 1), y1 = Math.Min(y0 + 1, height - 1);
        float fx = (float)(sx - x0), fy = (float)(sy - y0);
        float a = rgb[(y0 * width + x0) * 3 + channel], b = rgb[(y0 * width + x1) * 3 + channel];
        float c = rgb[(y1 * width + x0) * 3 + channel], d = rgb[(y1 * width + x1) * 3 + channel];
        return (a * (1 - fx) + b * fx) * (1 - fy) + (c * (1 - fx) + d * fx) * fy;
    }

    /// <summary>Bilinear upscaling of a 28×28 item to size×size, values 0–1.</summary>
    private static float[] Upscale(ReadOnlySpan<byte> item, int size, bool flip)
    {
        const int s = FashionMnist.Side;
        float[] result = new float[size * size];
        for (int y = 0; y < size; y++)
        {
            double sy = Math.Clamp((y + 0.5) * s / size - 0.5, 0, s - 1);
            int y0 = (int)sy, y1 = Math.Min(y0 + 1, s - 1);
            float fy = (float)(sy - y0);
            for (int x = 0; x < size; x++)
            {
                double sx = Math.Clamp(((flip ? size - 1 - x : x) + 0.5) * s / size - 0.5, 0, s - 1);
                int x0 = (int)sx, x1 = Math.Min(x0 + 1, s - 1);
                float fx = (float)(sx - x0);
                float top = item[y0 * s + x0] * (1 - fx) + item[y0 * s + x1] * fx;
                float bottom = item[y1 * s + x0] * (1 - fx) + item[y1 * s + x1] * fx;
                result[y * size + x] = (top * (1 - fy) + bottom * fy) / 255f;
            }
        }
        return result;
    }

    /// <summary>Alpha of <see cref="ItemOpacity.Faint"/> items where the item is fully present.</summary>
    private const float FaintAlpha = 0.4f;

    /// <summary>
    /// Clothing colours for <see cref="ItemTint.Natural"/> as (hue, saturation, value): black, white, navy, denim, grey,
    /// beige, khaki, olive, brown, burgundy.
    /// </summary>
    private static readonly (double H, double S, double V)[] NaturalColours =
    [
        (0, 0, 0.18), (40, 0.04, 0.95), (225, 0.65, 0.35), (212, 0.45, 0.62), (0, 0, 0.55),
        (38, 0.25, 0.85), (50, 0.35, 0.66), (75, 0.45, 0.42), (25, 0.6, 0.4), (345, 0.7, 0.42),
    ];

    /// <summary>An item's colour. Every tint draws three numbers, so the tint changes no other random choice of a scene.</summary>
    private (float R, float G, float B) Tint(SceneRandom rng)
    {
        switch (_o.Tint)
        {
            case ItemTint.Grey:
            {
                rng.NextDouble();
                rng.NextDouble();
                float grey = (float)(rng.Uniform(0.45, 1.0) * 255);
                return (grey, grey, grey);
            }
            case ItemTint.Natural:
            {
                var c = NaturalColours[rng.Next(0, NaturalColours.Length)];
                double hue = (c.H + 360 + rng.Uniform(-8, 8)) % 360;
                return Hsv(hue, c.S, Math.Min(1, c.V * rng.Uniform(0.88, 1.12)));
            }
            default:
                return Hsv(rng.Uniform(0, 360), rng.Uniform(0.45, 0.9), rng.Uniform(0.75, 1.0));
        }
    }

    private static (float R, float G, float B) Hsv(double hue, double saturation, double value)
    {
        double c = value * saturation, hp = hue / 60.0, x = c * (1 - Math.Abs(hp % 2 - 1)), m = value - c;
        var (r, g, b) = hp switch
        {
            < 1 => (c, x, 0.0),
            < 2 => (x, c, 0.0),
            < 3 => (0.0, c, x),
            < 4 => (0.0, x, c),
            < 5 => (x, 0.0, c),
            _ => (c, 0.0, x),
        };
        return ((float)((r + m) * 255), (float)((g + m) * 255), (float)((b + m) * 255));
    }

    private static byte ToByte(float v) => (byte)Math.Clamp((int)MathF.Round(v), 0, 255);

    private void LoadTextures()
    {
        IEnumerable<string> files;
        if (_o.BackgroundFolder is null)
        {
            var names = _o.Background == BackgroundKind.Photo ? FashionScenesOptions.DefaultPhotos : FashionScenesOptions.DefaultTextures;
            files = names.Select(f => Path.Combine(FashionScenesOptions.SkimageDataFolder, f));
            if (!files.All(File.Exists))
            {
                throw new CliException(
                    $"Background photos ({string.Join(", ", names)}) not found in {FashionScenesOptions.SkimageDataFolder}: install Debian's " +
                    "python3-skimage, pass --backgrounds DIR with your own photos, or use --background plain.");
            }
        }
        else
        {
            if (!Directory.Exists(_o.BackgroundFolder))
            {
                throw new CliException($"--backgrounds: folder '{_o.BackgroundFolder}' does not exist.");
            }
            files = Directory.EnumerateFiles(_o.BackgroundFolder)
                .Where(f => f.EndsWith(".png", StringComparison.OrdinalIgnoreCase) ||
                            f.EndsWith(".jpg", StringComparison.OrdinalIgnoreCase) ||
                            f.EndsWith(".jpeg", StringComparison.OrdinalIgnoreCase))
                .Order(StringComparer.Ordinal);
        }
        foreach (string file in files)
        {
            using var decoded = SKBitmap.Decode(file)
                ?? throw new CliException($"Background '{file}' could not be decoded as an image.");
            using var bitmap = decoded.Copy(SKColorType.Rgba8888)
                ?? throw new CliException($"Background '{file}' could not be converted to RGBA.");
            if (bitmap.Width < 64 || bitmap.Height < 64)
            {
                throw new CliException($"Background '{file}' is {bitmap.Width}×{bitmap.Height}; use photos of at least 64×64.");
            }
            byte[] rgba = bitmap.GetPixelSpan().ToArray();
            byte[] rgb = new byte[bitmap.Width * bitmap.Height * 3];
            int stride = bitmap.RowBytes;
            for (int y = 0; y < bitmap.Height; y++)
            {
                for (int x = 0; x < bitmap.Width; x++)
                {
                    int s = y * stride + x * 4, d = (y * bitmap.Width + x) * 3;
                    rgb[d] = rgba[s]; rgb[d + 1] = rgba[s + 1]; rgb[d + 2] = rgba[s + 2];
                }
            }
            _textures.Add((Path.GetFileName(file), bitmap.Width, bitmap.Height, rgb));
        }
        if (_textures.Count == 0)
        {
            throw new CliException($"--backgrounds: no .png or .jpg photos in '{_o.BackgroundFolder}'.");
        }
    }

    private static void WriteImage(string path, byte[] pixels, int width, int height, SKColorType type, bool jpeg)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        using var bitmap = new SKBitmap(new SKImageInfo(width, height, type, SKAlphaType.Opaque));
        Marshal.Copy(pixels, 0, bitmap.GetPixels(), pixels.Length);
        using var data = jpeg ? bitmap.Encode(SKEncodedImageFormat.Jpeg, 92) : bitmap.Encode(SKEncodedImageFormat.Png, 100);
        using var file = File.Create(path);
        data.SaveTo(file);
    }
}
