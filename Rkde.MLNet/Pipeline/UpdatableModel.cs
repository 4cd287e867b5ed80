using System.IO.Compression;
using Google.Protobuf;
using Microsoft.ML;
using Microsoft.ML.Data;
using Onnx;
using Rkde.MLNet.Density;
using Rkde.MLNet.Onnx;

namespace Rkde.MLNet.Pipeline;

/// <summary>
/// The one place that knows how a fitted R-KDE model is laid out, for updating it: where its density graph is, how to
/// compute the region features of new images with the model's own stages, and how to put a new density graph in its place.
/// Everything else about an update (reading the state, sampling, the bandwidth) works on the density graph alone.
/// </summary>
/// <remarks>
/// Today's layout: a chain of stock ML.NET transformers, one of them an OnnxTransformer over the density graph
/// (<see cref="DensityGraph"/>, stamped rkde_stage = density), which reads the region features from a column that the
/// transformers before it compute from the image paths (or that the input holds, for a model of the density stage alone).
/// The model is read as <c>Model.Save</c> writes it (each OnnxTransformer's graph is an entry "…/OnnxModel": an Int32
/// length, then the bytes), and the updated model is that .zip with the density entry replaced, loaded back: every other
/// stage stays byte for byte, and the new model shares no ONNX session with the old one.
/// </remarks>
internal sealed class UpdatableModel
{
    private readonly ModelOperationsCatalog _catalog;
    private readonly ITransformer _model;
    private readonly byte[] _zip;
    private readonly string _densityEntry;
    private readonly ModelProto _density;

    private UpdatableModel(ModelOperationsCatalog catalog, ITransformer model, byte[] zip, string densityEntry, ModelProto density)
    {
        _catalog = catalog;
        _model = model;
        _zip = zip;
        _densityEntry = densityEntry;
        _density = density;
        FeaturesColumn = density.Graph.Input.Single().Name;
        var loader = Leaves(model).OfType<ImageLoadingTransformer>().FirstOrDefault();
        ReadsImages = loader is not null;
        ImageFolder = loader?.ImageFolder;
    }

    /// <summary>The column the density graph reads: one image's region features, D values per region.</summary>
    public string FeaturesColumn { get; }

    /// <summary>Whether the model starts from image paths (RkdeAnomaly), not from features (RkdeDensity).</summary>
    public bool ReadsImages { get; }

    /// <summary>The folder the model's image loader resolves paths against (null: as given).</summary>
    public string? ImageFolder { get; }

    /// <summary>
    /// Reads the layout of <paramref name="model"/>. Throws <see cref="InvalidDataException"/> whose message completes "The
    /// model …" when it holds no R-KDE density graph or more than one.
    /// </summary>
    public static UpdatableModel Open(ModelOperationsCatalog catalog, ITransformer model)
    {
        using var buffer = new MemoryStream();
        catalog.Save(model, null, buffer);
        byte[] zip = buffer.ToArray();
        var densities = new List<(string Entry, ModelProto Graph)>();
        using (var archive = new ZipArchive(new MemoryStream(zip), ZipArchiveMode.Read))
        {
            foreach (var entry in archive.Entries.Where(e => e.Name == "OnnxModel"))
            {
                using var reader = new BinaryReader(entry.Open());
                var graph = ModelProto.Parser.ParseFrom(reader.ReadBytes(reader.ReadInt32()));
                if (graph.MetadataProps.Any(p => p.Key == OnnxModelContract.StageKey && p.Value == "density"))
                    densities.Add((entry.FullName, graph));
            }
        }
        if (densities.Count == 0)
            throw new InvalidDataException("holds no R-KDE density graph: it is not a model fitted by RkdeAnomaly or RkdeDensity");
        if (densities.Count > 1)
            throw new InvalidDataException($"holds {densities.Count} R-KDE density graphs; update a model with one density stage");
        return new UpdatableModel(catalog, model, zip, densities[0].Entry, densities[0].Graph);
    }

    /// <summary>The fitted density model the graph holds (see <see cref="DensityGraph.Read"/> for what it throws).</summary>
    public KdeDensityModel ReadDensity() => DensityGraph.Read(_density);

    /// <summary>
    /// The model's stages up to the one that computes <see cref="FeaturesColumn"/>, applied to <paramref name="input"/>
    /// (lazily, as ML.NET does); the input itself when it already holds that column.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">A stage cannot read the input (ML.NET's message names the column it lacks).</exception>
    public IDataView Features(IDataView input)
    {
        var data = input;
        foreach (var stage in Leaves(_model))
        {
            if (data.Schema.GetColumnOrNull(FeaturesColumn) is not null)
                break;
            data = stage.Transform(data);
        }
        if (data.Schema.GetColumnOrNull(FeaturesColumn) is null)
            throw new ArgumentOutOfRangeException(nameof(input), $"The model's stages compute no column '{FeaturesColumn}' from this input.");
        return data;
    }

    /// <summary>
    /// The model with <paramref name="density"/> in place of its density graph: emitted by <see cref="DensityGraph.Build"/>,
    /// reading and writing the same columns as the graph it replaces, loaded as a new model.
    /// </summary>
    public ITransformer WithDensity(KdeDensityModel density)
    {
        var names = new DensityGraphNames();
        byte[] graph = OnnxModelContract.Emitted("density graph", DensityGraph.Build(density, names), "density").Rewire(
            [(names.Features, FeaturesColumn, InputDimensions())],
            Wiring().Select(w => (w.Tensor, w.Column, (object[]?)null)));
        using var edited = new MemoryStream();
        edited.Write(_zip);
        using (var archive = new ZipArchive(edited, ZipArchiveMode.Update, leaveOpen: true))
        {
            archive.GetEntry(_densityEntry)!.Delete();
            using var writer = new BinaryWriter(archive.CreateEntry(_densityEntry).Open());
            writer.Write(graph.Length);
            writer.Write(graph);
        }
        edited.Position = 0;
        return _catalog.Load(edited, out _);
    }

    /// <summary>
    /// The output columns of the saved density graph and the graph tensors behind them: Rewire writes each output column
    /// through an Identity node from its tensor (or names the tensor after the column).
    /// </summary>
    private IEnumerable<(string Tensor, string Column)> Wiring()
    {
        foreach (var output in _density.Graph.Output)
        {
            var identity = _density.Graph.Node.LastOrDefault(n => n.OpType == "Identity" && n.Output.Contains(output.Name) && n.Name.StartsWith("rkde_wire_", StringComparison.Ordinal));
            yield return (identity?.Input[0] ?? output.Name, output.Name);
        }
    }

    /// <summary>
    /// The saved density graph's input as declared: [1, N, D] for a column of variable length, or with the region count fixed
    /// for a fixed-size column (OnnxTransformer infers a symbolic dimension from variable-length vectors only).
    /// </summary>
    private object[] InputDimensions() => _density.Graph.Input.Single().Type.TensorType.Shape.Dim
        .Select(d => d.ValueCase == TensorShapeProto.Types.Dimension.ValueOneofCase.DimValue ? d.DimValue : (object)d.DimParam)
        .ToArray();

    /// <summary>The model's transformers in order, chains flattened.</summary>
    private static IEnumerable<ITransformer> Leaves(ITransformer model) =>
        model is IEnumerable<ITransformer> chain ? chain.SelectMany(Leaves) : [model];
}
