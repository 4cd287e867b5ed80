using System.IO.Compression;
using System.Security.Cryptography;
using Rkde.Orleans;

namespace Rkde.Orleans.Grains;

/// <summary>
/// A saved model .zip as content-addressed entries and back. ML.NET reads a model's entries by name, so a .zip written
/// again from the same entries loads as the original.
/// </summary>
internal static class ModelPackage
{
    /// <summary>Each entry of the .zip with its name, SHA-256 and bytes, in the archive's order.</summary>
    public static List<(ModelEntry Entry, byte[] Bytes)> Split(byte[] zip)
    {
        using var archive = new ZipArchive(new MemoryStream(zip, writable: false), ZipArchiveMode.Read);
        var parts = new List<(ModelEntry, byte[])>(archive.Entries.Count);
        foreach (var entry in archive.Entries)
        {
            using var stream = entry.Open();
            using var buffer = new MemoryStream((int)entry.Length);
            stream.CopyTo(buffer);
            byte[] bytes = buffer.ToArray();
            parts.Add((new ModelEntry(entry.FullName, Sha256(bytes), bytes.Length), bytes));
        }
        return parts;
    }

    /// <summary>The .zip of <paramref name="model"/>'s entries, given each entry's bytes; entries are stored, not compressed (they are read once, at load).</summary>
    public static MemoryStream Assemble(ModelReference model, IReadOnlyDictionary<string, byte[]> bytesByHash)
    {
        var stream = new MemoryStream();
        using (var archive = new ZipArchive(stream, ZipArchiveMode.Create, leaveOpen: true))
        {
            foreach (var entry in model.Entries)
            {
                using var target = archive.CreateEntry(entry.Name, CompressionLevel.NoCompression).Open();
                target.Write(bytesByHash[entry.Sha256]);
            }
        }
        stream.Position = 0;
        return stream;
    }

    /// <summary>SHA-256 of the bytes, in upper-case hex.</summary>
    public static string Sha256(byte[] bytes) => Convert.ToHexString(SHA256.HashData(bytes));
}
