using System.Buffers.Binary;
using System.IO.Hashing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Rkde.Cli.Scoring;
using Rkde.Cli.Serve;
using SkiaSharp;

namespace Rkde.Cli.Tests.Serve;

/// <summary>
/// Two real models for the server tests, fitted once per test run on the demo set's normal images (all of them, and
/// the odd-numbered half, so they score differently), the demo test images, and servers on an in-memory transport
/// (ASP.NET Core's TestServer) or on Kestrel.
/// </summary>
internal static class ServeFixture
{
    private static readonly Lazy<(string A, string B)> Models = new(Fit, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>A model fitted on the demo training images with the default options, as the README's first command fits it.</summary>
    public static string ModelA => Models.Value.A;

    /// <summary>A model fitted on the odd-numbered demo training images only.</summary>
    public static string ModelB => Models.Value.B;

    /// <summary>The demo set's 20 test images (good and anomalous), in ordinal order.</summary>
    public static string[] DemoTestImages => ImageFiles.Find(Path.Combine(TestData.DemoRoot, "test"), "demo").ToArray();

    private static (string, string) Fit()
    {
        string folder = TestData.TempFolder();
        var train = ImageFiles.Find(Path.Combine(TestData.DemoRoot, "train", "good"), "demo");
        string a = Path.Combine(folder, "a.zip"), b = Path.Combine(folder, "b.zip");
        var engine = new MlNetEngine();
        engine.Fit(train, new FitSettings(), a, new Progress<string>());
        engine.Fit(train.Where((_, i) => i % 2 == 1).ToList(), new FitSettings(), b, new Progress<string>());
        return (a, b);
    }

    /// <summary>Options for a server on <see cref="ModelA"/> (or <paramref name="model"/>), with defaults otherwise.</summary>
    public static ServeOptions Options(string? model = null) => new() { ModelPath = model ?? ModelA };

    /// <summary>Starts a server on the in-memory transport; dispose to stop it.</summary>
    public static async Task<RunningServer> StartAsync(ServeOptions options, StringWriter? log = null)
    {
        log ??= new StringWriter();
        var app = ServeApp.Build(options, TextWriter.Synchronized(log), b => b.WebHost.UseTestServer());
        await app.StartAsync();
        return new RunningServer(app, app.GetTestClient(), log);
    }

    /// <summary>Starts a server on Kestrel at a free loopback port; dispose to stop it.</summary>
    public static async Task<RunningServer> StartKestrelAsync(ServeOptions options)
    {
        var log = new StringWriter();
        var app = ServeApp.Build(options with { Urls = "http://127.0.0.1:0" }, TextWriter.Synchronized(log));
        await app.StartAsync();
        var address = new Uri(app.Urls.Single());
        return new RunningServer(app, new HttpClient { BaseAddress = address }, log);
    }

    /// <summary>
    /// A PNG whose header declares <paramref name="width"/> × <paramref name="height"/> pixels over the data of an 8 × 8
    /// image (a decompression bomb's shape): a real PNG with its IHDR size and checksum rewritten.
    /// </summary>
    public static byte[] PngDeclaring(int width, int height)
    {
        byte[] png = Picture(8, 8, SKEncodedImageFormat.Png);
        // Signature (8 bytes), then IHDR: length (4), "IHDR" (4), width (4), height (4), 5 more bytes, CRC of type and data.
        BinaryPrimitives.WriteInt32BigEndian(png.AsSpan(16), width);
        BinaryPrimitives.WriteInt32BigEndian(png.AsSpan(20), height);
        BinaryPrimitives.WriteUInt32BigEndian(png.AsSpan(29), Crc32.HashToUInt32(png.AsSpan(12, 17)));
        return png;
    }

    /// <summary>
    /// A <paramref name="width"/> × <paramref name="height"/> image of seeded coloured rectangles, encoded as
    /// <paramref name="format"/> (PNG, JPEG, WebP by SkiaSharp; BMP, which SkiaSharp does not encode, as 24-bit by hand),
    /// in grey levels when <paramref name="colour"/> is Gray8.
    /// </summary>
    public static byte[] Picture(int width, int height, SKEncodedImageFormat format, SKColorType colour = SKColorType.Rgba8888, int seed = 3)
    {
        using var rgba = new SKBitmap(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Premul));
        using (var canvas = new SKCanvas(rgba))
        {
            canvas.Clear(new SKColor(110, 140, 100));
            var random = new Random(seed);
            for (int i = 0; i < 12; i++)
            {
                using var paint = new SKPaint { Color = new SKColor((byte)random.Next(256), (byte)random.Next(256), (byte)random.Next(256)) };
                canvas.DrawRect(random.Next(width), random.Next(height), width / 6f, height / 5f, paint);
            }
        }
        using var bitmap = colour == SKColorType.Rgba8888 ? rgba.Copy() : rgba.Copy(colour);
        if (format == SKEncodedImageFormat.Bmp)
            return Bmp(bitmap);
        using var data = bitmap.Encode(format, 92) ?? throw new InvalidOperationException($"SkiaSharp did not encode {colour} as {format}.");
        return data.ToArray();
    }

    private static byte[] Bmp(SKBitmap bitmap)
    {
        int stride = (bitmap.Width * 3 + 3) & ~3;
        var bmp = new byte[54 + stride * bitmap.Height];
        "BM"u8.CopyTo(bmp);
        BinaryPrimitives.WriteInt32LittleEndian(bmp.AsSpan(2), bmp.Length);
        BinaryPrimitives.WriteInt32LittleEndian(bmp.AsSpan(10), 54);
        BinaryPrimitives.WriteInt32LittleEndian(bmp.AsSpan(14), 40);
        BinaryPrimitives.WriteInt32LittleEndian(bmp.AsSpan(18), bitmap.Width);
        BinaryPrimitives.WriteInt32LittleEndian(bmp.AsSpan(22), bitmap.Height);  // positive: rows bottom-up
        BinaryPrimitives.WriteInt16LittleEndian(bmp.AsSpan(26), 1);
        BinaryPrimitives.WriteInt16LittleEndian(bmp.AsSpan(28), 24);
        for (int y = 0; y < bitmap.Height; y++)
        {
            int row = 54 + (bitmap.Height - 1 - y) * stride;
            for (int x = 0; x < bitmap.Width; x++)
            {
                var c = bitmap.GetPixel(x, y);
                bmp[row + 3 * x] = c.Blue;
                bmp[row + 3 * x + 1] = c.Green;
                bmp[row + 3 * x + 2] = c.Red;
            }
        }
        return bmp;
    }
}

/// <summary>A started server and a client for it.</summary>
internal sealed class RunningServer(WebApplication app, HttpClient client, StringWriter log) : IAsyncDisposable
{
    public WebApplication App { get; } = app;

    public HttpClient Client { get; } = client;

    /// <summary>What the server wrote to its log (reloads, errors).</summary>
    public string Log => log.ToString();

    public T Service<T>() where T : notnull => (T)App.Services.GetService(typeof(T))!;

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await App.StopAsync();
        await App.DisposeAsync();
    }
}
