using System.IO.Compression;
using Google.Protobuf;
using Microsoft.ML;
using Onnx;
using Rkde.MLNet.Onnx;
using Rkde.MLNet.Pipeline;
using Rkde.MLNet.Files;

namespace Rkde.MLNet;

/// <summary>Loading, exporting and updating saved R-KDE models on <c>mlContext.Model</c>, with errors that name the file and the fix.</summary>
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

    /// <summary>
    /// Writes the model saved at <paramref name="modelPath"/> (fitted with <see cref="RkdeCatalog.RkdeAnomaly"/>) as one
    /// self-contained ONNX file at <paramref name="onnxPath"/>, for ONNX Runtime in any language. Single image (default): input
    /// <c>image</c> uint8 [H, W, 3] RGB of any size, stretched inside the graph to the model input size as the .zip does;
    /// outputs <c>boxes</c> float [N, 4] (x1, y1, x2, y2 in the input image's pixels), <c>box_scores</c> float [N] (highest
    /// first), <c>score</c> float [1] and <c>is_anomaly</c> bool [1] (score ≥ the stored threshold). With
    /// <paramref name="batched"/>: input <c>images</c> uint8 [B, H, W, 3] at the model input size, outputs padded to
    /// MaxDetectionsPerImage boxes per image with a <c>box_count</c> [B]. The file's metadata holds the format version, the
    /// input size and resize method, every option, the threshold and its false-positive rate, the models and their licence.
    /// The file is written to a temporary name beside it and then renamed, so a failed export leaves no partial file.
    /// </summary>
    /// <exception cref="FileNotFoundException">No file at <paramref name="modelPath"/>.</exception>
    /// <exception cref="InvalidDataException">The file is not a model .zip, not an RkdeAnomaly model, or of another format version.</exception>
    public static void ExportRkdeOnnx(this ModelOperationsCatalog catalog, string modelPath, string onnxPath, bool batched)
    {
        ArgumentNullException.ThrowIfNull(onnxPath);
        byte[] bytes = ExportBytes(catalog, modelPath, batched);
        AtomicFile.Write(onnxPath, bytes);
    }

    /// <summary>The single-image export (<see cref="ExportRkdeOnnx(ModelOperationsCatalog, string, string, bool)"/> with batched false).</summary>
    public static void ExportRkdeOnnx(this ModelOperationsCatalog catalog, string modelPath, string onnxPath) =>
        ExportRkdeOnnx(catalog, modelPath, onnxPath, batched: false);

    /// <summary>As <see cref="ExportRkdeOnnx(ModelOperationsCatalog, string, string, bool)"/>, writing the ONNX model to <paramref name="destination"/>.</summary>
    public static void ExportRkdeOnnx(this ModelOperationsCatalog catalog, string modelPath, Stream destination, bool batched)
    {
        ArgumentNullException.ThrowIfNull(destination);
        destination.Write(ExportBytes(catalog, modelPath, batched));
    }

    /// <summary>
    /// Reads what the RkdeAnomaly model saved at <paramref name="modelPath"/> records about itself (threshold, input size,
    /// description), after the checks <see cref="LoadRkdeModel"/> makes; the model is not loaded.
    /// </summary>
    /// <exception cref="FileNotFoundException">No file at <paramref name="modelPath"/>.</exception>
    /// <exception cref="InvalidDataException">The file is not a model .zip, not an RkdeAnomaly model, or of another format version.</exception>
    public static RkdeModelInfo ReadRkdeModelInfo(this ModelOperationsCatalog catalog, string modelPath)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        var composed = ModelProto.Parser.ParseFrom(FittedGraphOf(modelPath));
        var description = FittedGraph.Description(composed).ToDictionary(e => e.Key, e => e.Value);
        var (width, height) = FittedChain.InputSize(composed);
        double Number(string key) => description.TryGetValue(key, out var text)
            ? double.Parse(text, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture)
            : throw new InvalidDataException($"Model '{modelPath}' does not record '{key}'; fit and save it again.");
        return new RkdeModelInfo((float)Number(Density.ImageThreshold.ValueKey), Number(Density.ImageThreshold.FalsePositiveRateKey),
            (int)Number(Density.ImageThreshold.ImagesKey), Number(Density.ImageThreshold.TrainingFalsePositiveRateKey), width, height, description);
    }

    private static byte[] ExportBytes(ModelOperationsCatalog catalog, string modelPath, bool batched)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        return OnnxExport.Build(FittedGraphOf(modelPath), batched);
    }

    /// <summary>
    /// The composed graph (<see cref="FittedGraph"/>) of the RkdeAnomaly model saved at <paramref name="path"/>, after the checks
    /// <see cref="LoadRkdeModel"/> makes, with an error naming the file when it holds none.
    /// </summary>
    internal static byte[] FittedGraphOf(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (!File.Exists(path))
            throw new FileNotFoundException($"Model '{path}' does not exist; fit RkdeAnomaly and save it there with mlContext.Model.Save.", path);
        var graphs = CheckGraphs(path);
        var fitted = OnnxGraphs(path).Where(g => Stage(g.Model) == FittedGraph.FittedStage).ToList();
        if (graphs.FirstOrDefault(g => g.Version == "1") is { Entry: not null } old)
            throw new InvalidDataException(
                $"Model '{path}' holds an R-KDE {old.Stage} graph of rkde_format_version '1' (entry {old.Entry}): version 1 models are chains of four ONNX stages " +
                "with no threshold, from before the fitted model was one graph; they load and score, but fit and save the model again with this version to export it or read its threshold.");
        if (fitted.Count != 1)
            throw new InvalidDataException(
                $"Model '{path}' holds {(fitted.Count == 0 ? "no" : fitted.Count.ToString(System.Globalization.CultureInfo.InvariantCulture))} fitted R-KDE graph " +
                "(rkde_stage 'fitted'): only a model fitted with RkdeAnomaly is one graph that can be exported; a chain of stage-level estimators (RkdeDensity) is not.");
        return fitted[0].Model.ToByteArray();
    }

    private static string? Stage(ModelProto model) => model.MetadataProps.FirstOrDefault(p => p.Key == OnnxModelContract.StageKey)?.Value;

    /// <summary>Checks the R-KDE graphs in the .zip: there is a fitted or density graph, and every one has our format version.</summary>
    private static List<(string Entry, string Stage, string Version)> CheckGraphs(string path)
    {
        var graphs = EmittedGraphs(path);
        foreach (var (entry, stage, version) in graphs.Where(g => !OnnxModelContract.ReadableFormatVersions.Contains(g.Version)))
            throw new InvalidDataException(
                $"Model '{path}' holds an R-KDE {stage} graph of rkde_format_version '{version}' (entry {entry}); this Rkde.MLNet reads versions " +
                $"{string.Join(", ", OnnxModelContract.ReadableFormatVersions)}. Fit and save the model again with this version, or score it with the version that saved it.");
        if (!graphs.Any(g => g.Stage is FittedGraph.FittedStage or FittedGraph.DensityStage))
            throw new InvalidDataException(
                $"Model '{path}' is not an R-KDE model: it holds no fitted R-KDE graph. Give the .zip saved after fitting RkdeAnomaly, or load other models with mlContext.Model.Load.");
        return graphs;
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
