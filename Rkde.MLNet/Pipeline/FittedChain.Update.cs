using System.IO.Compression;
using Google.Protobuf;
using Microsoft.ML;
using Microsoft.ML.Data;
using Onnx;
using Rkde.MLNet.Density;
using Rkde.MLNet.Onnx;

namespace Rkde.MLNet.Pipeline;

internal static partial class FittedChain
{
    /// <summary>
    /// Takes <paramref name="model"/> apart for an update (see <see cref="Updatable"/>). Throws <see cref="InvalidDataException"/>
    /// whose message completes "The model …" when it holds no R-KDE graph to update, or more than one.
    /// </summary>
    public static Updatable Open(ModelOperationsCatalog catalog, ITransformer model)
    {
        using var buffer = new MemoryStream();
        catalog.Save(model, null, buffer);
        byte[] zip = buffer.ToArray();
        var graphs = new List<(string Entry, ModelProto Graph, string Stage)>();
        using (var archive = new ZipArchive(new MemoryStream(zip), ZipArchiveMode.Read))
        {
            foreach (var entry in archive.Entries.Where(e => e.Name == "OnnxModel"))
            {
                using var reader = new BinaryReader(entry.Open());
                var graph = ModelProto.Parser.ParseFrom(reader.ReadBytes(reader.ReadInt32()));
                string? stage = graph.MetadataProps.FirstOrDefault(p => p.Key == OnnxModelContract.StageKey)?.Value;
                if (stage is FittedGraph.FittedStage or FittedGraph.DensityStage)
                    graphs.Add((entry.FullName, graph, stage));
            }
        }
        if (graphs.Count == 0)
            throw new InvalidDataException("holds no R-KDE density graph: it is not a model fitted by RkdeAnomaly or RkdeDensity");
        if (graphs.Count > 1)
            throw new InvalidDataException($"holds {graphs.Count} R-KDE density graphs; update a model with one density stage");
        var (name, found, kind) = graphs[0];
        return new Updatable(catalog, zip, name, found, kind == FittedGraph.FittedStage);
    }

    /// <summary>
    /// A fitted model taken apart for an update: its density graph, the features of new images computed as the model computes
    /// them, and the model put together again with a new density. The one place besides <see cref="Build"/> that knows the
    /// chain's shape.
    /// </summary>
    /// <remarks>
    /// A model of RkdeAnomaly is the chain <see cref="Build"/> makes over one composed graph (<see cref="FittedGraph"/>): the graph
    /// is split into front and density, new images' features come from the front (<see cref="Front"/>), and the updated model is
    /// <see cref="Build"/> over the front composed with the new density, so its columns, IsAnomaly and threshold come from the
    /// graph's metadata as a fitted model's do. A model of RkdeDensity alone is a chain whose OnnxTransformer runs the density
    /// graph on a features column the input holds; its updated model is the saved .zip with that graph's entry replaced (each
    /// OnnxTransformer's graph is an entry "…/OnnxModel": an Int32 length, then the bytes), loaded back, so every other stage
    /// stays byte for byte. Either way the new model shares no ONNX session with the old one.
    /// </remarks>
    public sealed class Updatable
    {
        private readonly ModelOperationsCatalog _catalog;
        private readonly byte[] _zip;
        private readonly string _entry;
        private readonly ModelProto _graph;
        private readonly byte[]? _front;
        private readonly TrainingFront? _training;
        private readonly ChainColumns? _columns;
        private readonly (int Width, int Height) _size;

        internal Updatable(ModelOperationsCatalog catalog, byte[] zip, string entry, ModelProto graph, bool composed)
        {
            _catalog = catalog;
            _zip = zip;
            _entry = entry;
            _graph = graph;
            if (composed)
            {
                var (front, density) = FittedGraph.Split(graph.ToByteArray());
                _front = front;
                try
                {
                    _training = TrainingFront.Of(graph, front);
                }
                catch (InvalidDataException e)
                {
                    throw new InvalidDataException($"cannot be updated: {e.Message}", e);
                }
                DensityBytes = density;
                Density = ModelProto.Parser.ParseFrom(density);
                _columns = ChainColumns.FromMetadata(graph);
                _size = InputSize(graph);
                FeaturesColumn = FittedGraph.Features;
            }
            else
            {
                DensityBytes = graph.ToByteArray();
                Density = graph;
                FeaturesColumn = graph.Graph.Input.Single().Name;
            }
        }

        /// <summary>The density graph (for the composed model, as <see cref="FittedGraph.Split"/> gives it back: input "features", output "image_score").</summary>
        public ModelProto Density { get; }

        /// <summary><see cref="Density"/> serialized, for a session that scores new images as the model stands.</summary>
        public byte[] DensityBytes { get; }

        /// <summary>The column holding one image's region features, D values per region.</summary>
        public string FeaturesColumn { get; }

        /// <summary>
        /// Where the model's density was fitted on other regions than it scores: which of an image's regions it scores (its
        /// held-out score is taken on those), and the columns of their boxes and proposal scores in <see cref="Features"/>'s
        /// output; null otherwise.
        /// </summary>
        public RegionFeatureColumn.Scoring? Scoring => _training?.Scoring;

        /// <summary>Whether the model starts from image paths (RkdeAnomaly), not from features (RkdeDensity).</summary>
        public bool ReadsImages => _front is not null;

        /// <summary>The column of image paths the model reads (null for a density model).</summary>
        public string? ImageColumn => _columns?.ImagePath;

        /// <summary>The folder the model's image loader resolves paths against (null: as given).</summary>
        public string? ImageFolder => _columns?.ImageFolder;

        /// <summary>
        /// The region features of <paramref name="input"/>'s images in <see cref="FeaturesColumn"/>, computed by the model's
        /// own front (lazily, as ML.NET does), with the training filter's regions where the model was fitted on those (and
        /// then the columns <see cref="Scoring"/> names too); the input itself for a density model.
        /// </summary>
        /// <exception cref="ArgumentOutOfRangeException">The input lacks the column the model reads (the message names it).</exception>
        public IDataView Features(IDataView input)
        {
            if (_front is null || input.Schema.GetColumnOrNull(FeaturesColumn) is not null)
            {
                return input.Schema.GetColumnOrNull(FeaturesColumn) is not null ? input
                    : throw new ArgumentOutOfRangeException(nameof(input), $"The input has no column '{FeaturesColumn}'.");
            }
            if (input.Schema.GetColumnOrNull(_columns!.ImagePath) is null)
                throw new ArgumentOutOfRangeException(nameof(input), $"The input has no column '{_columns.ImagePath}' of image paths.");
            var transforms = new MLContext(seed: 0).Transforms;
            return Front(transforms, _columns, _size.Width, _size.Height, _training?.Front ?? _front, null, false, withBoxes: _training is not null)
                .Fit(input).Transform(input);
        }

        /// <summary>
        /// The model with <paramref name="density"/> (and <paramref name="threshold"/>, for a model that has one) in place of its
        /// density, loaded as a new model; <paramref name="input"/> is data of the model's input schema (its image paths).
        /// </summary>
        public ITransformer WithDensity(KdeDensityModel density, ImageThreshold? threshold, IDataView input)
        {
            if (_front is not null)
            {
                byte[] composed = FittedGraph.Compose(_front, DensityGraph.Build(density, threshold: threshold));
                return Build(new MLContext(seed: 0).Transforms, input, composed, null, false);
            }
            var names = new DensityGraphNames();
            byte[] graph = OnnxModelContract.Emitted("density graph", DensityGraph.Build(density, names, threshold), FittedGraph.DensityStage).Rewire(
                [(names.Features, FeaturesColumn, InputDimensions())],
                Wiring().Select(w => (w.Tensor, w.Column, (object[]?)null)));
            using var edited = new MemoryStream();
            edited.Write(_zip);
            using (var archive = new ZipArchive(edited, ZipArchiveMode.Update, leaveOpen: true))
            {
                archive.GetEntry(_entry)!.Delete();
                using var writer = new BinaryWriter(archive.CreateEntry(_entry).Open());
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
            foreach (var output in _graph.Graph.Output)
            {
                var identity = _graph.Graph.Node.LastOrDefault(n => n.OpType == "Identity" && n.Output.Contains(output.Name) && n.Name.StartsWith("rkde_wire_", StringComparison.Ordinal));
                yield return (identity?.Input[0] ?? output.Name, output.Name);
            }
        }

        /// <summary>
        /// The saved density graph's input as declared: [1, N, D] for a column of variable length, or with the region count fixed
        /// for a fixed-size column (OnnxTransformer infers a symbolic dimension from variable-length vectors only).
        /// </summary>
        private object[] InputDimensions() => _graph.Graph.Input.Single().Type.TensorType.Shape.Dim
            .Select(d => d.ValueCase == TensorShapeProto.Types.Dimension.ValueOneofCase.DimValue ? d.DimValue : (object)d.DimParam)
            .ToArray();
    }
}
