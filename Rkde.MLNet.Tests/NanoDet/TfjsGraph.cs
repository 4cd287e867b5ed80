using System.Text;
using System.Text.Json;
using Rkde.MLNet.NanoDet;
using Rkde.MLNet.Onnx;
using DataType = Onnx.TensorProto.Types.DataType;

namespace Rkde.MLNet.Tests.NanoDet;

/// <summary>
/// Writes small TensorFlow.js graph models (model.json text + weight bytes, as the TF.js converter lays them out) for
/// the converter's op tests, and runs their conversion through ONNX Runtime.
/// </summary>
internal sealed class TfjsGraph
{
    private readonly List<Dictionary<string, object>> _nodes = [];
    private readonly List<Dictionary<string, object>> _weights = [];
    private readonly MemoryStream _bin = new();

    public string Placeholder(string name, params long[] shape)
    {
        _nodes.Add(new() { ["name"] = name, ["op"] = "Placeholder", ["attr"] = new Dictionary<string, object>
        {
            ["shape"] = new { shape = new { dim = shape.Select(d => new { size = d.ToString() }).ToArray() } },
        } });
        return name;
    }

    /// <summary>A float constant, stored as float32 or (as NanoDet's weights are) float16.</summary>
    public string Floats(string name, float[] values, long[] shape, bool float16 = false)
    {
        foreach (var v in values)
        {
            if (float16)
                _bin.Write(BitConverter.GetBytes((Half)v));
            else
                _bin.Write(BitConverter.GetBytes(v));
        }
        var weight = new Dictionary<string, object> { ["name"] = name, ["shape"] = shape, ["dtype"] = "float32" };
        if (float16)
            weight["quantization"] = new { dtype = "float16", original_dtype = "float32" };
        return Const(name, weight, "DT_FLOAT");
    }

    /// <summary>An integer constant (stored as int32 whatever its declared type, as the TF.js converter does).</summary>
    public string Ints(string name, long[] values, long[]? shape = null, string type = "DT_INT32")
    {
        foreach (var v in values)
            _bin.Write(BitConverter.GetBytes((int)v));
        return Const(name, new Dictionary<string, object> { ["name"] = name, ["shape"] = shape ?? [values.Length], ["dtype"] = "int32" }, type);
    }

    private string Const(string name, Dictionary<string, object> weight, string type)
    {
        _weights.Add(weight);
        _nodes.Add(new() { ["name"] = name, ["op"] = "Const", ["attr"] = new Dictionary<string, object> { ["dtype"] = new { type } } });
        return name;
    }

    /// <summary>A node; attribute values: float → f, long → i, bool → b, string → s (base64), long[] → list.i.</summary>
    public string Op(string op, string name, string[] inputs, params (string Key, object Value)[] attributes)
    {
        var attr = attributes.ToDictionary(a => a.Key, a => a.Value switch
        {
            float f => (object)new { f },
            long i => new { i = i.ToString() },
            bool b => new { b },
            string s => new { s = Convert.ToBase64String(Encoding.UTF8.GetBytes(s)) },
            long[] list => new { list = new { i = list.Select(v => v.ToString()).ToArray() } },
            _ => throw new ArgumentException(a.Key),
        });
        _nodes.Add(new() { ["name"] = name, ["op"] = op, ["input"] = inputs, ["attr"] = attr });
        return name;
    }

    public TfjsGraphModel Build()
    {
        var json = JsonSerializer.SerializeToUtf8Bytes(new Dictionary<string, object>
        {
            ["format"] = "graph-model",
            ["modelTopology"] = new { node = _nodes },
            ["weightsManifest"] = new[] { new { paths = new[] { "group1-shard1of1.bin" }, weights = _weights } },
        });
        byte[] bin = _bin.ToArray();
        return TfjsGraphModel.Parse(json, _ => bin);
    }

    /// <summary>
    /// Converts the graph with <paramref name="placeholder"/> fed from an ONNX input, runs it through ONNX Runtime on
    /// <paramref name="input"/> and returns each requested TensorFlow tensor (as it is) and the ONNX op types emitted.
    /// </summary>
    public (Dictionary<string, (float[] Data, long[] Shape)> Outputs, string[] Ops) Run(string placeholder, float[] input, long[] shape,
        string[] outputs, Func<TfjsNode, long[], long[]>? resizeSize = null)
    {
        var model = Build();
        var b = new OnnxGraphBuilder("tfjs_op_test");
        b.Input("x", DataType.Float, [.. shape.Cast<object>()]);
        var converter = new TfjsToOnnx(b, model, resizeSize);
        converter.Bind(placeholder, "x", shape);
        for (int k = 0; k < outputs.Length; k++)
            b.Output($"out{k}", converter.Tensor(outputs[k]), DataType.Float, [.. converter.Shape(outputs[k]).Cast<object>()]);
        byte[] bytes = b.ToBytes();
        string[] ops = [.. global::Onnx.ModelProto.Parser.ParseFrom(bytes).Graph.Node.Select(n => n.OpType).Where(o => o != "Identity")];
        using var run = new OnnxRun(bytes);
        var results = run.Run(("x", input, shape));
        return (outputs.Select((o, k) => (o, results[$"out{k}"])).ToDictionary(p => p.o, p => ((float[])p.Item2.Data, p.Item2.Shape)), ops);
    }
}
