using System.Globalization;
using Google.Protobuf;
using Onnx;
using Rkde.MLNet.Checks;
using Rkde.MLNet.Density;
using Rkde.MLNet.Features;
using Rkde.MLNet.Onnx;
using Rkde.MLNet.Regions;
using DataType = Onnx.TensorProto.Types.DataType;

namespace Rkde.MLNet.Pipeline;

/// <summary>
/// The fitted R-KDE model as one ONNX graph: proposer, region filter, feature extractor and density in a single graph, so that
/// a saved model runs in one ONNX Runtime session (one thread pool, no copies of the feature maps between stages).
/// </summary>
/// <remarks>
/// <para>The graph has two parts, which <see cref="Compose"/> joins and <see cref="Split"/> separates again, so that code which
/// rewrites one part of a fitted model (an update of the density) can take the model apart and put it together.</para>
/// <para><b>Front</b> (built by <see cref="Front"/>; metadata <c>rkde_stage</c> = <c>front</c>): input <see cref="Pixels"/> float
/// [1, 3, H, W] (RGB in [0, 1], the model input size); outputs <see cref="Boxes"/> float [1, K, 4] (kept boxes x1, y1, x2, y2
/// divided by W and H), <see cref="PixelBoxes"/> [1, K, 4] (the same in model-input pixels), <see cref="RegionScores"/> [1, K]
/// (the proposer's scores, highest first) and <see cref="Features"/> [1, K, D] (each kept box's features, the density's input).
/// Inside, the proposer's tensors are prefixed "proposer/", the region filter's "regions/" and the feature extractor's
/// "features/". Its metadata describes the model: <see cref="InputSizeKey"/>, <see cref="ResizeKey"/>, the options
/// (<see cref="OptionPrefix"/> + option name), the proposer and feature models and their licence.</para>
/// <para><b>Density</b>: the graph <see cref="DensityGraph.Build"/> emits (metadata <c>rkde_stage</c> = <c>density</c>), input
/// "features" [1, N, D], outputs "box_scores", "log_density", "image_score" and, with a threshold, "is_anomaly".</para>
/// <para><b>Composed</b> (<c>rkde_stage</c> = <c>fitted</c>, graph "rkde_fitted"): the front's nodes, initializers and names
/// unchanged; the density's nodes, initializers, value_info and symbolic dimensions under <see cref="DensityPrefix"/> (its
/// initializer "points" is "density/points", its threshold "density/threshold"); "density/features" reads
/// <see cref="Features"/>. Outputs: the front's, then each density output as <see cref="DensityOutput"/> names it
/// (<see cref="BoxScores"/>, <see cref="ImageScore"/>, <see cref="IsAnomaly"/>, …). Metadata: <c>rkde_format_version</c>,
/// <c>rkde_stage</c>, each front entry as "front/" + key and each density entry as "density/" + key, in their order.</para>
/// <para>Both parts are raised to one default-domain opset (the highest of the parts, at least 18; see
/// <see cref="OnnxOpsetUpgrade"/>). <see cref="Split"/> of a composed graph gives back the front and the density as they went
/// in, at that opset: the same nodes, initializer names and values, inputs, outputs and metadata.</para>
/// <para>A saved model's composed graph is the .zip's one OnnxTransformer model (<c>RkdeModelCatalog.FittedGraphOf</c> reads it
/// and checks the file); <see cref="FittedChain.Build"/> turns a composed graph into the .zip's chain again, reading the column
/// names, input size and threshold from its metadata, so a rewritten model is saved with <c>Model.Save</c> as a fitted one.</para>
/// </remarks>
internal static class FittedGraph
{
    /// <summary>The composed graph's input, and the ML.NET column the chain feeds it from.</summary>
    public const string Pixels = InternalColumns.Prefix + "pixels";
    public const string Boxes = InternalColumns.Prefix + "boxes";
    public const string PixelBoxes = InternalColumns.Prefix + "pixel_boxes";
    public const string RegionScores = InternalColumns.Prefix + "region_scores";
    public const string Features = InternalColumns.Prefix + "features";
    public const string BoxScores = InternalColumns.Prefix + "box_scores";
    public const string IsAnomaly = InternalColumns.Prefix + "is_anomaly";

    /// <summary>The composed graph's image score [1] (the density's "image_score"): the column the identity regression reads.</summary>
    public const string ImageScore = ScalarScore.SlotColumn;

    public const string DensityPrefix = "density/";
    public const string FrontPrefix = "front/";

    public const string FrontStage = "front";
    public const string DensityStage = "density";
    public const string FittedStage = "fitted";

    /// <summary>Metadata of the front: the model input size "WxH".</summary>
    public const string InputSizeKey = "rkde_input_size";

    /// <summary>Metadata of the front: how images are brought to the input size.</summary>
    public const string ResizeKey = "rkde_resize";

    /// <summary>How the fitted chain resizes (ML.NET ResizeImages, Fill: SkiaSharp's nearest-neighbour sampling).</summary>
    public const string ResizeMethod = "stretch to the input size, nearest neighbour (ML.NET ResizeImages with ResizingKind.Fill)";

    /// <summary>Prefix of the front's metadata keys holding the R-KDE options (key = prefix + option name).</summary>
    public const string OptionPrefix = "rkde_option_";

    private const string FrontOutputsKey = "rkde_front_outputs";
    private const string DensityInputsKey = "rkde_density_inputs";
    private const string DensityOutputsKey = "rkde_density_outputs";
    private const string DensityGraphKey = "rkde_density_graph";
    private const string FrontGraphKey = "rkde_front_graph";

    /// <summary>The lowest opset of a composed graph: the density and region graphs are written for 18.</summary>
    public const int MinimumOpset = 18;

    /// <summary>
    /// Throws, naming the model and the fix, when <paramref name="model"/> (a user's proposer or feature model) cannot be
    /// composed into one graph (see <see cref="OnnxOpsetUpgrade.Check"/>); for checking user models when the estimator is built.
    /// </summary>
    public static void CheckComposable(OnnxModelContract model) =>
        OnnxOpsetUpgrade.Check(model.Model, Math.Max(MinimumOpset, OnnxOpsetUpgrade.DefaultOpset(model.Model)), "The " + model.Slot);

    /// <summary>The composed output name of density output <paramref name="name"/>.</summary>
    public static string DensityOutput(string name) => name == "image_score" ? ImageScore : InternalColumns.Prefix + name;

    /// <summary>
    /// The front: <paramref name="proposer"/> → the region filter for <paramref name="filter"/> → <paramref name="features"/>, as
    /// described on the class, with <paramref name="metadata"/> added to its own.
    /// </summary>
    public static byte[] Front(ProposerSlot proposer, RegionFilterOptions filter, FeatureSlot features, int width, int height,
        IEnumerable<(string Key, string Value)> metadata)
    {
        var regions = ModelProto.Parser.ParseFrom(RegionFilterGraph.Build(filter, width, height));
        var parts = new[] { proposer.Contract.Model, regions, features.Contract.Model };
        int opset = Math.Max(MinimumOpset, parts.Max(OnnxOpsetUpgrade.DefaultOpset));
        var p = OnnxOpsetUpgrade.Upgrade(parts[0], opset, $"The {ProposerSlot.SlotName}");
        var r = OnnxOpsetUpgrade.Upgrade(parts[1], opset, "The region filter graph");
        var f = OnnxOpsetUpgrade.Upgrade(parts[2], opset, $"The {FeatureSlot.SlotName}");

        var b = new OnnxGraphBuilder("rkde_front", opset, "front/");
        var graph = b.Graph;
        b.Input(Pixels, DataType.Float, 1L, 3L, (long)height, (long)width);
        var proposed = OnnxInliner.Into(graph, p, "proposer/", new Dictionary<string, string> { [ProposerSlot.Image] = Pixels }, $"The {ProposerSlot.SlotName}");
        var names = new RegionFilterGraphNames();
        var kept = OnnxInliner.Into(graph, r, "regions/", new Dictionary<string, string>
        {
            [names.Boxes] = proposed[ProposerSlot.Boxes],
            [names.Scores] = proposed[ProposerSlot.Scores],
        }, "The region filter graph");
        var featureInputs = new Dictionary<string, string> { [FeatureSlot.Boxes] = kept[names.KeptBoxes] };
        if (features.ReadsImage)
            featureInputs[FeatureSlot.Image] = Pixels;
        foreach (var extra in features.ExtraInputs)
            featureInputs[extra] = proposed[extra];
        var described = OnnxInliner.Into(graph, f, "features/", featureInputs, $"The {FeatureSlot.SlotName}");

        b.Output(Boxes, kept[names.KeptBoxesNormalized], DataType.Float, 1L, "K", 4L);
        b.Output(PixelBoxes, kept[names.KeptBoxes], DataType.Float, 1L, "K", 4L);
        b.Output(RegionScores, kept[names.KeptScores], DataType.Float, 1L, "K");
        b.Output(Features, described[FeatureSlot.Features], DataType.Float, 1L, "K", (long)features.FeatureDimension);
        OnnxInliner.Prune(graph);

        var model = b.Model;
        foreach (var import in OnnxInliner.Opsets([p, r, f]).Where(o => o.Domain.Length > 0))
            model.OpsetImport.Add(import);
        model.IrVersion = Math.Max(model.IrVersion, parts.Max(m => m.IrVersion));
        OnnxModelContract.Stamp(b, FrontStage);
        b.Metadata(InputSizeKey, string.Create(CultureInfo.InvariantCulture, $"{width}x{height}"));
        b.Metadata(ResizeKey, ResizeMethod);
        foreach (var (key, value) in metadata)
            b.Metadata(key, value);
        return b.ToBytes();
    }

    /// <summary>Joins a front and a density graph into the fitted model's graph (see the class).</summary>
    public static byte[] Compose(byte[] front, byte[] density)
    {
        var f = Parse(front, "front graph", FrontStage, currentOnly: true);
        var d = Parse(density, "density graph", DensityStage, currentOnly: true);
        int opset = Math.Max(MinimumOpset, Math.Max(OnnxOpsetUpgrade.DefaultOpset(f), OnnxOpsetUpgrade.DefaultOpset(d)));
        f = OnnxOpsetUpgrade.Upgrade(f, opset, "The front graph");
        d = OnnxOpsetUpgrade.Upgrade(d, opset, "The density graph");
        var densityInputs = NonInitializerInputs(d.Graph).ToList();
        if (densityInputs.Count != 1)
            throw new InvalidDataException($"The density graph has inputs {string.Join(", ", densityInputs.Select(i => $"'{i.Name}'"))}; expected one, its features.");
        if (!f.Graph.Output.Any(o => o.Name == Features))
            throw new InvalidDataException($"The front graph has no output '{Features}' for the density to read.");

        var model = new ModelProto
        {
            IrVersion = Math.Max(f.IrVersion, d.IrVersion),
            ProducerName = "Rkde.MLNet",
            Graph = new GraphProto { Name = "rkde_fitted" },
        };
        model.OpsetImport.AddRange(OnnxInliner.Opsets([f, d]));
        var graph = model.Graph;
        graph.Input.AddRange(f.Graph.Input.Select(i => i.Clone()));
        graph.Initializer.AddRange(f.Graph.Initializer.Select(i => i.Clone()));
        graph.SparseInitializer.AddRange(f.Graph.SparseInitializer.Select(i => i.Clone()));
        graph.Node.AddRange(f.Graph.Node.Select(n => n.Clone()));
        graph.ValueInfo.AddRange(f.Graph.ValueInfo.Select(v => v.Clone()));
        graph.Output.AddRange(f.Graph.Output.Select(o => o.Clone()));

        string input = densityInputs[0].Name, inner = DensityPrefix + input;
        graph.Node.Add(Identity("compose/" + inner, Features, inner));
        var declared = densityInputs[0].Clone();
        OnnxInliner.Rename(new GraphProto { ValueInfo = { declared } }, n => DensityPrefix + n, n => DensityPrefix + n, (n, _) => n);
        graph.ValueInfo.Add(declared);
        var outputs = OnnxInliner.Into(graph, d, DensityPrefix, new Dictionary<string, string> { [input] = inner }, "The density graph");
        foreach (var output in d.Graph.Output)
        {
            string name = DensityOutput(output.Name);
            if (graph.Output.Any(o => o.Name == name))
                throw new InvalidDataException($"The density graph's output '{output.Name}' would be '{name}', which the front already outputs.");
            graph.Node.Add(Identity("compose/" + name, outputs[output.Name], name));
            var info = output.Clone();
            info.Name = name;
            graph.Output.Add(info);
        }

        Add(model, OnnxModelContract.FormatVersionKey, OnnxModelContract.FormatVersion);
        Add(model, OnnxModelContract.StageKey, FittedStage);
        Add(model, FrontGraphKey, f.Graph.Name);
        Add(model, FrontOutputsKey, string.Join(',', f.Graph.Output.Select(o => o.Name)));
        Add(model, DensityGraphKey, d.Graph.Name);
        Add(model, DensityInputsKey, input);
        Add(model, DensityOutputsKey, string.Join(',', d.Graph.Output.Select(o => o.Name)));
        foreach (var entry in f.MetadataProps) Add(model, FrontPrefix + entry.Key, entry.Value);
        foreach (var entry in d.MetadataProps) Add(model, DensityPrefix + entry.Key, entry.Value);
        return model.ToByteArray();
    }

    /// <summary>Separates a composed graph into the front and the density graph it was composed of (see the class).</summary>
    public static (byte[] Front, byte[] Density) Split(byte[] composed)
    {
        var c = Parse(composed, "fitted model graph", FittedStage);
        var meta = c.MetadataProps.ToDictionary(p => p.Key, p => p.Value);
        string Required(string key) => meta.TryGetValue(key, out var v) ? v
            : throw new InvalidDataException($"The fitted model graph has no metadata '{key}'; it was not written by FittedGraph.Compose.");
        var densityInputs = Required(DensityInputsKey).Split(',');
        var densityOutputs = Required(DensityOutputsKey).Split(',');
        var frontOutputs = Required(FrontOutputsKey).Split(',');
        var graph = c.Graph;
        static bool InDensity(string name) => name.StartsWith(DensityPrefix, StringComparison.Ordinal);

        var density = NewModel(c, Required(DensityGraphKey));
        var dg = density.Graph;
        dg.Initializer.AddRange(graph.Initializer.Where(i => InDensity(i.Name)).Select(i => i.Clone()));
        dg.SparseInitializer.AddRange(graph.SparseInitializer.Where(s => InDensity(s.Values.Name)).Select(s => s.Clone()));
        dg.Node.AddRange(graph.Node.Where(n => InDensity(n.Name)).Select(n => n.Clone()));
        ValueInfoProto Declared(string name) => graph.ValueInfo.FirstOrDefault(v => v.Name == DensityPrefix + name)?.Clone()
            ?? throw new InvalidDataException($"The fitted model graph does not declare the density's tensor '{name}'.");
        dg.Input.AddRange(densityInputs.Select(Declared));
        dg.Output.AddRange(densityOutputs.Select(Declared));
        var io = densityInputs.Concat(densityOutputs).Select(n => DensityPrefix + n).ToHashSet();
        dg.ValueInfo.AddRange(graph.ValueInfo.Where(v => InDensity(v.Name) && !io.Contains(v.Name)).Select(v => v.Clone()));
        string Strip(string name) => InDensity(name) ? name[DensityPrefix.Length..] : name;
        OnnxInliner.Rename(dg, Strip, Strip, (n, _) => Strip(n));
        foreach (var entry in c.MetadataProps.Where(p => InDensity(p.Key)))
            density.MetadataProps.Add(new StringStringEntryProto { Key = Strip(entry.Key), Value = entry.Value });

        var front = NewModel(c, Required(FrontGraphKey));
        var fg = front.Graph;
        bool InFront(string node) => !InDensity(node) && !node.StartsWith("compose/", StringComparison.Ordinal);
        fg.Input.AddRange(graph.Input.Select(i => i.Clone()));
        fg.Initializer.AddRange(graph.Initializer.Where(i => !InDensity(i.Name)).Select(i => i.Clone()));
        fg.SparseInitializer.AddRange(graph.SparseInitializer.Where(s => !InDensity(s.Values.Name)).Select(s => s.Clone()));
        fg.Node.AddRange(graph.Node.Where(n => InFront(n.Name)).Select(n => n.Clone()));
        fg.ValueInfo.AddRange(graph.ValueInfo.Where(v => !InDensity(v.Name)).Select(v => v.Clone()));
        fg.Output.AddRange(frontOutputs.Select(n => graph.Output.FirstOrDefault(o => o.Name == n)?.Clone()
            ?? throw new InvalidDataException($"The fitted model graph lacks the front's output '{n}'.")));
        foreach (var entry in c.MetadataProps.Where(p => p.Key.StartsWith(FrontPrefix, StringComparison.Ordinal)))
            front.MetadataProps.Add(new StringStringEntryProto { Key = entry.Key[FrontPrefix.Length..], Value = entry.Value });
        return (front.ToByteArray(), density.ToByteArray());
    }

    /// <summary>
    /// The model's description from a composed graph's metadata: the front's and then the density's entries without their
    /// prefixes, leaving out each part's format version and stage.
    /// </summary>
    public static IEnumerable<(string Key, string Value)> Description(ModelProto composed)
    {
        foreach (var prefix in new[] { FrontPrefix, DensityPrefix })
        {
            foreach (var entry in composed.MetadataProps.Where(p => p.Key.StartsWith(prefix, StringComparison.Ordinal)))
            {
                string key = entry.Key[prefix.Length..];
                if (key is not (OnnxModelContract.FormatVersionKey or OnnxModelContract.StageKey))
                    yield return (key, entry.Value);
            }
        }
    }

    /// <summary>The metadata of a graph as a dictionary.</summary>
    public static Dictionary<string, string> Metadata(ModelProto model) => model.MetadataProps.ToDictionary(p => p.Key, p => p.Value);

    /// <summary>
    /// The value option <paramref name="name"/> had when the composed graph was fitted (its front metadata,
    /// <see cref="OptionPrefix"/> + name; "" for a null option), or null when the graph does not record it.
    /// </summary>
    public static string? RecordedOption(ModelProto composed, string name) =>
        Metadata(composed).TryGetValue(FrontPrefix + OptionPrefix + name, out var value) ? value : null;

    /// <summary>The composed graph's threshold (<see cref="ImageThreshold.ValueKey"/> under the density prefix), or null when it has none.</summary>
    public static float? Threshold(ModelProto composed) =>
        Metadata(composed).TryGetValue(DensityPrefix + ImageThreshold.ValueKey, out var text)
            ? (float)double.Parse(text, NumberStyles.Float, CultureInfo.InvariantCulture)
            : null;

    /// <summary>The graph, checked to be R-KDE's of a readable format version and of <paramref name="stage"/>.</summary>
    /// <remarks>Reading (split, chain, export) takes every readable version; composing takes only the current one (<paramref name="currentOnly"/>), so a composed graph is never stamped with a version its parts do not have.</remarks>
    public static ModelProto Parse(byte[] bytes, string what, string stage, bool currentOnly = false)
    {
        ModelProto model;
        try
        {
            model = ModelProto.Parser.ParseFrom(bytes);
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new InvalidDataException($"The {what} is not a readable ONNX model: {e.Message}", e);
        }
        var meta = Metadata(model);
        IReadOnlyList<string> versions = currentOnly ? [OnnxModelContract.FormatVersion] : OnnxModelContract.ReadableFormatVersions;
        if (!meta.TryGetValue(OnnxModelContract.FormatVersionKey, out var version) || !versions.Contains(version))
            throw new InvalidDataException(
                $"The {what} carries rkde_format_version '{version ?? "(none)"}'; this Rkde.MLNet " + (currentOnly ? "composes" : "reads") +
                $" version{(versions.Count > 1 ? "s" : "")} {string.Join(", ", versions)}.");
        if (!meta.TryGetValue(OnnxModelContract.StageKey, out var s) || s != stage)
            throw new InvalidDataException($"The {what} carries rkde_stage '{s ?? "(none)"}'; expected '{stage}'.");
        return model;
    }

    private static IEnumerable<ValueInfoProto> NonInitializerInputs(GraphProto graph)
    {
        var initializers = graph.Initializer.Select(i => i.Name).ToHashSet();
        return graph.Input.Where(i => !initializers.Contains(i.Name));
    }

    private static ModelProto NewModel(ModelProto like, string graphName)
    {
        var model = new ModelProto { IrVersion = like.IrVersion, ProducerName = like.ProducerName, Graph = new GraphProto { Name = graphName } };
        model.OpsetImport.AddRange(like.OpsetImport.Select(o => o.Clone()));
        return model;
    }

    private static NodeProto Identity(string name, string from, string to)
    {
        var node = new NodeProto { OpType = "Identity", Name = name };
        node.Input.Add(from);
        node.Output.Add(to);
        return node;
    }

    private static void Add(ModelProto model, string key, string value) =>
        model.MetadataProps.Add(new StringStringEntryProto { Key = key, Value = value });
}
