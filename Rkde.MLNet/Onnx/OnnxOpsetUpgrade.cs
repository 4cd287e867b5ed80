using Google.Protobuf;
using Onnx;
using DataType = Onnx.TensorProto.Types.DataType;

namespace Rkde.MLNet.Onnx;

/// <summary>
/// Raises the default-domain ("ai.onnx") opset of a model, so that graphs written for different opsets can run as one
/// graph: every node binds to the operator version of its graph's opset, so a node exported for opset 11 must be
/// rewritten where its operator changed incompatibly on the way to the target version. Operators whose later versions
/// only add types or optional attributes and inputs need nothing.
/// </summary>
/// <remarks>
/// The incompatible changes from opset 11 on, as listed in ONNX's operator changelog, and what this does to them:
/// <list type="bullet">
/// <item>13: Squeeze, Unsqueeze, ReduceSum and Split take their axes (split sizes) as an input instead of an attribute:
/// the attribute becomes an int64 initializer. Softmax, LogSoftmax and Hardmax stop flattening the input from the axis
/// on: an old node becomes Flatten(axis) → the operator over the last axis → Reshape back to the input's shape.</item>
/// <item>12: Dropout's ratio attribute became an input; at inference it does nothing, so the attribute is dropped.</item>
/// <item>16: RoiAlign gained coordinate_transformation_mode with default half_pixel; older nodes behaved as output_half_pixel,
/// which is written out.</item>
/// <item>18: the other Reduce operators take their axes as an input.</item>
/// <item>20: GridSample's modes bilinear and bicubic are renamed linear and cubic.</item>
/// </list>
/// Subgraphs (If, Loop, Scan bodies) are upgraded too. Operators removed from the standard (Upsample, Scatter) and
/// models below opset 11 are refused with a message naming the model, the node and the fix.
/// </remarks>
internal static class OnnxOpsetUpgrade
{
    /// <summary>The oldest default-domain opset this upgrades from (RoiAlign and NonMaxSuppression need at least 10 and 11).</summary>
    public const int MinimumOpset = 11;

    private static readonly HashSet<string> ReduceFrom18 =
        ["ReduceMax", "ReduceMin", "ReduceMean", "ReduceProd", "ReduceL1", "ReduceL2", "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare"];

    private static readonly HashSet<string> AxesFrom13 = ["Squeeze", "Unsqueeze", "ReduceSum"];

    private static readonly HashSet<string> SoftmaxLike = ["Softmax", "LogSoftmax", "Hardmax"];

    /// <summary>The model's default-domain opset version (0 when it imports none).</summary>
    public static int DefaultOpset(ModelProto model) =>
        (int)model.OpsetImport.Where(o => IsDefaultDomain(o.Domain)).Select(o => o.Version).DefaultIfEmpty(0).Max();

    public static bool IsDefaultDomain(string domain) => domain is "" or "ai.onnx";

    /// <summary>
    /// A copy of <paramref name="model"/> at default-domain opset <paramref name="target"/> (≥ its own), with the nodes rewritten
    /// as described on the class. <paramref name="what"/> names the model in errors ("the proposer model").
    /// </summary>
    public static ModelProto Upgrade(ModelProto model, int target, string what)
    {
        int from = DefaultOpset(model);
        if (from == target)
            return model.Clone();
        if (from > target)
            throw new ArgumentOutOfRangeException(nameof(target), $"{what} has opset {from}, above the target {target}; upgrades only go up.");
        Check(model, target, what);
        var copy = model.Clone();
        int fresh = 0;
        UpgradeGraph(copy.Graph, from, target, ref fresh);
        foreach (var import in copy.OpsetImport.Where(o => IsDefaultDomain(o.Domain)))
            import.Version = target;
        return copy;
    }

    /// <summary>
    /// Throws, naming <paramref name="what"/>, the node and the fix, when <paramref name="model"/> cannot be raised to
    /// <paramref name="target"/>: an opset below <see cref="MinimumOpset"/>, or an operator the standard removed on the way.
    /// Reads the model without copying it.
    /// </summary>
    public static void Check(ModelProto model, int target, string what)
    {
        int from = DefaultOpset(model);
        if (from >= target)
            return;
        if (from < MinimumOpset)
            throw new InvalidOperationException(
                $"{what} uses ONNX opset {from}; R-KDE composes models of opset {MinimumOpset} or later into one graph. Export it again at opset {MinimumOpset} or later (e.g. 17).");
        foreach (var node in Nodes(model.Graph).Where(n => IsDefaultDomain(n.Domain)))
        {
            if (node.OpType is "Upsample" or "Scatter")
                throw new InvalidOperationException(
                    $"{what}'s node '{node.Name}' is {node.OpType}, which ONNX has removed ({(node.OpType == "Upsample" ? "Resize" : "ScatterElements")} replaces it); export the model again at opset 13 or later.");
            if (node.OpType == "Resize" && Crosses(from, target, 13)
                && node.Attribute.Any(a => a.Name == "coordinate_transformation_mode" && a.S.ToStringUtf8() == "tf_half_pixel_for_nn"))
                throw new InvalidOperationException(
                    $"{what}'s Resize node '{node.Name}' uses coordinate_transformation_mode tf_half_pixel_for_nn, which opset 13 removed; export the model again at opset 13 or later.");
        }
    }

    /// <summary>The graph's nodes and those of its subgraphs, depth first.</summary>
    private static IEnumerable<NodeProto> Nodes(GraphProto graph) =>
        graph.Node.SelectMany(n => n.Attribute.SelectMany(a => a.G is null ? a.Graphs : a.Graphs.Append(a.G)).SelectMany(Nodes).Prepend(n));

    private static void UpgradeGraph(GraphProto graph, int from, int target, ref int fresh)
    {
        var nodes = graph.Node.ToList();
        graph.Node.Clear();
        foreach (var node in nodes)
        {
            foreach (var attribute in node.Attribute)
            {
                if (attribute.G is not null)
                    UpgradeGraph(attribute.G, from, target, ref fresh);
                foreach (var g in attribute.Graphs)
                    UpgradeGraph(g, from, target, ref fresh);
            }
            if (!IsDefaultDomain(node.Domain))
            {
                graph.Node.Add(node);
                continue;
            }
            foreach (var rewritten in Rewrite(graph, node, from, target, ref fresh))
                graph.Node.Add(rewritten);
        }
    }

    private static bool Crosses(int from, int target, int version) => from < version && target >= version;

    private static IEnumerable<NodeProto> Rewrite(GraphProto graph, NodeProto node, int from, int target, ref int fresh)
    {
        string op = node.OpType;
        if ((AxesFrom13.Contains(op) && Crosses(from, target, 13)) || (ReduceFrom18.Contains(op) && Crosses(from, target, 18)))
            return [AttributeToInput(graph, node, "axes", 1, ref fresh)];
        if (op == "Split" && Crosses(from, target, 13))
            return [AttributeToInput(graph, node, "split", 1, ref fresh)];
        if (SoftmaxLike.Contains(op) && Crosses(from, target, 13))
            return SoftmaxOverLastAxis(graph, node, ref fresh);
        if (op == "Dropout" && Crosses(from, target, 12))
        {
            RemoveAttribute(node, "ratio");
            return [node];
        }
        if (op == "RoiAlign" && Crosses(from, target, 16) && !node.Attribute.Any(a => a.Name == "coordinate_transformation_mode"))
        {
            node.Attribute.Add(new AttributeProto
            {
                Name = "coordinate_transformation_mode",
                Type = AttributeProto.Types.AttributeType.String,
                S = ByteString.CopyFromUtf8("output_half_pixel"),
            });
            return [node];
        }
        if (op == "GridSample" && Crosses(from, target, 20))
        {
            var mode = node.Attribute.FirstOrDefault(a => a.Name == "mode");
            if (mode is not null)
            {
                string renamed = mode.S.ToStringUtf8() switch { "bilinear" => "linear", "bicubic" => "cubic", var m => m };
                mode.S = ByteString.CopyFromUtf8(renamed);
            }
            return [node];
        }
        return [node];
    }

    /// <summary>Moves an ints attribute to input <paramref name="position"/> as an int64 initializer (absent attribute: the input stays absent).</summary>
    private static NodeProto AttributeToInput(GraphProto graph, NodeProto node, string name, int position, ref int fresh)
    {
        var attribute = node.Attribute.FirstOrDefault(a => a.Name == name);
        if (attribute is null)
            return node;
        node.Attribute.Remove(attribute);
        string tensor = $"rkde_upgrade_{name}_{fresh++}_{node.Name}";
        var values = attribute.Ints.ToArray();
        var initializer = new TensorProto { Name = tensor, DataType = (int)DataType.Int64 };
        initializer.Dims.Add(values.Length);
        initializer.Int64Data.AddRange(values);
        graph.Initializer.Add(initializer);
        while (node.Input.Count < position)
            node.Input.Add("");
        node.Input.Insert(position, tensor);
        return node;
    }

    /// <summary>Old (coerce-to-2-D) Softmax semantics in the new operator: Flatten(axis) → op over the last axis → Reshape to the input's shape.</summary>
    private static IEnumerable<NodeProto> SoftmaxOverLastAxis(GraphProto graph, NodeProto node, ref int fresh)
    {
        var axisAttribute = node.Attribute.FirstOrDefault(a => a.Name == "axis");
        long axis = axisAttribute?.I ?? 1;
        string stem = $"rkde_upgrade_{node.OpType}_{fresh++}_{node.Name}";
        string input = node.Input[0], output = node.Output[0];
        var flatten = new NodeProto { OpType = "Flatten", Name = stem + "_flatten" };
        flatten.Input.Add(input);
        flatten.Output.Add(stem + "_flat");
        flatten.Attribute.Add(new AttributeProto { Name = "axis", Type = AttributeProto.Types.AttributeType.Int, I = axis });
        var softmax = new NodeProto { OpType = node.OpType, Name = node.Name, Domain = node.Domain };
        softmax.Input.Add(stem + "_flat");
        softmax.Output.Add(stem + "_result");
        softmax.Attribute.Add(new AttributeProto { Name = "axis", Type = AttributeProto.Types.AttributeType.Int, I = -1 });
        var shape = new NodeProto { OpType = "Shape", Name = stem + "_shape" };
        shape.Input.Add(input);
        shape.Output.Add(stem + "_input_shape");
        var reshape = new NodeProto { OpType = "Reshape", Name = stem + "_reshape" };
        reshape.Input.Add(stem + "_result");
        reshape.Input.Add(stem + "_input_shape");
        reshape.Output.Add(output);
        return [flatten, softmax, shape, reshape];
    }

    private static void RemoveAttribute(NodeProto node, string name)
    {
        var attribute = node.Attribute.FirstOrDefault(a => a.Name == name);
        if (attribute is not null)
            node.Attribute.Remove(attribute);
    }
}
