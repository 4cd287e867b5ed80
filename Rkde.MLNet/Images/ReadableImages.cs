using Microsoft.ML;

namespace Rkde.MLNet.Images;

/// <summary>
/// The rows of a training input whose image is readable: each unreadable one reported through Progress and skipped, or the
/// first one thrown when skipping is off. Used by fitting and by updating, which differ only in how they name the images.
/// </summary>
internal static class ReadableImages
{
    /// <summary>
    /// The input without rows whose image <see cref="ImageCheck"/> finds unreadable, or the input itself when all are
    /// readable. <paramref name="noun"/> names the images in messages ("training image"), <paramref name="verb"/> and
    /// <paramref name="doing"/> what is done with them ("fit on", "fitting on"), <paramref name="stage"/> prefixes progress
    /// lines, <paramref name="skipOption"/> names the option that allows skipping.
    /// </summary>
    /// <exception cref="InvalidOperationException">An unreadable image with <paramref name="skip"/> false, or no readable image at all.</exception>
    public static (IDataView Rows, int Readable, int Skipped) Filter(IDataView input, string column, string? folder, bool skip,
        IProgress<string>? progress, string noun, string verb, string doing, string stage, string skipOption)
    {
        var checks = ImageCheck.CheckColumn(input, column, folder);
        var keep = new bool[checks.Count];
        for (int row = 0; row < checks.Count; row++)
        {
            keep[row] = checks[row].IsReadable;
            if (keep[row])
                continue;
            if (!skip)
                throw new InvalidOperationException(
                    $"{Capitalised(noun)} at row {row} is unreadable: {checks[row].Message} Set {skipOption} = true to skip such images.");
            progress?.Report($"{stage}: skipping {noun} at row {row}: {checks[row].Message}");
        }
        int readable = keep.Count(k => k);
        if (readable == checks.Count)
            return (input, readable, 0);
        if (readable == 0)
            throw new InvalidOperationException(
                $"None of the {checks.Count} {noun}s is readable (row 0: {checks[0].Message}); {verb} a column of decodable image files.");
        progress?.Report($"{stage}: {doing} {readable} of {checks.Count} {noun}s; {checks.Count - readable} skipped.");
        return (new RowSubset(input, keep), readable, checks.Count - readable);
    }

    private static string Capitalised(string noun) => char.ToUpperInvariant(noun[0]) + noun[1..];
}
