using SkiaSharp;

namespace Rkde.Cli.Scoring;

/// <summary>Finding images in folders and reading their size.</summary>
internal static class ImageFiles
{
    private static readonly string[] Extensions = [".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp"];

    /// <summary>Image files under <paramref name="folder"/>, recursively, in ordinal order of their relative paths.</summary>
    public static List<string> Find(string folder, string optionName)
    {
        if (!Directory.Exists(folder))
        {
            throw new CliException($"{optionName}: folder '{folder}' does not exist.");
        }
        var files = Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories)
            .Where(f => Extensions.Contains(Path.GetExtension(f).ToLowerInvariant()))
            .OrderBy(f => Relative(folder, f), StringComparer.Ordinal)
            .ToList();
        if (files.Count == 0)
        {
            throw new CliException($"{optionName}: no images ({string.Join(", ", Extensions)}) in '{folder}' or its sub-folders.");
        }
        return files;
    }

    /// <summary>The training folder: <c>DIR/train/good</c> for an MVTec AD category root, else DIR itself.</summary>
    public static string TrainingFolder(string dir)
    {
        string mvtec = Path.Combine(dir, "train", "good");
        return Directory.Exists(mvtec) ? mvtec : dir;
    }

    /// <summary>Path of <paramref name="file"/> relative to <paramref name="folder"/>, with '/' separators.</summary>
    public static string Relative(string folder, string file) => Path.GetRelativePath(folder, file).Replace('\\', '/');

    /// <summary>
    /// Width and height of a readable image, or why it is not one: empty, not an image format SkiaSharp decodes,
    /// or truncated/corrupt (the whole image is decoded once to find out, so a cut-off file is not scored as if the
    /// missing part were grey).
    /// </summary>
    public static (int Width, int Height, string? Error) Probe(string path)
    {
        try
        {
            if (new FileInfo(path).Length == 0)
            {
                return (0, 0, "empty file");
            }
            using var codec = SKCodec.Create(path, out var result);
            if (codec is null)
            {
                return (0, 0, result == SKCodecResult.Unimplemented
                    ? "not an image in a format SkiaSharp reads (PNG, JPEG, BMP, GIF, WebP)"
                    : $"not a readable image ({result})");
            }
            var info = new SKImageInfo(codec.Info.Width, codec.Info.Height, SKColorType.Rgba8888, SKAlphaType.Premul);
            using var bitmap = new SKBitmap(info);
            var decoded = codec.GetPixels(info, bitmap.GetPixels());
            if (decoded != SKCodecResult.Success)
            {
                return (0, 0, decoded == SKCodecResult.IncompleteInput ? "truncated image (the file ends before the image does)" : $"corrupt image ({decoded})");
            }
            return (codec.Info.Width, codec.Info.Height, null);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return (0, 0, e.Message);
        }
    }
}
