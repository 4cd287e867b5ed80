using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Data;
using SkiaSharp;
using Rkde.MLNet.Checks;

namespace Rkde.MLNet.Images;

/// <summary>
/// Finds out whether an image file can be scored as it is, by decoding it completely with SkiaSharp (the decoder
/// ML.NET's image loader uses). ML.NET itself throws on a missing, empty, non-image or corrupt file, naming the file
/// only when it is missing, and scores a truncated PNG or JPEG without an error, the missing part filled in by the
/// decoder; check images first where such files can occur.
/// </summary>
public static class ImageCheck
{
    /// <summary>
    /// The most pixels an image may have: 2^28 (16,384 × 16,384), 1 GiB decoded. ML.NET decodes whole images too, and
    /// fails on a header that claims more than memory holds with "Unable to allocate pixels for the bitmap".
    /// </summary>
    public const long MaxPixels = 1L << 28;

    /// <summary>Checks one image file. Never throws for a bad file: the result says what is wrong.</summary>
    public static ImageCheckResult Check(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (path.Length == 0)
            return Fail(path, ImageProblem.Missing, "An image path is empty; give every row the path of an image file.");
        try
        {
            var file = new FileInfo(path);
            if (!file.Exists)
                return Fail(path, ImageProblem.Missing, $"Image '{path}' does not exist; check the path (relative paths are joined to the image folder).");
            if (file.Length == 0)
                return Fail(path, ImageProblem.Empty, $"Image '{path}' is an empty file (0 bytes); copy or capture it again.");
            using var stream = file.OpenRead();
            using var codec = SKCodec.Create(stream, out var opened);
            if (codec is null)
            {
                return opened switch
                {
                    SKCodecResult.Unimplemented => Fail(path, ImageProblem.NotAnImage,
                        $"'{path}' is not an image in a format SkiaSharp decodes (PNG, JPEG, BMP, GIF, WebP); convert it or leave it out."),
                    SKCodecResult.IncompleteInput => Truncated(path),
                    _ => Corrupt(path, opened),
                };
            }
            var info = new SKImageInfo(codec.Info.Width, codec.Info.Height, SKColorType.Rgba8888, SKAlphaType.Premul);
            if ((long)info.Width * info.Height > MaxPixels)
                return TooLarge(path, info, string.Create(CultureInfo.InvariantCulture, $"more than {MaxPixels:N0} pixels"));
            using var bitmap = new SKBitmap();
            if (!bitmap.TryAllocPixels(info))
                return TooLarge(path, info, "too many to decode in the memory available");
            var decoded = codec.GetPixels(info, bitmap.GetPixels());
            return decoded switch
            {
                SKCodecResult.Success => new ImageCheckResult(path, ImageProblem.None, info.Width, info.Height, null),
                SKCodecResult.IncompleteInput => Truncated(path),
                _ => Corrupt(path, decoded),
            };
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return Fail(path, ImageProblem.Unreadable, $"Image '{path}' cannot be read ({e.Message}); check its permissions.");
        }
    }

    /// <summary>
    /// Checks the image of every row of a text column of paths, joined to <paramref name="imageFolder"/> as ML.NET's
    /// image loader joins them. Returns one result per row, in row order.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The column is missing or not text.</exception>
    public static IReadOnlyList<ImageCheckResult> CheckColumn(IDataView data, string columnName, string? imageFolder = null)
    {
        ArgumentNullException.ThrowIfNull(data);
        SchemaChecks.Text(data.Schema, columnName, nameof(columnName), "image file paths");
        var column = data.Schema[columnName];
        var results = new List<ImageCheckResult>();
        using var cursor = data.GetRowCursor([column]);
        var getter = cursor.GetGetter<ReadOnlyMemory<char>>(column);
        ReadOnlyMemory<char> value = default;
        while (cursor.MoveNext())
        {
            getter(ref value);
            string path = value.ToString();
            results.Add(Check(string.IsNullOrWhiteSpace(imageFolder) || path.Length == 0 ? path : Path.Combine(imageFolder, path)));
        }
        return results;
    }

    private static ImageCheckResult Truncated(string path) => Fail(path, ImageProblem.Truncated,
        $"Image '{path}' is truncated: the file ends before the image does (an interrupted copy?); copy it again.");

    private static ImageCheckResult Corrupt(string path, SKCodecResult result) => Fail(path, ImageProblem.Corrupt,
        $"Image '{path}' is corrupt (SkiaSharp: {result}); copy it again or re-encode it.");

    private static ImageCheckResult TooLarge(string path, SKImageInfo info, string why) => Fail(path, ImageProblem.TooLarge,
        string.Create(CultureInfo.InvariantCulture,
            $"Image '{path}' declares {info.Width:N0} × {info.Height:N0} pixels, {why}; scale it down, or check that its header is not damaged."));

    private static ImageCheckResult Fail(string path, ImageProblem problem, string message) => new(path, problem, 0, 0, message);
}
