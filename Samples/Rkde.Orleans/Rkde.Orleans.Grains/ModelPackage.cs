using System.IO.Compression;
using System.Security.Cryptography;
using Rkde.Orleans;

namespace Rkde.Orleans.Grains;

/// <summary>
/// A saved model .zip as content-addressed chunks and back: each .zip entry cut into <see cref="ContentChunks"/>, each
/// chunk named by its SHA-256, so what models share (the trunk's weights inside every fitted graph) is stored once.
/// ML.NET reads a model's entries by name, so a .zip written again from the same entries loads as the original.
/// </summary>
internal static class ModelPackage
{
    /// <summary>
    /// The chunks of the .zip's entries with their entry's name, SHA-256 and bytes, in the archive's order and in order
    /// within an entry: consecutive chunks of one name make one entry.
    /// </summary>
    public static List<(ModelEntry Entry, byte[] Bytes)> Split(byte[] zip)
    {
        using var archive = new ZipArchive(new MemoryStream(zip, writable: false), ZipArchiveMode.Read);
        var parts = new List<(ModelEntry, byte[])>();
        foreach (var entry in archive.Entries)
        {
            using var stream = entry.Open();
            using var buffer = new MemoryStream((int)entry.Length);
            stream.CopyTo(buffer);
            byte[] bytes = buffer.ToArray();
            if (bytes.Length == 0)
            {
                parts.Add((new ModelEntry(entry.FullName, Sha256(bytes), 0), bytes));
                continue;
            }
            foreach (var (start, length) in ContentChunks.Split(bytes))
            {
                byte[] chunk = bytes.AsSpan(start, length).ToArray();
                parts.Add((new ModelEntry(entry.FullName, Sha256(chunk), length), chunk));
            }
        }
        return parts;
    }

    /// <summary>
    /// The .zip of <paramref name="model"/>'s entries, given each chunk's bytes by hash (consecutive chunks of one name
    /// joined into one entry); entries are stored, not compressed (they are read once, at load).
    /// </summary>
    public static MemoryStream Assemble(ModelReference model, IReadOnlyDictionary<string, byte[]> bytesByHash)
    {
        var stream = new MemoryStream();
        using (var archive = new ZipArchive(stream, ZipArchiveMode.Create, leaveOpen: true))
        {
            Stream? target = null;
            string? open = null;
            foreach (var entry in model.Entries)
            {
                if (!string.Equals(entry.Name, open, StringComparison.Ordinal))
                {
                    target?.Dispose();
                    target = archive.CreateEntry(entry.Name, CompressionLevel.NoCompression).Open();
                    open = entry.Name;
                }
                target!.Write(bytesByHash[entry.Sha256]);
            }
            target?.Dispose();
        }
        stream.Position = 0;
        return stream;
    }

    /// <summary>SHA-256 of the bytes, in upper-case hex.</summary>
    public static string Sha256(byte[] bytes) => Convert.ToHexString(SHA256.HashData(bytes));
}
