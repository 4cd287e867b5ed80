using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using Onnx;
using DataType = Onnx.TensorProto.Types.DataType;

namespace Rkde.Benchmarks;

/// <summary>
/// Counts an image graph's multiply-add FLOPs (2 per multiply-add) in Conv, QLinearConv, MatMul and Gemm nodes from the
/// shapes of one run: every such node's output (and a MatMul's first input) is made a graph output, the graph is run on one
/// input, and a Conv costs 2 × output elements × (input channels / groups × kernel area).
/// </summary>
internal static class OnnxFlops
{
    /// <summary>FLOPs of the nodes named "resnet18_…" (the default models' backbone) and of the whole graph.</summary>
    public static (double Backbone, double Total) Count(byte[] model, float[] image)
    {
        var proto = ModelProto.Parser.ParseFrom(model);
        var graph = proto.Graph;
        var weights = graph.Initializer.ToDictionary(t => t.Name, t => t.Dims.ToArray());
        var counted = graph.Node.Where(n => n.OpType is "Conv" or "QLinearConv" or "MatMul" or "Gemm").ToList();
        var outputs = graph.Output.Select(o => o.Name).ToHashSet();
        void Expose(string name, DataType type)
        {
            if (outputs.Add(name))
                graph.Output.Add(new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)type } } });
        }
        foreach (var node in counted)
        {
            Expose(node.Output[0], node.OpType == "QLinearConv" ? DataType.Uint8 : DataType.Float);
            if (node.OpType == "MatMul")
                Expose(node.Input[0], DataType.Float);
        }
        using var session = new InferenceSession(proto.ToByteArray());
        var input = session.InputMetadata.Single();
        var shape = input.Value.Dimensions.Select(d => (long)d).ToArray();
        using var value = OrtValue.CreateTensorValueFromMemory(image, shape);
        var names = session.OutputNames.ToArray();
        using var results = session.Run(new RunOptions(), [input.Key], [value], names);
        var shapes = names.Select((n, i) => (n, results[i].GetTensorTypeAndShape().Shape)).ToDictionary(p => p.n, p => p.Shape);

        double backbone = 0, total = 0;
        foreach (var node in counted)
        {
            double outputElements = shapes[node.Output[0]].Aggregate(1L, (a, b) => a * b);
            double perOutput = node.OpType switch
            {
                "Conv" => weights[node.Input[1]].Skip(1).Aggregate(1L, (a, b) => a * b),
                "QLinearConv" => weights[node.Input[3]].Skip(1).Aggregate(1L, (a, b) => a * b),
                "MatMul" => shapes[node.Input[0]][^1],
                _ => Gemm(node, weights),
            };
            double flops = 2 * outputElements * perOutput;
            total += flops;
            if (node.Name.StartsWith("resnet18_", StringComparison.Ordinal))
                backbone += flops;
        }
        return (backbone, total);
    }

    private static long Gemm(NodeProto node, Dictionary<string, long[]> weights)
    {
        bool transB = node.Attribute.Any(a => a.Name == "transB" && a.I != 0);
        return weights.TryGetValue(node.Input[1], out var b) ? b[transB ? 1 : 0] : 0;
    }
}
