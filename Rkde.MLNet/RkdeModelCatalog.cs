using System.IO.Compression;
using Google.Protobuf;
using Microsoft.ML;
using Onnx;
using Rkde.MLNet.Onnx;

namespace Rkde.MLNet;

/// <summary>Loading saved R-KDE models on <c>mlContext.Model</c>, with errors that name the file and the fix.</summary>
public static partial class RkdeModelCatalog
{
    /// <summary>
    /// Loads a model saved with <c>mlContext.Model.Save</c> after fitting <see cref="RkdeCatalog.RkdeAnomaly"/> (or
    /// <see cref="RkdeCatalog.RkdeDensity"/>), as <see cref="ModelOperationsCatalog.Load(string, out DataViewSchema)"/> does,
    /// after checking that the file is a complete model .zip holding R-KDE's density graph, and that every graph R-KDE
    /// emitted carries the "rkde_format_version" this library reads.
    /// </summary>
    /// <exception cref="FileNotFoundException">No file at <paramref name="path"/>.</exception>
    /// <exception cref="InvalidDataException">The file is not a zip, is truncated or damaged, holds no R-KDE density graph, or a graph of another format version.</exception>
    public static ITransformer LoadRkdeModel(this ModelOperationsCatalog catalog, string path, out DataViewSchema inputSchema)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentNullException.ThrowIfNull(path);
        if (!File.Exists(path))
            throw new FileNotFoundException($"Model '{path}' does not exist; fit RkdeAnomaly and save it there with mlContext.Model.Save.", path);
        CheckGraphs(path);
        NativeRuntime.EnsureLoaded();
        try
        {
            return catalog.Load(path, out inputSchema);
        }
        catch (Exception e) when (e is FormatException or InvalidOperationException or InvalidDataException or EndOfStreamException)
        {
            throw new InvalidDataException($"Model '{path}' holds R-KDE graphs but ML.NET cannot load it ({e.Message}); save the model again.", e);
        }
    }

    /// <summary>Checks the R-KDE graphs in the .zip: there is a density graph, and every one has our format version.</summary>
    private static void CheckGraphs(string path)
    {
        var graphs = EmittedGraphs(path);
        foreach (var (entry, stage, version) in graphs.Where(g => !OnnxModelContract.ReadableFormatVersions.Contains(g.Version)))
            throw new InvalidDataException(
                $"Model '{path}' holds an R-KDE {stage} graph of rkde_format_version '{version}' (entry {entry}); this Rkde.MLNet reads versions " +
                $"{string.Join(" and ", OnnxModelContract.ReadableFormatVersions)}. Fit and save the model again with this version, or score it with the version that saved it.");
        if (!graphs.Any(g => g.Stage == "density"))
            throw new InvalidDataException(
                $"Model '{path}' is not an R-KDE model: it holds no R-KDE density graph. Give the .zip saved after fitting RkdeAnomaly, or load other models with mlContext.Model.Load.");
    }

    /// <summary>The graphs carrying "rkde_format_version" (user models do not).</summary>
    private static List<(string Entry, string Stage, string Version)> EmittedGraphs(string path)
    {
        try
        {
            var graphs = new List<(string, string, string)>();
            foreach (var (entry, model) in OnnxGraphs(path))
            {
                var meta = model.MetadataProps.ToDictionary(p => p.Key, p => p.Value);
                if (meta.TryGetValue(OnnxModelContract.FormatVersionKey, out var version))
                    graphs.Add((entry, meta.GetValueOrDefault(OnnxModelContract.StageKey) ?? "(unnamed)", version));
            }
            return graphs;
        }
        catch (Exception e) when (e is InvalidDataException or EndOfStreamException or InvalidProtocolBufferException or IOException)
        {
            throw new InvalidDataException(
                $"Model '{path}' is not a complete model .zip ({e.Message}): it may be truncated, damaged or not a model at all. Copy or save it again.", e);
        }
    }

    /// <summary>
    /// Every ONNX model of a saved ML.NET pipeline, in pipeline order: OnnxTransformer writes each to an entry
    /// "…/OnnxModel" as an Int32 length and the bytes. Throws the zip and protobuf readers' exceptions as they are.
    /// </summary>
    internal static List<(string Entry, ModelProto Model)> OnnxGraphs(string path)
    {
        using var zip = ZipFile.OpenRead(path);
        var graphs = new List<(string, ModelProto)>();
        foreach (var entry in zip.Entries.Where(e => e.Name == "OnnxModel").OrderBy(e => e.FullName, StringComparer.Ordinal))
        {
            using var reader = new BinaryReader(entry.Open());
            int length = reader.ReadInt32();
            if (length < 0 || length > entry.Length - sizeof(int))
                throw new InvalidDataException($"entry {entry.FullName} does not hold an ONNX model as ML.NET writes it");
            graphs.Add((entry.FullName, ModelProto.Parser.ParseFrom(reader.ReadBytes(length))));
        }
        return graphs;
    }
}
