using System.Runtime.InteropServices;
using Google.Protobuf;
using Onnx;
using DataType = Onnx.TensorProto.Types.DataType;

namespace Rkde.MLNet.Onnx;

/// <summary>
/// Builds ONNX graphs in memory (the fitted R-KDE stages are persisted as ONNX so that stock ML.NET can reload them).
/// Dimensions are <see cref="long"/> values or <see cref="string"/> symbolic names.
/// </summary>
internal sealed class OnnxGraphBuilder
{
    private readonly GraphProto _graph;
    private readonly ModelProto _model;
    private readonly string _namePrefix;
    private int _nextName;

    /// <param name="graphName">The graph's name.</param>
    /// <param name="opset">The default-domain opset.</param>
    /// <param name="namePrefix">Prefix of every generated tensor and node name, to keep them apart from those of graphs copied in.</param>
    public OnnxGraphBuilder(string graphName, int opset = 17, string namePrefix = "")
    {
        _namePrefix = namePrefix;
        _graph = new GraphProto { Name = graphName };
        _model = new ModelProto
        {
            IrVersion = 8,
            ProducerName = "Rkde.MLNet",
            Graph = _graph,
        };
        _model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = opset });
    }

    /// <summary>The graph being built, for code that copies whole models into it (<see cref="OnnxInliner"/>).</summary>
    public GraphProto Graph => _graph;

    /// <summary>The model being built.</summary>
    public ModelProto Model => _model;

    /// <summary>Declares a graph input and returns its name.</summary>
    public string Input(string name, DataType type, params object[] dims)
    {
        _graph.Input.Add(ValueInfo(name, type, dims));
        return name;
    }

    /// <summary>Declares a graph output; <paramref name="source"/> is renamed to <paramref name="name"/> through Identity when they differ.</summary>
    public void Output(string name, string source, DataType type, params object[] dims)
    {
        if (source != name)
            Node("Identity", [source], [name]);
        _graph.Output.Add(ValueInfo(name, type, dims));
    }

    public string Initializer(string name, ReadOnlySpan<float> data, params long[] dims) =>
        AddInitializer(name, DataType.Float, MemoryMarshal.AsBytes(data), dims);

    public string Initializer(string name, ReadOnlySpan<double> data, params long[] dims) =>
        AddInitializer(name, DataType.Double, MemoryMarshal.AsBytes(data), dims);

    public string Initializer(string name, ReadOnlySpan<long> data, params long[] dims) =>
        AddInitializer(name, DataType.Int64, MemoryMarshal.AsBytes(data), dims);

    public string Initializer(string name, ReadOnlySpan<int> data, params long[] dims) =>
        AddInitializer(name, DataType.Int32, MemoryMarshal.AsBytes(data), dims);

    /// <summary>A scalar or 1-D int64 constant, as Reshape, Slice and friends take.</summary>
    public string Int64s(params long[] values) => Initializer(FreshName("i64"), values, values.Length);

    public string Scalar(float value) => Initializer(FreshName("f32"), [value]);

    public string Scalar(double value) => Initializer(FreshName("f64"), [value]);

    /// <summary>Adds a node with one output and returns the output's (fresh) name.</summary>
    public string Node(string op, string[] inputs, params (string Name, object Value)[] attributes) =>
        Node(op, inputs, [FreshName(op)], attributes)[0];

    /// <summary>Adds a node with the given outputs and returns them.</summary>
    public string[] Node(string op, string[] inputs, string[] outputs, params (string Name, object Value)[] attributes)
    {
        var node = new NodeProto { OpType = op, Name = FreshName(op + "_node") };
        node.Input.AddRange(inputs);
        node.Output.AddRange(outputs);
        foreach (var (name, value) in attributes)
            node.Attribute.Add(Attribute(name, value));
        _graph.Node.Add(node);
        return outputs;
    }

    /// <summary>Copies an existing node (from another model) into this graph unchanged.</summary>
    public void Node(NodeProto node) => _graph.Node.Add(node);

    /// <summary>Copies an existing tensor (from another model) into this graph's initializers.</summary>
    public string Initializer(TensorProto tensor)
    {
        _graph.Initializer.Add(tensor);
        return tensor.Name;
    }

    /// <summary>Adds a key/value pair to the model's metadata.</summary>
    public void Metadata(string key, string value) =>
        _model.MetadataProps.Add(new StringStringEntryProto { Key = key, Value = value });

    public byte[] ToBytes() => _model.ToByteArray();

    public string FreshName(string stem) => $"{_namePrefix}{stem}_{_nextName++}";

    private string AddInitializer(string name, DataType type, ReadOnlySpan<byte> bytes, long[] dims)
    {
        var tensor = new TensorProto { Name = name, DataType = (int)type, RawData = ByteString.CopyFrom(bytes) };
        tensor.Dims.AddRange(dims);
        _graph.Initializer.Add(tensor);
        return name;
    }

    private static ValueInfoProto ValueInfo(string name, DataType type, object[] dims)
    {
        var shape = new TensorShapeProto();
        foreach (var d in dims)
        {
            shape.Dim.Add(d switch
            {
                string s => new TensorShapeProto.Types.Dimension { DimParam = s },
                _ => new TensorShapeProto.Types.Dimension { DimValue = Convert.ToInt64(d, System.Globalization.CultureInfo.InvariantCulture) },
            });
        }
        return new ValueInfoProto
        {
            Name = name,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)type, Shape = shape } },
        };
    }

    private static AttributeProto Attribute(string name, object value)
    {
        var a = new AttributeProto { Name = name };
        switch (value)
        {
            case int i: a.Type = AttributeProto.Types.AttributeType.Int; a.I = i; break;
            case long l: a.Type = AttributeProto.Types.AttributeType.Int; a.I = l; break;
            case float f: a.Type = AttributeProto.Types.AttributeType.Float; a.F = f; break;
            case string s: a.Type = AttributeProto.Types.AttributeType.String; a.S = ByteString.CopyFromUtf8(s); break;
            case long[] ls: a.Type = AttributeProto.Types.AttributeType.Ints; a.Ints.AddRange(ls); break;
            case float[] fs: a.Type = AttributeProto.Types.AttributeType.Floats; a.Floats.AddRange(fs); break;
            case TensorProto t: a.Type = AttributeProto.Types.AttributeType.Tensor; a.T = t; break;
            case GraphProto g: a.Type = AttributeProto.Types.AttributeType.Graph; a.G = g; break;
            default: throw new ArgumentException($"Unsupported ONNX attribute type {value.GetType()} for '{name}'.");
        }
        return a;
    }
}
