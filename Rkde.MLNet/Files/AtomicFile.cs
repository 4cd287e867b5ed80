namespace Rkde.MLNet.Files;

/// <summary>
/// Writes a file so that its path holds either the old content or the complete new one, never a part: the content goes to
/// a temporary file beside it, which is renamed over the path (atomic within a folder) only once complete, flushed and,
/// where the writer checks it, checked; on any failure the old file stays and the temporary one is removed.
/// </summary>
/// <remarks>The CLI compiles this same file (linked), as it uses only the library's public surface.</remarks>
internal static class AtomicFile
{
    /// <summary>Writes <paramref name="bytes"/> to <paramref name="path"/>, creating its folder.</summary>
    public static void Write(string path, byte[] bytes) => Write(path, stream => stream.Write(bytes));

    /// <summary>Writes <paramref name="path"/> with <paramref name="write"/>, flushed to disk before the rename.</summary>
    public static void Write(string path, Action<Stream> write) => WriteFile(path, temporary =>
    {
        using var stream = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write);
        write(stream);
        stream.Flush(flushToDisk: true);
    });

    /// <summary>
    /// Lets <paramref name="writeTemporary"/> write (and check) a temporary file beside <paramref name="path"/>, then renames
    /// it into place; an exception from the writer leaves <paramref name="path"/> as it was.
    /// </summary>
    public static void WriteFile(string path, Action<string> writeTemporary)
    {
        string full = Path.GetFullPath(path);
        string folder = Path.GetDirectoryName(full)!;
        Directory.CreateDirectory(folder);
        // Unique per call, so concurrent writers of one path never share a temporary file.
        string temporary = Path.Combine(folder, $".{Path.GetFileName(full)}.{Guid.NewGuid():N}.tmp");
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
