using System.Runtime.InteropServices;
using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using Onnx;
using DataType = Onnx.TensorProto.Types.DataType;
using Rkde.MLNet.Onnx;

namespace Rkde.MLNet.DefaultModel;

/// <summary>
/// Rewrites the ResNet18 trunk of a default-model graph (the nodes named "resnet18_…", see <see cref="ResNet18Trunk"/>) in INT8:
/// each Conv → BatchNormalization [→ Relu] becomes one QLinearConv with the normalisation folded in, per-output-channel
/// symmetric int8 weights, an int32 bias and uint8 activations (a following Relu is the uint8 clamp at zero point 0);
/// MaxPool runs on uint8; the residual Adds dequantize, add (and Relu) in float and quantize again. Activation ranges are the
/// 0.01 % and 99.99 % quantiles seen on calibration images run through the FP32 graph. Every trunk tensor the rest of the graph reads is
/// dequantized under its original name, so the heads are unchanged.
/// </summary>
internal static class TrunkQuantizer
{
    private const string TrunkPrefix = "resnet18_";

    /// <summary>Activation ranges cover this share (%) of the calibration values; the tails saturate.</summary>
    private const double Percentile = 99.99;

    /// <summary>The INT8 version of <paramref name="fp32Model"/>, calibrated on <paramref name="calibrationImages"/> (graph input tensors).</summary>
    public static byte[] Quantize(byte[] fp32Model, IReadOnlyList<float[]> calibrationImages)
    {
        if (calibrationImages.Count == 0)
            throw new ArgumentException("INT8 calibration needs at least one image.", nameof(calibrationImages));
        var model = ModelProto.Parser.ParseFrom(fp32Model);
        var graph = model.Graph;
        var nodes = graph.Node.ToList();
        var trunk = nodes.Where(IsTrunk).ToList();
        var stemInput = trunk.First(n => n.OpType == "Conv").Input[0];
        var ranges = Calibrate(model, [stemInput, .. trunk.Where(n => n.OpType is "BatchNormalization" or "Relu").Select(n => n.Output[0])], calibrationImages);
        var weights = graph.Initializer.ToDictionary(t => t.Name);
        var consumers = nodes.SelectMany(n => n.Input.Select(i => (i, n))).ToLookup(p => p.i, p => p.n);

        var quantized = new Dictionary<string, QuantizedTensor>();
        var output = new List<NodeProto>();
        var initializers = new List<TensorProto>();
        var inFloat = new HashSet<string>(); // float tensors already produced: dequantized ones and the residual sums
        // The float version of quantized tensor `name`, as `target` (default name_dq), dequantized once.
        string Dequantize(string name, string? target = null)
        {
            target ??= name + "_dq";
            if (inFloat.Add(target))
            {
                var q = quantized[name];
                output.Add(Node("DequantizeLinear", [q.Name, q.Scale, q.ZeroPoint], target));
            }
            return target;
        }
        void QuantizeTensor(string name, float min, float max)
        {
            var q = QuantizedTensor.Create(name, min, max, initializers);
            output.Add(Node("QuantizeLinear", [name, q.Scale, q.ZeroPoint], q.Name));
            quantized[name] = q;
        }

        for (int i = 0; i < nodes.Count; i++)
        {
            var node = nodes[i];
            if (!IsTrunk(node))
            {
                foreach (var input in node.Input.Where(n => quantized.ContainsKey(n)))
                    Dequantize(input, input);
                output.Add(node);
                continue;
            }
            switch (node.OpType)
            {
                case "Conv":
                {
                    var bn = nodes[i + 1];
                    if (bn.OpType != "BatchNormalization" || bn.Input[0] != node.Output[0])
                        throw new InvalidDataException($"INT8: the trunk's Conv '{node.Name}' is not followed by its BatchNormalization.");
                    var relu = i + 2 < nodes.Count && nodes[i + 2].OpType == "Relu" && nodes[i + 2].Input[0] == bn.Output[0]
                        && consumers[bn.Output[0]].Count() == 1 ? nodes[i + 2] : null;
                    string x = node.Input[0];
                    if (!quantized.ContainsKey(x))
                        QuantizeTensor(x, ranges[x].Min, ranges[x].Max);
                    string y = relu?.Output[0] ?? bn.Output[0];
                    output.Add(QLinearConv(node, bn, weights, quantized[x], y, relu is null ? ranges[y].Min : 0, ranges[y].Max, quantized, initializers));
                    i += relu is null ? 1 : 2;
                    break;
                }
                case "MaxPool":
                {
                    var q = quantized[node.Input[0]];
                    var pool = node.Clone();
                    pool.Input[0] = q.Name;
                    pool.Output[0] = node.Output[0] + "_q";
                    output.Add(pool);
                    quantized[node.Output[0]] = q with { Name = pool.Output[0] };
                    break;
                }
                case "Add":
                {
                    var add = node.Clone();
                    for (int k = 0; k < add.Input.Count; k++)
                        add.Input[k] = Dequantize(add.Input[k]);
                    output.Add(add);
                    var relu = i + 1 < nodes.Count && nodes[i + 1].OpType == "Relu" && nodes[i + 1].Input[0] == node.Output[0] ? nodes[i + 1] : null;
                    if (relu is not null)
                    {
                        output.Add(relu);
                        i++;
                    }
                    string y = relu?.Output[0] ?? node.Output[0];
                    inFloat.Add(y);
                    QuantizeTensor(y, relu is null ? ranges[y].Min : 0, ranges[y].Max);
                    break;
                }
                default:
                    throw new InvalidDataException($"INT8: the trunk's {node.OpType} node '{node.Name}' has no quantized form here.");
            }
        }
        foreach (var graphOutput in graph.Output.Where(o => quantized.ContainsKey(o.Name)))
            Dequantize(graphOutput.Name, graphOutput.Name);

        graph.Node.Clear();
        graph.Node.AddRange(output);
        var used = output.SelectMany(n => n.Input).ToHashSet();
        var kept = graph.Initializer.Where(t => used.Contains(t.Name)).ToList();
        graph.Initializer.Clear();
        graph.Initializer.AddRange(kept);
        graph.Initializer.AddRange(initializers);
        model.MetadataProps.Add(new StringStringEntryProto { Key = "rkde_backbone_precision", Value = "int8" });
        return model.ToByteArray();
    }

    private static bool IsTrunk(NodeProto node) => node.Name.StartsWith(TrunkPrefix, StringComparison.Ordinal);

    /// <summary>
    /// Per-tensor range: the <see cref="Percentile"/> % quantiles (low and high) of up to 100,000 evenly strided values per
    /// calibration image, from one FP32 run each with the tensors made graph outputs. Quantiles rather than min/max: a few
    /// extreme activations would otherwise stretch the range and cost the rest of the values their resolution.
    /// </summary>
    private static Dictionary<string, (float Min, float Max)> Calibrate(ModelProto fp32, IReadOnlyList<string> tensors, IReadOnlyList<float[]> images)
    {
        var probe = fp32.Clone();
        var existing = probe.Graph.Output.Select(o => o.Name).ToHashSet();
        foreach (var name in tensors.Where(existing.Add))
            probe.Graph.Output.Add(new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)DataType.Float } } });
        using var session = new InferenceSession(probe.ToByteArray());
        var input = session.InputMetadata.Single();
        long[] shape = input.Value.Dimensions.Select(d => (long)d).ToArray();
        string[] names = [.. tensors.Distinct()];
        var samples = names.Select(_ => new List<float>()).ToArray();
        foreach (var image in images)
        {
            using var value = OrtValue.CreateTensorValueFromMemory(image, shape);
            using var run = new RunOptions();
            using var results = session.Run(run, [input.Key], [value], names);
            for (int k = 0; k < names.Length; k++)
            {
                var data = results[k].GetTensorDataAsSpan<float>();
                int stride = Math.Max(1, data.Length / 100_000);
                for (int j = 0; j < data.Length; j += stride)
                    samples[k].Add(data[j]);
            }
        }
        var ranges = new Dictionary<string, (float, float)>();
        for (int k = 0; k < names.Length; k++)
        {
            var values = samples[k].ToArray();
            Array.Sort(values);
            int last = values.Length - 1;
            ranges[names[k]] = (values[(int)((1 - Percentile / 100) * last)], values[(int)(Percentile / 100 * last)]);
        }
        return ranges;
    }

    /// <summary>Conv + BatchNormalization folded: W' = W·γ/√(σ²+ε), b' = (b − μ)·γ/√(σ²+ε) + β, then quantized.</summary>
    private static NodeProto QLinearConv(NodeProto conv, NodeProto bn, Dictionary<string, TensorProto> weights, QuantizedTensor x, string y,
        float yMin, float yMax, Dictionary<string, QuantizedTensor> quantized, List<TensorProto> initializers)
    {
        var wTensor = weights[conv.Input[1]];
        var w = OnnxTensors.ToFloats(wTensor);
        int outChannels = (int)wTensor.Dims[0], perChannel = w.Length / outChannels;
        float[] gamma = OnnxTensors.ToFloats(weights[bn.Input[1]]), beta = OnnxTensors.ToFloats(weights[bn.Input[2]]);
        float[] mean = OnnxTensors.ToFloats(weights[bn.Input[3]]), variance = OnnxTensors.ToFloats(weights[bn.Input[4]]);
        float[] convBias = conv.Input.Count > 2 ? OnnxTensors.ToFloats(weights[conv.Input[2]]) : new float[outChannels];
        float epsilon = bn.Attribute.FirstOrDefault(a => a.Name == "epsilon")?.F ?? 1e-5f;

        var wq = new sbyte[w.Length];
        var wScale = new float[outChannels];
        var bias = new int[outChannels];
        for (int o = 0; o < outChannels; o++)
        {
            double a = gamma[o] / Math.Sqrt(variance[o] + epsilon);
            var row = w.AsSpan(o * perChannel, perChannel);
            double maxAbs = 0;
            foreach (var v in row)
                maxAbs = Math.Max(maxAbs, Math.Abs(v * a));
            double s = maxAbs > 0 ? maxAbs / 127 : 1;
            wScale[o] = (float)s;
            for (int k = 0; k < perChannel; k++)
                wq[o * perChannel + k] = (sbyte)Math.Clamp(Math.Round(row[k] * a / wScale[o]), -127, 127);
            double b = (convBias[o] - mean[o]) * a + beta[o];
            bias[o] = (int)Math.Clamp(Math.Round(b / ((double)x.ScaleValue * wScale[o])), int.MinValue, int.MaxValue);
        }
        string prefix = conv.Name + "_int8_";
        initializers.Add(Tensor(prefix + "w", DataType.Int8, MemoryMarshal.AsBytes(wq.AsSpan()), wTensor.Dims));
        initializers.Add(Tensor(prefix + "w_scale", DataType.Float, MemoryMarshal.AsBytes(wScale.AsSpan()), [outChannels]));
        initializers.Add(Tensor(prefix + "w_zero_point", DataType.Int8, new byte[outChannels], [outChannels]));
        initializers.Add(Tensor(prefix + "bias", DataType.Int32, MemoryMarshal.AsBytes(bias.AsSpan()), [outChannels]));
        var q = QuantizedTensor.Create(y, yMin, yMax, initializers);
        quantized[y] = q;

        var node = new NodeProto { OpType = "QLinearConv", Name = conv.Name + "_int8" };
        node.Input.AddRange([x.Name, x.Scale, x.ZeroPoint, prefix + "w", prefix + "w_scale", prefix + "w_zero_point", q.Scale, q.ZeroPoint, prefix + "bias"]);
        node.Output.Add(q.Name);
        node.Attribute.AddRange(conv.Attribute.Select(a => a.Clone()));
        return node;
    }

    private static NodeProto Node(string op, string[] inputs, string output)
    {
        var node = new NodeProto { OpType = op, Name = output + "_" + op };
        node.Input.AddRange(inputs);
        node.Output.Add(output);
        return node;
    }

    private static TensorProto Tensor(string name, DataType type, ReadOnlySpan<byte> data, IEnumerable<long> dims)
    {
        var tensor = new TensorProto { Name = name, DataType = (int)type, RawData = ByteString.CopyFrom(data) };
        tensor.Dims.AddRange(dims);
        return tensor;
    }

    /// <summary>A uint8 tensor (name) with its scale and zero point (initializer names) and the scale's value.</summary>
    private sealed record QuantizedTensor(string Name, string Scale, string ZeroPoint, float ScaleValue)
    {
        /// <summary>Asymmetric uint8 parameters covering [min, max] (widened to include 0), added to <paramref name="initializers"/>.</summary>
        public static QuantizedTensor Create(string floatName, float min, float max, List<TensorProto> initializers)
        {
            min = Math.Min(min, 0);
            max = Math.Max(max, 0);
            float scale = max > min ? (max - min) / 255 : 1;
            byte zeroPoint = (byte)Math.Clamp(Math.Round(-min / scale), 0, 255);
            string prefix = floatName + "_q";
            initializers.Add(Tensor(prefix + "_scale", DataType.Float, MemoryMarshal.AsBytes(new[] { scale }.AsSpan()), []));
            initializers.Add(Tensor(prefix + "_zero_point", DataType.Uint8, [zeroPoint], []));
            return new QuantizedTensor(prefix, prefix + "_scale", prefix + "_zero_point", scale);
        }
    }
}
