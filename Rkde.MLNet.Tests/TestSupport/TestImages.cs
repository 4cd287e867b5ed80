using SkiaSharp;

namespace Rkde.MLNet.Tests.TestSupport;

/// <summary>Tiny PNGs in a temporary folder: seeded noise images around a base colour, a black image, other sizes.</summary>
internal sealed class TestImages : IDisposable
{
    public TestImages()
    {
        Folder = Directory.CreateTempSubdirectory("rkde-pipeline-").FullName;
    }

    public string Folder { get; }

    /// <summary>Writes a PNG of seeded noise around (r, g, b) and returns its file name.</summary>
    public string Noise(string name, int width, int height, int seed, byte r = 120, byte g = 140, byte b = 100, int spread = 30)
    {
        var random = new Random(seed);
        using var bitmap = new SKBitmap(width, height, SKColorType.Rgba8888, SKAlphaType.Premul);
        for (int y = 0; y < height; y++)
        {
            for (int x = 0; x < width; x++)
                bitmap.SetPixel(x, y, new SKColor(Jitter(r), Jitter(g), Jitter(b)));
        }
        return Write(name, bitmap);

        byte Jitter(byte v) => (byte)Math.Clamp(v + random.Next(-spread, spread + 1), 0, 255);
    }

    public string Solid(string name, int width, int height, SKColor colour)
    {
        using var bitmap = new SKBitmap(width, height, SKColorType.Rgba8888, SKAlphaType.Premul);
        bitmap.Erase(colour);
        return Write(name, bitmap);
    }

    private string Write(string name, SKBitmap bitmap)
    {
        using var data = bitmap.Encode(SKEncodedImageFormat.Png, 100);
        File.WriteAllBytes(Path.Combine(Folder, name), data.ToArray());
        return name;
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(Folder, recursive: true);
        }
        catch (IOException)
        {
            // A temp folder left behind is harmless.
        }
    }
}
