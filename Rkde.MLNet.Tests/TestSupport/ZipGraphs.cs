using System.IO.Compression;
using Google.Protobuf;
using Onnx;

namespace Rkde.MLNet.Tests.TestSupport;

/// <summary>The ONNX graphs inside a saved model .zip, as ML.NET's OnnxTransformer writes them (an Int32 length, then the bytes).</summary>
internal static class ZipGraphs
{
    /// <summary>Changes the graph of <paramref name="stage"/> (its "rkde_stage" metadata) in place and returns its entry name.</summary>
    public static string Rewrite(string zipPath, string stage, Action<ModelProto> change)
    {
        using var zip = ZipFile.Open(zipPath, ZipArchiveMode.Update);
        var entry = zip.Entries.Where(e => e.Name == "OnnxModel").Single(e => Stage(Read(e)) == stage);
        string name = entry.FullName;
        var graph = Read(entry);
        change(graph);
        entry.Delete();
        using var writer = new BinaryWriter(zip.CreateEntry(name).Open());
        byte[] bytes = graph.ToByteArray();
        writer.Write(bytes.Length);
        writer.Write(bytes);
        return name;
    }

    public static ModelProto Read(ZipArchiveEntry entry)
    {
        using var reader = new BinaryReader(entry.Open());
        return ModelProto.Parser.ParseFrom(reader.ReadBytes(reader.ReadInt32()));
    }

    public static string? Stage(ModelProto graph) => graph.MetadataProps.FirstOrDefault(p => p.Key == "rkde_stage")?.Value;
}
