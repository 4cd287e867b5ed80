namespace Rkde.Cli.Scoring;

/// <summary>Finding images in folders (whether they are readable is Rkde.MLNet's <c>ImageCheck</c>).</summary>
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
            .Where(IsImage)
            .OrderBy(f => Relative(folder, f), StringComparer.Ordinal)
            .ToList();
        if (files.Count == 0)
        {
            throw new CliException($"{optionName}: no images ({string.Join(", ", Extensions)}) in '{folder}' or its sub-folders.");
        }
        return files;
    }

    /// <summary>Whether <paramref name="path"/> has one of the image extensions.</summary>
    public static bool IsImage(string path) => Extensions.Contains(Path.GetExtension(path).ToLowerInvariant());

    /// <summary>The training folder: <c>DIR/train/good</c> for an MVTec AD category root, else DIR itself.</summary>
    public static string TrainingFolder(string dir)
    {
        string mvtec = Path.Combine(dir, "train", "good");
        return Directory.Exists(mvtec) ? mvtec : dir;
    }

    /// <summary>Path of <paramref name="file"/> relative to <paramref name="folder"/>, with '/' separators.</summary>
    public static string Relative(string folder, string file) => Path.GetRelativePath(folder, file).Replace('\\', '/');
}
