using System.Globalization;
using SkiaSharp;

namespace Rkde.Cli.Serve;

/// <summary>
/// Decides whether uploaded bytes are an image the server scores, from the bytes alone: the request's Content-Type
/// and file name are never consulted. The header is read first (<see cref="Inspect"/>, SkiaSharp's codec), so an image
/// declaring more than the pixel limit is refused before a pixel is allocated; then the image is decoded in full
/// (<see cref="Decode"/>), because the decoder ML.NET uses fills a truncated PNG or JPEG in without an error and would
/// score it.
/// </summary>
internal static class UploadCheck
{
    /// <summary>The formats served: what ML.NET's image loader decodes (SkiaSharp's other codecs, e.g. ICO, are refused).</summary>
    private static readonly SKEncodedImageFormat[] Formats =
        [SKEncodedImageFormat.Png, SKEncodedImageFormat.Jpeg, SKEncodedImageFormat.Bmp, SKEncodedImageFormat.Gif, SKEncodedImageFormat.Webp];

    private const string FormatList = "PNG, JPEG, BMP, GIF or WebP";

    /// <summary>
    /// The header's verdict, from the first bytes only: empty, not an image, a format not served, or more pixels than
    /// <paramref name="maxPixels"/> are refused; otherwise the declared format and size. Cheap: nothing is decoded.
    /// </summary>
    public static UploadVerdict Inspect(byte[] bytes, long maxPixels)
    {
        if (bytes.Length == 0)
            return UploadVerdict.Refuse(400, "The upload is empty (0 bytes); send the image file's bytes as the request body or as the multipart field 'image'.");
        using var codec = SKCodec.Create(new MemoryStream(bytes, writable: false), out var opened);
        if (codec is null)
        {
            return opened switch
            {
                SKCodecResult.IncompleteInput => Truncated(),
                SKCodecResult.Unimplemented or SKCodecResult.InvalidInput when !LooksLikeImage(bytes) => NotAnImage(bytes),
                _ => Corrupt(opened),
            };
        }
        if (!Formats.Contains(codec.EncodedFormat))
            return UploadVerdict.Refuse(415, $"The upload is a {codec.EncodedFormat} image; the server scores {FormatList}.");
        var info = codec.Info;
        long pixels = (long)info.Width * info.Height;
        if (pixels > maxPixels)
        {
            return UploadVerdict.Refuse(400, string.Create(CultureInfo.InvariantCulture,
                $"The image declares {info.Width:N0} × {info.Height:N0} = {pixels:N0} pixels, more than this server's limit of {maxPixels:N0} (--max-pixels); scale it down, or check that its header is not damaged."));
        }
        return UploadVerdict.Accept(codec.EncodedFormat, info.Width, info.Height);
    }

    /// <summary>
    /// Decodes an image that <see cref="Inspect"/> accepted in full and refuses it when the data end early or are
    /// damaged. Holds width × height × 4 bytes while it runs, so callers bound how many run at once.
    /// </summary>
    public static UploadVerdict Decode(byte[] bytes, UploadVerdict inspected)
    {
        if (!inspected.IsAccepted)
            return inspected;
        using var codec = SKCodec.Create(new MemoryStream(bytes, writable: false), out var opened);
        if (codec is null)
            return Corrupt(opened);
        using var bitmap = new SKBitmap();
        if (!bitmap.TryAllocPixels(new SKImageInfo(codec.Info.Width, codec.Info.Height, SKColorType.Rgba8888, SKAlphaType.Premul)))
            return UploadVerdict.Refuse(503, "The server has no memory to decode this image now; try again later.");
        var decoded = codec.GetPixels(bitmap.Info, bitmap.GetPixels());
        return decoded switch
        {
            SKCodecResult.Success => inspected,
            SKCodecResult.IncompleteInput => Truncated(),
            _ => Corrupt(decoded),
        };
    }

    private static UploadVerdict Truncated() => UploadVerdict.Refuse(400,
        "The image is truncated: the upload ends before the image does (an interrupted capture or copy?); send the whole file.");

    private static UploadVerdict Corrupt(SKCodecResult result) => UploadVerdict.Refuse(400,
        $"The image is corrupt (SkiaSharp: {result}); send it again or re-encode it.");

    private static UploadVerdict NotAnImage(byte[] bytes) => UploadVerdict.Refuse(415,
        $"The upload is not an image (it starts with {Describe(bytes)}); send a {FormatList} file. The Content-Type header is not used: the bytes decide.");

    /// <summary>Whether the first bytes carry the signature of a format served, so that a damaged header reads as corrupt, not as "not an image".</summary>
    private static bool LooksLikeImage(byte[] bytes)
    {
        var b = bytes.AsSpan();
        return b.StartsWith(PngSignature) || b.StartsWith(JpegSignature) || b.StartsWith("BM"u8) || b.StartsWith("GIF8"u8)
               || (b.Length >= 12 && b[..4].SequenceEqual("RIFF"u8) && b[8..12].SequenceEqual("WEBP"u8));
    }

    private static ReadOnlySpan<byte> PngSignature => [0x89, 0x50, 0x4E, 0x47];

    private static ReadOnlySpan<byte> JpegSignature => [0xFF, 0xD8];

    /// <summary>The first bytes, printable ASCII as text and the rest as hex, for an error message.</summary>
    private static string Describe(byte[] bytes)
    {
        var head = bytes.AsSpan(0, Math.Min(bytes.Length, 8));
        bool text = head.ToArray().All(c => c is >= 0x20 and < 0x7F);
        return text
            ? $"the text \"{System.Text.Encoding.ASCII.GetString(head)}\""
            : "bytes " + Convert.ToHexString(head).ToLowerInvariant();
    }
}

/// <summary>What <see cref="UploadCheck"/> found: an accepted image's format and size, or a refusal's status and message.</summary>
internal sealed record UploadVerdict(int Status, string? Error, SKEncodedImageFormat Format, int Width, int Height)
{
    public bool IsAccepted => Error is null;

    public static UploadVerdict Accept(SKEncodedImageFormat format, int width, int height) => new(200, null, format, width, height);

    public static UploadVerdict Refuse(int status, string error) => new(status, error, default, 0, 0);
}
