using System.Buffers.Binary;
using System.Globalization;
using System.Text.Json;

namespace Rkde.MLNet.NanoDet;

/// <summary>
/// A TensorFlow.js graph model as its converter writes it: <c>model.json</c> holds the TensorFlow GraphDef as JSON
/// (<c>modelTopology.node</c>) and a weights manifest; the constants' bytes follow in <c>.bin</c> shards, in manifest
/// order. Float constants may be stored as float16 (decoded here through <see cref="Half"/>); integer constants
/// are stored as int32 whatever their declared type.
/// </summary>
internal sealed class TfjsGraphModel
{
    private TfjsGraphModel(Dictionary<string, TfjsNode> nodes, Dictionary<string, TfjsConstant> constants, string[] outputs)
    {
        Nodes = nodes;
        Constants = constants;
        Outputs = outputs;
    }

    /// <summary>Every node of the graph by name (Const nodes included).</summary>
    public IReadOnlyDictionary<string, TfjsNode> Nodes { get; }

    /// <summary>The decoded value of every Const node by name.</summary>
    public IReadOnlyDictionary<string, TfjsConstant> Constants { get; }

    /// <summary>The signature's output tensors ("node" or "node:k"), in the order the JSON lists them.</summary>
    public IReadOnlyList<string> Outputs { get; }

    /// <summary>Reads <paramref name="jsonPath"/> and the weight shards it names (paths relative to its folder).</summary>
    public static TfjsGraphModel Load(string jsonPath)
    {
        string folder = Path.GetDirectoryName(Path.GetFullPath(jsonPath))!;
        return Parse(File.ReadAllBytes(jsonPath), shard => File.ReadAllBytes(Path.Combine(folder, shard)), jsonPath);
    }

    /// <summary>Parses the JSON; <paramref name="readShard"/> returns the bytes of a weight shard named in the manifest.</summary>
    public static TfjsGraphModel Parse(byte[] json, Func<string, byte[]> readShard, string displayName = "model.json")
    {
        using var document = JsonDocument.Parse(json);
        var root = document.RootElement;
        if (!root.TryGetProperty("modelTopology", out var topology) || !topology.TryGetProperty("node", out var nodeList))
            throw new InvalidDataException($"{displayName} is not a TensorFlow.js graph model: it has no modelTopology.node.");

        var nodes = new Dictionary<string, TfjsNode>(StringComparer.Ordinal);
        foreach (var n in nodeList.EnumerateArray())
        {
            var node = new TfjsNode(
                n.GetProperty("name").GetString()!,
                n.GetProperty("op").GetString()!,
                n.TryGetProperty("input", out var inputs) ? inputs.EnumerateArray().Select(i => i.GetString()!).Where(i => !i.StartsWith('^')).ToArray() : [],
                n.TryGetProperty("attr", out var attr) ? attr.Clone() : default);
            nodes[node.Name] = node;
        }

        var constants = new Dictionary<string, TfjsConstant>(StringComparer.Ordinal);
        if (root.TryGetProperty("weightsManifest", out var manifest))
        {
            foreach (var group in manifest.EnumerateArray())
            {
                byte[] data = group.GetProperty("paths").EnumerateArray().SelectMany(p => readShard(p.GetString()!)).ToArray();
                int offset = 0;
                foreach (var weight in group.GetProperty("weights").EnumerateArray())
                {
                    var constant = Decode(weight, data, ref offset, displayName);
                    constants[weight.GetProperty("name").GetString()!] = constant;
                }
                if (offset != data.Length)
                    throw new InvalidDataException($"{displayName}: the weight shards hold {data.Length} bytes but the manifest describes {offset}.");
            }
        }
        foreach (var node in nodes.Values.Where(n => n.Op == "Const" && !constants.ContainsKey(n.Name)))
            throw new InvalidDataException($"{displayName}: Const node '{node.Name}' has no entry in the weights manifest.");

        string[] outputs = root.TryGetProperty("signature", out var signature) && signature.TryGetProperty("outputs", out var outs)
            ? outs.EnumerateObject().Select(o => TensorName(o.Value.TryGetProperty("name", out var name) ? name.GetString()! : o.Name)).ToArray()
            : [];
        return new TfjsGraphModel(nodes, constants, outputs);
    }

    /// <summary>"node:0" → "node" (TensorFlow's first output needs no index); other indices are kept.</summary>
    public static string TensorName(string name) => name.EndsWith(":0", StringComparison.Ordinal) ? name[..^2] : name;

    private static TfjsConstant Decode(JsonElement weight, byte[] data, ref int offset, string displayName)
    {
        string name = weight.GetProperty("name").GetString()!;
        long[] shape = weight.GetProperty("shape").EnumerateArray().Select(d => d.GetInt64()).ToArray();
        long count = shape.Aggregate(1L, (a, d) => a * d);
        string dtype = weight.GetProperty("dtype").GetString()!;
        string? stored = weight.TryGetProperty("quantization", out var q) ? q.GetProperty("dtype").GetString() : null;
        if (q.ValueKind == JsonValueKind.Object && (q.TryGetProperty("scale", out _) || q.TryGetProperty("min", out _)))
            throw new NotSupportedException($"{displayName}: weight '{name}' uses affine {stored} quantization; only float16 quantization is supported.");
        int size = (stored ?? dtype) switch
        {
            "float16" => 2,
            "float32" or "int32" => 4,
            "bool" => 1,
            var other => throw new NotSupportedException($"{displayName}: weight '{name}' is stored as {other}; supported: float32, float16, int32, bool."),
        };
        if (offset + count * size > data.Length)
            throw new InvalidDataException($"{displayName}: weight '{name}' ({count} × {size} bytes) runs past the end of the weight shards ({data.Length} bytes).");
        var bytes = data.AsSpan(offset, (int)(count * size));
        offset += bytes.Length;
        if (dtype == "float32")
        {
            var floats = new float[count];
            for (int i = 0; i < count; i++)
                floats[i] = stored == "float16"
                    ? (float)BinaryPrimitives.ReadHalfLittleEndian(bytes[(2 * i)..])
                    : BinaryPrimitives.ReadSingleLittleEndian(bytes[(4 * i)..]);
            return new TfjsConstant(shape, floats, null);
        }
        var ints = new long[count];
        for (int i = 0; i < count; i++)
            ints[i] = size == 1 ? bytes[i] : BinaryPrimitives.ReadInt32LittleEndian(bytes[(4 * i)..]);
        return new TfjsConstant(shape, null, ints);
    }
}

/// <summary>One GraphDef node: its inputs ("node" or "node:k"; control inputs dropped) and its attributes as JSON.</summary>
internal sealed record TfjsNode(string Name, string Op, string[] Inputs, JsonElement Attributes)
{
    private JsonElement? Attribute(string key) =>
        Attributes.ValueKind == JsonValueKind.Object && Attributes.TryGetProperty(key, out var a) ? a : null;

    public bool Has(string key) => Attribute(key) is not null;

    public float Float(string key, float fallback) =>
        Attribute(key) is { } a && a.TryGetProperty("f", out var f) ? f.GetSingle() : fallback;

    public long Int(string key, long fallback) =>
        Attribute(key) is { } a && a.TryGetProperty("i", out var i) ? ParseInt(i) : fallback;

    public bool Bool(string key, bool fallback = false) =>
        Attribute(key) is { } a && a.TryGetProperty("b", out var b) ? b.GetBoolean() : fallback;

    /// <summary>A string attribute (base64 bytes in the JSON) as text.</summary>
    public string? String(string key) =>
        Attribute(key) is { } a && a.TryGetProperty("s", out var s) ? System.Text.Encoding.UTF8.GetString(Convert.FromBase64String(s.GetString()!)) : null;

    public long[]? Ints(string key) =>
        Attribute(key) is { } a && a.TryGetProperty("list", out var list)
            ? (list.TryGetProperty("i", out var items) ? items.EnumerateArray().Select(ParseInt).ToArray() : [])
            : null;

    /// <summary>int64 values are JSON strings, int32 values numbers.</summary>
    private static long ParseInt(JsonElement e) =>
        e.ValueKind == JsonValueKind.String ? long.Parse(e.GetString()!, CultureInfo.InvariantCulture) : e.GetInt64();
}

/// <summary>A decoded constant: float data (float32 or float16 in the file) or integer data, row-major.</summary>
internal sealed record TfjsConstant(long[] Shape, float[]? Floats, long[]? Ints)
{
    public long Count => Floats?.Length ?? Ints!.Length;
}
