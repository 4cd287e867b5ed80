using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;
using SkiaSharp;

namespace Rkde.MLNet.Tests.TestSupport;

/// <summary>
/// Writes the image files of the README's bad-input table into a folder: the same seeded noise picture as 8-bit RGB, grayscale, opaque RGBA
/// and 16-bit PNG (so their scores can be compared exactly), a CMYK JPEG (fixture), an 8000 × 6000 and a 10 × 10 image,
/// and broken files: missing, zero bytes, text named .png, truncated PNG and JPEG, corrupt JPEG and PNG.
/// </summary>
internal sealed class ImageCases : IDisposable
{
    public const int Width = 40;
    public const int Height = 30;

    public ImageCases()
    {
        Folder = Directory.CreateTempSubdirectory("rkde-reliability-").FullName;
    }

    public string Folder { get; }

    public string PathOf(string name) => Path.Combine(Folder, name);

    /// <summary>The noise picture's grey levels (R = G = B), seeded.</summary>
    public static byte[] Grey(int seed, int width = Width, int height = Height)
    {
        var random = new Random(seed);
        var v = new byte[width * height];
        for (int i = 0; i < v.Length; i++)
            v[i] = (byte)random.Next(40, 220);
        return v;
    }

    /// <summary>8-bit RGB PNG of the grey levels.</summary>
    public string Rgb(string name, int seed) => Encode(name, SKColorType.Rgba8888, SKAlphaType.Opaque, Grey(seed), SKEncodedImageFormat.Png);

    /// <summary>8-bit grayscale PNG (colour type 0) of the same grey levels.</summary>
    public string Gray(string name, int seed) => Encode(name, SKColorType.Gray8, SKAlphaType.Opaque, Grey(seed), SKEncodedImageFormat.Png);

    /// <summary>RGBA PNG (colour type 6), fully opaque, of the same grey levels.</summary>
    public string Rgba(string name, int seed) => Encode(name, SKColorType.Rgba8888, SKAlphaType.Unpremul, Grey(seed), SKEncodedImageFormat.Png);

    public string Jpeg(string name, int seed) => Encode(name, SKColorType.Rgba8888, SKAlphaType.Opaque, Grey(seed), SKEncodedImageFormat.Jpeg);

    /// <summary>
    /// 16-bit RGB PNG (bit depth 16, colour type 2) of the same grey levels, each sample v × 257, written byte by byte.
    /// Its header may declare another size than the data holds (<paramref name="declaredWidth"/> × <paramref name="declaredHeight"/>).
    /// </summary>
    public string Rgb16(string name, int seed, int declaredWidth = Width, int declaredHeight = Height)
    {
        byte[] grey = Grey(seed);
        var raw = new MemoryStream();
        for (int y = 0; y < Height; y++)
        {
            raw.WriteByte(0); // filter: none
            for (int x = 0; x < Width; x++)
            {
                for (int c = 0; c < 3; c++)
                {
                    raw.WriteByte(grey[y * Width + x]);
                    raw.WriteByte(grey[y * Width + x]); // v × 257, big-endian
                }
            }
        }
        var zlib = new MemoryStream();
        using (var z = new ZLibStream(zlib, CompressionLevel.Optimal, leaveOpen: true))
            raw.WriteTo(z);
        var ihdr = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(ihdr, declaredWidth);
        BinaryPrimitives.WriteInt32BigEndian(ihdr.AsSpan(4), declaredHeight);
        ihdr[8] = 16; // bit depth
        ihdr[9] = 2;  // RGB
        var png = new MemoryStream();
        png.Write([0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A]);
        Chunk(png, "IHDR", ihdr);
        Chunk(png, "IDAT", zlib.ToArray());
        Chunk(png, "IEND", []);
        File.WriteAllBytes(PathOf(name), png.ToArray());
        return name;
    }

    /// <summary>A 48 × 32 CMYK JPEG (Adobe, 4 components) made with Pillow; see Fixtures/images/README.md.</summary>
    public string Cmyk(string name)
    {
        File.Copy(Path.Combine(AppContext.BaseDirectory, "Fixtures", "images", "cmyk.jpg"), PathOf(name));
        return name;
    }

    /// <summary>A large image: grey with seeded rectangles, so it encodes small.</summary>
    public string Large(string name, int width, int height)
    {
        using var bitmap = new SKBitmap(width, height, SKColorType.Rgba8888, SKAlphaType.Opaque);
        using (var canvas = new SKCanvas(bitmap))
        {
            canvas.Clear(new SKColor(120, 130, 110));
            var random = new Random(5);
            for (int i = 0; i < 40; i++)
            {
                using var paint = new SKPaint { Color = new SKColor((byte)random.Next(256), (byte)random.Next(256), (byte)random.Next(256)) };
                canvas.DrawRect(random.Next(width), random.Next(height), width / 10, height / 10, paint);
            }
        }
        return Write(name, bitmap, SKEncodedImageFormat.Png);
    }

    public string Tiny(string name, int seed) => Encode(name, SKColorType.Rgba8888, SKAlphaType.Opaque, Grey(seed, 10, 10), SKEncodedImageFormat.Png, 10, 10);

    /// <summary>One colour, written as RGBA when <paramref name="alpha"/> is Unpremul (so a transparent colour stays so).</summary>
    public string Solid(string name, SKColor colour, SKAlphaType alpha)
    {
        using var bitmap = new SKBitmap(new SKImageInfo(Width, Height, SKColorType.Rgba8888, alpha));
        bitmap.Erase(colour);
        return Write(name, bitmap, SKEncodedImageFormat.Png);
    }

    public string Empty(string name)
    {
        File.WriteAllBytes(PathOf(name), []);
        return name;
    }

    public string Text(string name)
    {
        File.WriteAllText(PathOf(name), "this is not a picture\n");
        return name;
    }

    /// <summary>The first half of <paramref name="source"/>'s bytes.</summary>
    public string Truncated(string name, string source)
    {
        byte[] bytes = File.ReadAllBytes(PathOf(source));
        File.WriteAllBytes(PathOf(name), bytes[..(bytes.Length / 2)]);
        return name;
    }

    /// <summary>
    /// <paramref name="source"/> (a JPEG) with its first Huffman table overwritten by 0xFF bytes. (Garbage in a JPEG's
    /// scan data is not detectable: the decoder decodes it to garbage pixels.)
    /// </summary>
    public string CorruptJpeg(string name, string source)
    {
        byte[] bytes = File.ReadAllBytes(PathOf(source));
        int dht = bytes.AsSpan().IndexOf([(byte)0xFF, (byte)0xC4]);
        bytes.AsSpan(dht + 4, 20).Fill(0xFF);
        File.WriteAllBytes(PathOf(name), bytes);
        return name;
    }

    /// <summary><paramref name="source"/> (a PNG) with bytes in the middle of its image data overwritten.</summary>
    public string CorruptPng(string name, string source)
    {
        byte[] bytes = File.ReadAllBytes(PathOf(source));
        bytes.AsSpan(bytes.Length / 2, 16).Fill(0x55);
        File.WriteAllBytes(PathOf(name), bytes);
        return name;
    }

    private string Encode(string name, SKColorType type, SKAlphaType alpha, byte[] grey, SKEncodedImageFormat format, int width = Width, int height = Height)
    {
        using var bitmap = new SKBitmap(new SKImageInfo(width, height, type, alpha));
        for (int y = 0; y < height; y++)
        {
            for (int x = 0; x < width; x++)
            {
                byte v = grey[y * width + x];
                bitmap.SetPixel(x, y, new SKColor(v, v, v));
            }
        }
        return Write(name, bitmap, format);
    }

    private string Write(string name, SKBitmap bitmap, SKEncodedImageFormat format)
    {
        using var data = bitmap.Encode(format, 90);
        File.WriteAllBytes(PathOf(name), data.ToArray());
        return name;
    }

    private static void Chunk(Stream png, string type, byte[] data)
    {
        Span<byte> word = stackalloc byte[4];
        BinaryPrimitives.WriteInt32BigEndian(word, data.Length);
        png.Write(word);
        byte[] typed = [.. Encoding.ASCII.GetBytes(type), .. data];
        png.Write(typed);
        BinaryPrimitives.WriteUInt32BigEndian(word, Crc32(typed));
        png.Write(word);
    }

    private static uint Crc32(byte[] bytes)
    {
        uint crc = 0xFFFFFFFF;
        foreach (byte b in bytes)
        {
            crc ^= b;
            for (int k = 0; k < 8; k++)
                crc = (crc & 1) != 0 ? 0xEDB88320 ^ (crc >> 1) : crc >> 1;
        }
        return ~crc;
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
