using Onnx;

namespace Rkde.MLNet.Onnx;

/// <summary>
/// Copies whole ONNX models into one graph: each part's tensor, node and symbolic-dimension names get a prefix (in its
/// subgraphs too), its graph inputs are bound to tensors of the target graph, and its graph outputs become prefixed
/// tensors whose declarations are kept as value_info. Parts must share the target's default-domain opset
/// (<see cref="OnnxOpsetUpgrade"/>).
/// </summary>
internal static class OnnxInliner
{
    /// <summary>
    /// Adds <paramref name="part"/>'s nodes and initializers to <paramref name="target"/> under <paramref name="prefix"/>, reading
    /// each graph input from the target tensor <paramref name="inputs"/> names for it. Returns each of the part's outputs' name in
    /// the target (prefix + name).
    /// </summary>
    public static Dictionary<string, string> Into(GraphProto target, ModelProto part, string prefix, IReadOnlyDictionary<string, string> inputs, string what)
    {
        var graph = part.Graph.Clone();
        var initializers = graph.Initializer.Select(i => i.Name).ToHashSet();
        foreach (var input in graph.Input.Where(i => !initializers.Contains(i.Name)))
        {
            if (!inputs.ContainsKey(input.Name))
                throw new InvalidOperationException($"{what}'s input tensor '{input.Name}' is not wired to anything in the composed graph.");
        }
        string Map(string name) => name.Length == 0 ? "" : inputs.TryGetValue(name, out var bound) ? bound : prefix + name;
        Rename(graph, Map, dim => prefix + dim, (name, index) => prefix + (name.Length > 0 ? name : $"node{index}"));
        target.Initializer.AddRange(graph.Initializer);
        target.SparseInitializer.AddRange(graph.SparseInitializer);
        target.Node.AddRange(graph.Node);
        var bound = inputs.Values.ToHashSet();
        target.ValueInfo.AddRange(graph.ValueInfo.Concat(graph.Output).Where(v => !bound.Contains(v.Name)));
        return part.Graph.Output.ToDictionary(o => o.Name, o => Map(o.Name));
    }

    /// <summary>
    /// Renames every tensor of <paramref name="graph"/> and its subgraphs through <paramref name="tensor"/> (the empty name of an
    /// omitted optional input stays empty), every symbolic dimension through <paramref name="dimension"/>, and every node
    /// through <paramref name="node"/> (its name and its index in its graph).
    /// </summary>
    public static void Rename(GraphProto graph, Func<string, string> tensor, Func<string, string> dimension, Func<string, int, string> node)
    {
        foreach (var i in graph.Initializer) i.Name = tensor(i.Name);
        foreach (var s in graph.SparseInitializer)
        {
            s.Values.Name = tensor(s.Values.Name);
            if (s.Indices is not null) s.Indices.Name = tensor(s.Indices.Name);
        }
        foreach (var v in graph.Input.Concat(graph.Output).Concat(graph.ValueInfo))
        {
            v.Name = tensor(v.Name);
            RenameDimensions(v.Type, dimension);
        }
        for (int n = 0; n < graph.Node.Count; n++)
        {
            var current = graph.Node[n];
            current.Name = node(current.Name, n);
            for (int i = 0; i < current.Input.Count; i++) current.Input[i] = tensor(current.Input[i]);
            for (int i = 0; i < current.Output.Count; i++) current.Output[i] = tensor(current.Output[i]);
            foreach (var attribute in current.Attribute)
            {
                if (attribute.G is not null) Rename(attribute.G, tensor, dimension, node);
                foreach (var g in attribute.Graphs) Rename(g, tensor, dimension, node);
            }
        }
    }

    private static void RenameDimensions(TypeProto? type, Func<string, string> dimension)
    {
        if (type is null) return;
        if (type.TensorType?.Shape is { } shape)
        {
            foreach (var d in shape.Dim.Where(d => d.DimParam.Length > 0)) d.DimParam = dimension(d.DimParam);
        }
        RenameDimensions(type.SequenceType?.ElemType, dimension);
        RenameDimensions(type.OptionalType?.ElemType, dimension);
    }

    /// <summary>
    /// Removes the nodes of <paramref name="graph"/> that no graph output depends on, then the initializers and value_info
    /// entries nothing uses (a node with subgraphs uses every name they read).
    /// </summary>
    public static void Prune(GraphProto graph)
    {
        var needed = graph.Output.Select(o => o.Name).ToHashSet();
        var kept = new List<NodeProto>();
        for (int n = graph.Node.Count - 1; n >= 0; n--)
        {
            var node = graph.Node[n];
            if (!node.Output.Any(needed.Contains))
                continue;
            kept.Add(node);
            foreach (var name in Reads(node)) needed.Add(name);
        }
        kept.Reverse();
        graph.Node.Clear();
        graph.Node.AddRange(kept);
        var unusedInitializers = graph.Initializer.Where(i => !needed.Contains(i.Name)).ToList();
        foreach (var i in unusedInitializers) graph.Initializer.Remove(i);
        var unusedInfo = graph.ValueInfo.Where(v => !needed.Contains(v.Name)).ToList();
        foreach (var v in unusedInfo) graph.ValueInfo.Remove(v);
    }

    /// <summary>The names a node reads: its inputs and, for nodes with subgraphs, every input of their nodes.</summary>
    private static IEnumerable<string> Reads(NodeProto node) =>
        node.Input.Where(i => i.Length > 0).Concat(node.Attribute
            .SelectMany(a => a.G is null ? a.Graphs : a.Graphs.Append(a.G))
            .SelectMany(g => g.Node.SelectMany(Reads).Concat(g.Output.Select(o => o.Name))));

    /// <summary>
    /// The opset imports of a model composed of <paramref name="parts"/> (already at one default-domain opset): each domain at
    /// the highest version any part imports.
    /// </summary>
    public static IEnumerable<OperatorSetIdProto> Opsets(IEnumerable<ModelProto> parts) =>
        parts.SelectMany(p => p.OpsetImport)
            .GroupBy(o => OnnxOpsetUpgrade.IsDefaultDomain(o.Domain) ? "" : o.Domain)
            .Select(g => new OperatorSetIdProto { Domain = g.Key, Version = g.Max(o => o.Version) })
            .OrderBy(o => o.Domain, StringComparer.Ordinal);
}
