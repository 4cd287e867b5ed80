namespace Rkde.MLNet.Files;

/// <summary>
/// Writes a file so that its path never holds a partial one: the content goes to a temporary name beside it, which is
/// renamed over the path only once complete (and checked, where the writer checks), and removed on any failure.
/// </summary>
internal static class AtomicFile
{
    /// <summary>Writes <paramref name="bytes"/> to <paramref name="path"/> atomically, creating its folder.</summary>
    public static void Write(string path, byte[] bytes) => Write(path, temporary => File.WriteAllBytes(temporary, bytes));

    /// <summary>
    /// Lets <paramref name="writeTemporary"/> write (and check) a temporary file beside <paramref name="path"/>, then renames
    /// it into place; an exception from the writer leaves <paramref name="path"/> as it was.
    /// </summary>
    public static void Write(string path, Action<string> writeTemporary)
    {
        string full = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        // Unique per call, so concurrent writers of one path never share a temporary file.
        string temporary = Path.Combine(Path.GetDirectoryName(full)!, $".{Path.GetFileName(full)}.{Guid.NewGuid():N}.tmp");
        try
        {
            writeTemporary(temporary);
            File.Move(temporary, full, overwrite: true);
        }
        finally
        {
            File.Delete(temporary);
        }
    }
}
