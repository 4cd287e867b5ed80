using System.Globalization;
using Google.Protobuf;
using Onnx;
using DataType = Onnx.TensorProto.Types.DataType;

namespace Rkde.MLNet.Onnx;

/// <summary>
/// A user ONNX model checked against one of R-KDE's model slots, and rewritten so that its tensors read and write
/// pipeline columns of our choosing (Identity nodes at the edges, so the graph inside is untouched).
/// </summary>
internal sealed class OnnxModelContract
{
    private readonly ModelProto _model;
    private readonly Dictionary<string, ValueInfoProto> _inputs;
    private readonly Dictionary<string, ValueInfoProto> _outputs;

    private OnnxModelContract(string slot, ModelProto model)
    {
        Slot = slot;
        _model = model;
        var initializers = model.Graph.Initializer.Select(i => i.Name).ToHashSet();
        _inputs = model.Graph.Input.Where(i => !initializers.Contains(i.Name)).ToDictionary(i => i.Name);
        _outputs = model.Graph.Output.ToDictionary(o => o.Name);
    }

    /// <summary>The slot's name in messages ("proposer model", "feature model", …).</summary>
    public string Slot { get; }

    public IEnumerable<string> InputNames => _inputs.Keys;

    /// <summary>The checked model itself (not to be changed: clone it first).</summary>
    public ModelProto Model => _model;

    public IEnumerable<string> OutputNames => _outputs.Keys;

    /// <summary>Reads a model from a file path or bytes (exactly one of them may be given; both null → <paramref name="fallback"/>).</summary>
    public static OnnxModelContract Load(string slot, string pathOption, string? path, string bytesOption, byte[]? bytes, Func<byte[]> fallback)
    {
        if (path is not null && bytes is not null)
            throw new ArgumentException($"Both {pathOption} and {bytesOption} are set: give the {slot} one way only.", pathOption);
        if (path is not null && !File.Exists(path))
            throw new FileNotFoundException($"{pathOption} = '{path}' does not exist: point it at the {slot}'s .onnx file, or leave it null for the default model.", path);
        byte[] data = bytes ?? (path is not null ? File.ReadAllBytes(path) : fallback());
        ModelProto model;
        try
        {
            model = ModelProto.Parser.ParseFrom(data);
        }
        catch (InvalidProtocolBufferException e)
        {
            string source = path is not null ? $"{pathOption} = '{path}'" : bytes is not null ? bytesOption : $"the default {slot}";
            throw new InvalidDataException($"The {slot} ({source}) is not a readable ONNX model: {e.Message}", e);
        }
        if (model.Graph is null)
            throw new InvalidDataException($"The {slot} has no graph.");
        return new OnnxModelContract(slot, model);
    }

    /// <summary>Wraps bytes R-KDE emitted itself and checks their "rkde_format_version" and "rkde_stage" metadata.</summary>
    public static OnnxModelContract Emitted(string slot, byte[] bytes, string stage)
    {
        var model = ModelProto.Parser.ParseFrom(bytes);
        var meta = model.MetadataProps.ToDictionary(p => p.Key, p => p.Value);
        if (!meta.TryGetValue(FormatVersionKey, out var version) || version != FormatVersion)
            throw new InvalidDataException(
                $"The {slot} carries rkde_format_version '{version ?? "(none)"}'; this Rkde.MLNet reads version {FormatVersion}.");
        if (!meta.TryGetValue(StageKey, out var s) || s != stage)
            throw new InvalidDataException($"The {slot} carries rkde_stage '{s ?? "(none)"}'; expected '{stage}'.");
        return new OnnxModelContract(slot, model);
    }

    public const string FormatVersionKey = "rkde_format_version";
    /// <summary>
    /// The version every graph R-KDE emits, one number per saved shape: 1, a chain of four ONNX stages (no threshold);
    /// 2, one fitted graph (proposer, filter, features, density) with a held-out threshold; 3, that graph with the density's
    /// update state (projection apart from the kept sample, regions seen, sampler state, the threshold's held-out scores).
    /// </summary>
    public const string FormatVersion = "3";

    /// <summary>The versions a saved model may carry and still be loaded and scored; only <see cref="FormatVersion"/> can be updated.</summary>
    public static readonly IReadOnlyList<string> ReadableFormatVersions = ["1", "2", FormatVersion];
    public const string StageKey = "rkde_stage";

    /// <summary>Writes the metadata every graph R-KDE emits: <see cref="FormatVersion"/> and the stage it implements.</summary>
    public static void Stamp(OnnxGraphBuilder graph, string stage)
    {
        graph.Metadata(FormatVersionKey, FormatVersion);
        graph.Metadata(StageKey, stage);
    }

    public bool HasInput(string name) => _inputs.ContainsKey(name);

    /// <summary>The value of a metadata entry, or null.</summary>
    public string? Metadata(string key) => _model.MetadataProps.FirstOrDefault(p => p.Key == key)?.Value;

    public bool HasOutput(string name) => _outputs.ContainsKey(name);

    /// <summary>The declared dimensions of an input or output: a number, or -1 for a symbolic or missing one.</summary>
    public long[] Dims(string name)
    {
        var info = _inputs.GetValueOrDefault(name) ?? _outputs[name];
        var shape = info.Type?.TensorType?.Shape;
        return shape is null ? [] : shape.Dim.Select(d => d.ValueCase == TensorShapeProto.Types.Dimension.ValueOneofCase.DimValue ? d.DimValue : -1).ToArray();
    }

    public DataType ElementType(string name)
    {
        var info = _inputs.GetValueOrDefault(name) ?? _outputs[name];
        return (DataType)(info.Type?.TensorType?.ElemType ?? 0);
    }

    /// <summary>Requires a float input or output with the given dimensions (-1: any size) and names all three in the error.</summary>
    public void Require(string name, bool isInput, params long[] expected)
    {
        string kind = isInput ? "input" : "output";
        string expectedText = $"float {Describe(expected)}";
        if (!(isInput ? _inputs : _outputs).ContainsKey(name))
        {
            var have = string.Join(", ", (isInput ? _inputs : _outputs).Keys.Select(k => $"'{k}'"));
            throw new InvalidOperationException(
                $"The {Slot} has no {kind} tensor '{name}' (expected {expectedText}); its {kind}s are {(have.Length == 0 ? "none" : have)}. " +
                "Rename the tensor when exporting the model (see the README's \"Bring your own models\").");
        }
        var type = ElementType(name);
        var dims = Dims(name);
        bool ok = type == DataType.Float && dims.Length == expected.Length
            && dims.Zip(expected).All(p => p.Second < 0 || p.First < 0 || p.First == p.Second);
        if (!ok)
            throw new InvalidOperationException(
                $"The {Slot}'s {kind} tensor '{name}' is {TypeName(type)} {Describe(dims)}; expected {expectedText}.");
    }

    /// <summary>
    /// Returns model bytes in which input tensor k is read from column <c>inputs[k].Column</c> (declared with the given
    /// dimensions) and output tensor k is written to column <c>outputs[k].Column</c>; all other outputs are removed.
    /// </summary>
    /// <remarks>Null dimensions keep the tensor's own declaration.</remarks>
    public byte[] Rewire(IEnumerable<(string Tensor, string Column, object[]? Dims)> inputs, IEnumerable<(string Tensor, string Column, object[]? Dims)> outputs)
    {
        var model = _model.Clone();
        var graph = model.Graph;
        var used = graph.Node.SelectMany(n => n.Input.Concat(n.Output)).Concat(graph.Initializer.Select(i => i.Name))
            .Concat(graph.Input.Select(i => i.Name)).ToHashSet();
        var entry = new List<NodeProto>();
        foreach (var (tensor, column, dims) in inputs)
        {
            var original = graph.Input.First(i => i.Name == tensor);
            graph.Input.Remove(original);
            if (column != tensor)
            {
                if (used.Contains(column))
                    throw new InvalidOperationException($"The {Slot} already uses the name '{column}' inside its graph; rename that tensor.");
                entry.Add(Identity(column, tensor));
            }
            graph.Input.Add(Redeclare(original, column, dims));
        }
        for (int i = 0; i < entry.Count; i++)
            graph.Node.Insert(i, entry[i]);
        var kept = new List<ValueInfoProto>();
        foreach (var (tensor, column, dims) in outputs)
        {
            var original = graph.Output.First(o => o.Name == tensor);
            if (column != tensor)
            {
                if (used.Contains(column))
                    throw new InvalidOperationException($"The {Slot} already uses the name '{column}' inside its graph; rename that tensor.");
                graph.Node.Add(Identity(tensor, column));
            }
            kept.Add(Redeclare(original, column, dims));
        }
        graph.Output.Clear();
        graph.Output.AddRange(kept);
        return model.ToByteArray();
    }

    /// <summary>Declared dimensions with the leading (batch) one fixed to 1 and each symbolic one given a unique name.</summary>
    public static object[] BatchOfOne(long[] dims, string tensor) =>
        dims.Select((d, i) => i == 0 ? 1L : d >= 0 ? d : (object)$"{tensor}_dim{i}").ToArray();

    private static ValueInfoProto Redeclare(ValueInfoProto original, string name, object[]? dims)
    {
        if (dims is not null)
            return ValueInfo(name, (DataType)original.Type.TensorType.ElemType, dims);
        var copy = original.Clone();
        copy.Name = name;
        return copy;
    }

    private static NodeProto Identity(string from, string to)
    {
        var node = new NodeProto { OpType = "Identity", Name = "rkde_wire_" + to };
        node.Input.Add(from);
        node.Output.Add(to);
        return node;
    }

    private static ValueInfoProto ValueInfo(string name, DataType type, object[] dims)
    {
        var shape = new TensorShapeProto();
        foreach (var d in dims)
        {
            shape.Dim.Add(d is string s
                ? new TensorShapeProto.Types.Dimension { DimParam = s }
                : new TensorShapeProto.Types.Dimension { DimValue = Convert.ToInt64(d, CultureInfo.InvariantCulture) });
        }
        return new ValueInfoProto
        {
            Name = name,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)type, Shape = shape } },
        };
    }

    private static string Describe(long[] dims) => "[" + string.Join(", ", dims.Select(d => d < 0 ? "?" : d.ToString(CultureInfo.InvariantCulture))) + "]";

    private static string TypeName(DataType t) => t == DataType.Undefined ? "untyped" : t.ToString().ToLowerInvariant();
}
