using Rkde.MLNet.Onnx;

namespace Rkde.MLNet.NanoDet;

/// <summary>
/// Translates a <see cref="TfjsGraphModel"/> (a static TensorFlow graph: no control flow, every shape known) into
/// ONNX nodes of a graph being built, on demand from the tensors asked for.
/// <para>
/// Layout: each TensorFlow tensor T is held as an ONNX tensor U = transpose(T, perm). A TensorFlow Transpose emits no node,
/// it only changes perm, so the NCHW↔NHWC pairs around every NHWC convolution cancel; a node is emitted only where an op
/// needs T itself or another layout (Reshape, a graph output). Conv2D and MaxPool run as ONNX Conv/MaxPool (NCHW) on
/// whatever layout that is. Pad and PadV2 are held back and folded into the padding of the Conv (zero fill) or MaxPool
/// (−∞ fill) that reads them, else emitted as ONNX Pad. Const inputs of Add/AddV2/SparseToDense are folded in C#.
/// </para>
/// <para>
/// Mapped ops: Const, Placeholder (bound by <see cref="Bind"/>), Identity, Transpose, Pad, PadV2, Conv2D (VALID, SAME,
/// EXPLICIT; groups from the channel counts), MaxPool, Add, AddV2, LeakyRelu, Sigmoid, ConcatV2, ResizeBilinear (sizes
/// through a caller's patch, for input sizes other than the graph's own), SplitV, Reshape, SparseToDense.
/// </para>
/// </summary>
internal sealed class TfjsToOnnx
{
    private readonly OnnxGraphBuilder _b;
    private readonly TfjsGraphModel _model;
    private readonly Func<TfjsNode, long[], long[]> _resizeSize;
    private readonly Dictionary<string, Value> _values = new(StringComparer.Ordinal);

    /// <param name="b">The graph the nodes go into.</param>
    /// <param name="model">The TensorFlow.js graph.</param>
    /// <param name="resizeSize">The output size (height, width) of a ResizeBilinear node given its constant size; default: unchanged.</param>
    public TfjsToOnnx(OnnxGraphBuilder b, TfjsGraphModel model, Func<TfjsNode, long[], long[]>? resizeSize = null)
    {
        _b = b;
        _model = model;
        _resizeSize = resizeSize ?? ((_, size) => size);
    }

    /// <summary>Feeds a Placeholder from an ONNX tensor holding it as it is, of the given (TensorFlow) shape.</summary>
    public void Bind(string placeholder, string onnxTensor, long[] shape)
    {
        if (!_model.Nodes.TryGetValue(placeholder, out var node) || node.Op != "Placeholder")
            throw new ArgumentException($"The graph has no Placeholder '{placeholder}'.", nameof(placeholder));
        _values[placeholder] = Value.Runtime(onnxTensor, Identity(shape.Length), shape);
    }

    /// <summary>
    /// The ONNX tensor holding TensorFlow tensor <paramref name="name"/> ("node" or "node:k") transposed by
    /// <paramref name="layout"/> (ONNX axis i = TensorFlow axis layout[i]); null: as it is.
    /// </summary>
    public string Tensor(string name, int[]? layout = null)
    {
        var value = Get(name);
        return As(value, layout ?? Identity(value.Shape.Length));
    }

    /// <summary>The static TensorFlow shape of a tensor.</summary>
    public long[] Shape(string name) => Get(name).Shape;

    private Value Get(string tensor)
    {
        tensor = TfjsGraphModel.TensorName(tensor);
        if (_values.TryGetValue(tensor, out var known))
            return known;
        int colon = tensor.LastIndexOf(':');
        string nodeName = colon > 0 ? tensor[..colon] : tensor;
        if (!_model.Nodes.TryGetValue(nodeName, out var node))
            throw new InvalidDataException($"The TensorFlow.js graph has no node '{nodeName}' (asked for tensor '{tensor}').");
        var outputs = Convert(node);
        for (int k = 0; k < outputs.Length; k++)
            _values[k == 0 ? node.Name : $"{node.Name}:{k}"] = outputs[k];
        return _values.TryGetValue(tensor, out var value)
            ? value
            : throw new InvalidDataException($"Node '{nodeName}' ({node.Op}) has {outputs.Length} output(s); '{tensor}' is not one of them.");
    }

    private Value[] Convert(TfjsNode node)
    {
        Value Input(int k) => k < node.Inputs.Length
            ? Get(node.Inputs[k])
            : throw new InvalidDataException($"{node.Op} node '{node.Name}' has {node.Inputs.Length} inputs; expected at least {k + 1}.");
        switch (node.Op)
        {
            case "Const":
                return [Value.Of(_model.Constants[node.Name])];
            case "Placeholder":
                throw new InvalidOperationException($"Placeholder '{node.Name}' is not bound to an ONNX input.");
            case "Identity":
                return [Input(0)];
            case "Transpose":
                return [Transpose(Input(0), Ints(node, Input(1), "perm").Select(i => (int)i).ToArray())];
            case "Pad":
                return [Value.Padded(Input(0), Ints(node, Input(1), "paddings"), 0)];
            case "PadV2":
                return [Value.Padded(Input(0), Ints(node, Input(1), "paddings"), Scalar(node, Input(2), "constant_values"))];
            case "Conv2D":
                return [Conv(node, Input(0), Input(1))];
            case "MaxPool":
                return [MaxPool(node, Input(0))];
            case "Add" or "AddV2":
                return [Add(Input(0), Input(1))];
            case "LeakyRelu":
            {
                var (x, perm) = Materialize(Input(0));
                return [Value.Runtime(_b.Node("LeakyRelu", [x], ("alpha", node.Float("alpha", 0.2f))), perm, Input(0).Shape)];
            }
            case "Sigmoid":
            {
                var (x, perm) = Materialize(Input(0));
                return [Value.Runtime(_b.Node("Sigmoid", [x]), perm, Input(0).Shape)];
            }
            case "ConcatV2":
                return [Concat(node)];
            case "ResizeBilinear":
                return [Resize(node, Input(0), Ints(node, Input(1), "size"))];
            case "SplitV":
                return Split(node, Input(0), Ints(node, Input(1), "size_splits"), Ints(node, Input(2), "split_dim").Single());
            case "Reshape":
                return [Reshape(node, Input(0), Ints(node, Input(1), "shape"))];
            case "SparseToDense":
                return [SparseToDense(node, Input(0), Input(1), Input(2), Input(3))];
            default:
                throw new NotSupportedException(
                    $"TensorFlow op {node.Op} (node '{node.Name}') has no ONNX mapping here; mapped: Const, Placeholder, Identity, Transpose, Pad, PadV2, " +
                    "Conv2D, MaxPool, Add, AddV2, LeakyRelu, Sigmoid, ConcatV2, ResizeBilinear, SplitV, Reshape, SparseToDense.");
        }
    }

    private Value Transpose(Value x, int[] q)
    {
        if (q.Length != x.Shape.Length)
            throw new InvalidDataException($"Transpose perm [{string.Join(", ", q)}] does not fit a rank-{x.Shape.Length} tensor.");
        long[] shape = q.Select(a => x.Shape[a]).ToArray();
        if (x.Constant is { } c)
            return Value.Of(TransposeConstant(c, q));
        if (x.PadSource is { } source)
            return Value.Padded(Transpose(source, q), q.SelectMany(a => new[] { x.Pads![2 * a], x.Pads[2 * a + 1] }).ToArray(), x.PadFill);
        // U = transpose(T, p) and R = transpose(T, q) give U = transpose(R, p') with p'[i] = q⁻¹[p[i]].
        var qInverse = Inverse(q);
        return Value.Runtime(x.Onnx!, x.Perm!.Select(a => qInverse[a]).ToArray(), shape);
    }

    private Value Conv(TfjsNode node, Value input, Value filterValue)
    {
        var filter = filterValue.Constant?.Floats ?? throw new NotSupportedException($"Conv2D '{node.Name}': the filter must be a float constant.");
        long[] fs = filterValue.Shape; // [kh, kw, in, out]
        var (layout, hAxis, wAxis, cAxis) = Layout(node);
        long[] strides = node.Ints("strides") ?? [1, 1, 1, 1];
        long[] dilations = node.Ints("dilations") is { Length: 4 } d ? d : [1, 1, 1, 1];
        var (source, pads) = Absorb(input, 0f, hAxis, wAxis);
        long channels = source.Shape[cAxis];
        if (channels % fs[2] != 0)
            throw new InvalidDataException($"Conv2D '{node.Name}': {channels} input channels do not split into groups of the filter's {fs[2]}.");
        long groups = channels / fs[2];
        long[] kernel = [fs[0], fs[1]], stride = [strides[hAxis], strides[wAxis]], dilation = [dilations[hAxis], dilations[wAxis]];
        long[] total = Padding(node, source.Shape, hAxis, wAxis, kernel, stride, dilation, pads);
        // HWIO → OIHW.
        var weights = TransposeConstant(new TfjsConstant(fs, filter, null), [3, 2, 0, 1]);
        string w = _b.Initializer(_b.FreshName("tfjs_filter"), weights.Floats, weights.Shape);
        string y = _b.Node("Conv", [As(source, layout), w],
            ("kernel_shape", kernel), ("strides", stride), ("dilations", dilation), ("pads", total), ("group", groups));
        return Value.Runtime(y, layout, OutputShape(source.Shape, hAxis, wAxis, cAxis, fs[3], kernel, stride, dilation, total));
    }

    private Value MaxPool(TfjsNode node, Value input)
    {
        var (layout, hAxis, wAxis, cAxis) = Layout(node);
        long[] ksize = node.Ints("ksize") ?? throw new InvalidDataException($"MaxPool '{node.Name}' has no ksize.");
        long[] strides = node.Ints("strides") ?? [1, 1, 1, 1];
        var (source, pads) = Absorb(input, float.NegativeInfinity, hAxis, wAxis);
        long[] kernel = [ksize[hAxis], ksize[wAxis]], stride = [strides[hAxis], strides[wAxis]];
        long[] total = Padding(node, source.Shape, hAxis, wAxis, kernel, stride, [1, 1], pads);
        string y = _b.Node("MaxPool", [As(source, layout)], ("kernel_shape", kernel), ("strides", stride), ("pads", total));
        return Value.Runtime(y, layout, OutputShape(source.Shape, hAxis, wAxis, cAxis, source.Shape[cAxis], kernel, stride, [1, 1], total));
    }

    /// <summary>The ONNX (NCHW) layout of a 4-D op's data_format, and where H, W and C sit in the TensorFlow tensor.</summary>
    private static (int[] Layout, int H, int W, int C) Layout(TfjsNode node) => (node.String("data_format") ?? "NHWC") switch
    {
        "NHWC" => ([0, 3, 1, 2], 1, 2, 3),
        "NCHW" => ([0, 1, 2, 3], 2, 3, 1),
        var f => throw new NotSupportedException($"{node.Op} '{node.Name}': data_format {f} is not supported."),
    };

    /// <summary>
    /// A held-back Pad with the given fill that pads only H and W becomes the op's own padding: returns the unpadded source
    /// and its (top, left, bottom, right) pads; anything else is materialised and gets zero pads.
    /// </summary>
    private (Value Source, long[] Pads) Absorb(Value input, float fill, int hAxis, int wAxis)
    {
        if (input.PadSource is { } source && input.PadFill.Equals(fill)
            && Enumerable.Range(0, 4).All(a => a == hAxis || a == wAxis || (input.Pads![2 * a] == 0 && input.Pads[2 * a + 1] == 0)))
            return (source, [input.Pads![2 * hAxis], input.Pads[2 * wAxis], input.Pads[2 * hAxis + 1], input.Pads[2 * wAxis + 1]]);
        return (input, [0, 0, 0, 0]);
    }

    /// <summary>ONNX pads (top, left, bottom, right): the absorbed ones plus the op's own padding mode.</summary>
    private static long[] Padding(TfjsNode node, long[] shape, int hAxis, int wAxis, long[] kernel, long[] stride, long[] dilation, long[] pads)
    {
        long[] own = [0, 0, 0, 0];
        switch (node.String("padding") ?? "VALID")
        {
            case "VALID":
                break;
            case "SAME":
                for (int k = 0; k < 2; k++)
                {
                    long size = shape[k == 0 ? hAxis : wAxis] + pads[k] + pads[k + 2];
                    long output = (size + stride[k] - 1) / stride[k];
                    long needed = Math.Max((output - 1) * stride[k] + (kernel[k] - 1) * dilation[k] + 1 - size, 0);
                    own[k] = needed / 2;
                    own[k + 2] = needed - needed / 2;
                }
                break;
            case "EXPLICIT":
                long[] e = node.Ints("explicit_paddings") ?? throw new InvalidDataException($"{node.Op} '{node.Name}': EXPLICIT padding without explicit_paddings.");
                own = [e[2 * hAxis], e[2 * wAxis], e[2 * hAxis + 1], e[2 * wAxis + 1]];
                break;
            case var other:
                throw new NotSupportedException($"{node.Op} '{node.Name}': padding {other} is not supported.");
        }
        return pads.Zip(own, (a, b) => a + b).ToArray();
    }

    private static long[] OutputShape(long[] shape, int hAxis, int wAxis, int cAxis, long channels, long[] kernel, long[] stride, long[] dilation, long[] pads)
    {
        var result = (long[])shape.Clone();
        result[hAxis] = (shape[hAxis] + pads[0] + pads[2] - dilation[0] * (kernel[0] - 1) - 1) / stride[0] + 1;
        result[wAxis] = (shape[wAxis] + pads[1] + pads[3] - dilation[1] * (kernel[1] - 1) - 1) / stride[1] + 1;
        result[cAxis] = channels;
        return result;
    }

    private Value Add(Value a, Value b)
    {
        long[] shape = Broadcast(a.Shape, b.Shape);
        if (a.Constant is { } ca && b.Constant is { } cb)
            return Value.Of(FoldAdd(ca, cb, shape));
        if (a.Constant is not null)
            (a, b) = (b, a);
        if (a.Shape.Length < shape.Length || (b.Constant is null && b.Shape.Length != a.Shape.Length))
        {
            // Ranks differ: ONNX broadcasts as TensorFlow does, on the tensors as they are.
            string left = As(a, Identity(a.Shape.Length)), right = As(b, Identity(b.Shape.Length));
            return Value.Runtime(_b.Node("Add", [left, right]), Identity(shape.Length), shape);
        }
        var (x, perm) = Materialize(a);
        // A constant operand (a bias) is given a's rank and layout, so the Add needs no Transpose.
        var operand = b.Constant is { } c ? Value.Of(c with { Shape = [.. Enumerable.Repeat(1L, a.Shape.Length - c.Shape.Length), .. c.Shape] }) : b;
        return Value.Runtime(_b.Node("Add", [x, As(operand, perm)]), perm, shape);
    }

    private Value Concat(TfjsNode node)
    {
        var parts = node.Inputs[..^1].Select(Get).ToArray();
        long axis = Ints(node, Get(node.Inputs[^1]), "axis").Single();
        int rank = parts[0].Shape.Length;
        int a = (int)(axis < 0 ? axis + rank : axis);
        var (first, perm) = Materialize(parts[0]);
        string[] inputs = [first, .. parts.Skip(1).Select(p => As(p, perm))];
        var shape = (long[])parts[0].Shape.Clone();
        shape[a] = parts.Sum(p => p.Shape[a]);
        return Value.Runtime(_b.Node("Concat", inputs, ("axis", (long)Array.IndexOf(perm, a))), perm, shape);
    }

    private Value Resize(TfjsNode node, Value images, long[] size)
    {
        long[] target = _resizeSize(node, size);
        bool alignCorners = node.Bool("align_corners"), halfPixel = node.Bool("half_pixel_centers");
        string mode = alignCorners ? "align_corners" : halfPixel ? "half_pixel" : "asymmetric";
        long[] s = images.Shape; // NHWC
        string y = _b.Node("Resize", [As(images, [0, 3, 1, 2]), "", "", _b.Int64s(s[0], s[3], target[0], target[1])],
            ("mode", "linear"), ("coordinate_transformation_mode", mode));
        return Value.Runtime(y, [0, 3, 1, 2], [s[0], target[0], target[1], s[3]]);
    }

    private Value[] Split(TfjsNode node, Value x, long[] sizes, long dim)
    {
        int rank = x.Shape.Length;
        int a = (int)(dim < 0 ? dim + rank : dim);
        sizes = (long[])sizes.Clone();
        int unknown = Array.IndexOf(sizes, -1L);
        if (unknown >= 0)
            sizes[unknown] = x.Shape[a] - sizes.Where(v => v >= 0).Sum();
        var (u, perm) = Materialize(x);
        var outputs = sizes.Select(_ => _b.FreshName("tfjs_split")).ToArray();
        _b.Node("Split", [u, _b.Int64s(sizes)], outputs, ("axis", (long)Array.IndexOf(perm, a)));
        return outputs.Select((o, k) =>
        {
            var shape = (long[])x.Shape.Clone();
            shape[a] = sizes[k];
            return Value.Runtime(o, perm, shape);
        }).ToArray();
    }

    private Value Reshape(TfjsNode node, Value x, long[] shape)
    {
        if (shape.Contains(0))
            throw new NotSupportedException($"Reshape '{node.Name}': a zero in the target shape is not supported.");
        long count = x.Shape.Aggregate(1L, (p, d) => p * d), known = shape.Where(d => d > 0).Aggregate(1L, (p, d) => p * d);
        long[] resolved = shape.Select(d => d < 0 ? count / known : d).ToArray();
        if (resolved.Aggregate(1L, (p, d) => p * d) != count)
            throw new InvalidDataException($"Reshape '{node.Name}': [{string.Join(", ", x.Shape)}] cannot become [{string.Join(", ", shape)}].");
        if (x.Constant is { } c)
            return Value.Of(c with { Shape = resolved });
        return Value.Runtime(_b.Node("Reshape", [As(x, Identity(x.Shape.Length)), _b.Int64s(shape)]), Identity(resolved.Length), resolved);
    }

    private static Value SparseToDense(TfjsNode node, Value indices, Value outputShape, Value values, Value fill)
    {
        if (indices.Constant is not { } ci || outputShape.Constant is not { Ints: { } shape } || values.Constant is not { } cv || fill.Constant is not { } cf)
            throw new NotSupportedException($"SparseToDense '{node.Name}': only constant inputs are supported (it is folded into a constant).");
        long count = shape.Aggregate(1L, (p, d) => p * d);
        bool floats = cv.Floats is not null;
        var f = floats ? Enumerable.Repeat(cf.Floats![0], (int)count).ToArray() : null;
        var n = floats ? null : Enumerable.Repeat(cf.Ints![0], (int)count).ToArray();
        long entries = ci.Shape.Length == 0 ? 1 : ci.Shape[0];
        int rank = ci.Shape.Length == 2 ? (int)ci.Shape[1] : 1;
        for (long e = 0; e < entries; e++)
        {
            long flat = 0;
            for (int k = 0; k < rank; k++)
                flat = flat * shape[k] + ci.Ints![e * rank + k];
            long v = cv.Count == 1 ? 0 : e;
            if (floats) f![flat] = cv.Floats![v];
            else n![flat] = cv.Ints![v];
        }
        return Value.Of(new TfjsConstant(shape, f, n));
    }

    /// <summary>The ONNX name and perm of a value (emitting a held-back Pad or a constant on first use).</summary>
    private (string Name, int[] Perm) Materialize(Value v)
    {
        if (v.Onnx is not null)
            return (v.Onnx, v.Perm!);
        if (v.Constant is not null)
        {
            v.Onnx = EmitConstant(v.Constant, Identity(v.Shape.Length));
            v.Perm = Identity(v.Shape.Length);
            return (v.Onnx, v.Perm);
        }
        var (source, perm) = Materialize(v.PadSource!);
        long[] pads = new long[2 * perm.Length];
        for (int i = 0; i < perm.Length; i++)
        {
            pads[i] = v.Pads![2 * perm[i]];
            pads[perm.Length + i] = v.Pads[2 * perm[i] + 1];
        }
        v.Onnx = _b.Node("Pad", [source, _b.Int64s(pads), _b.Scalar(v.PadFill)], ("mode", "constant"));
        v.Perm = perm;
        return (v.Onnx, v.Perm);
    }

    /// <summary>An ONNX tensor equal to transpose(T, <paramref name="layout"/>) for the value's TensorFlow tensor T.</summary>
    private string As(Value v, int[] layout)
    {
        if (v.Constant is { } c)
            return EmitConstant(c, layout);
        var (name, perm) = Materialize(v);
        var inverse = Inverse(perm);
        // transpose(U, r) = transpose(T, layout) for r[i] = p⁻¹[layout[i]].
        long[] r = layout.Select(a => (long)inverse[a]).ToArray();
        return r.Select((a, i) => a == i).All(same => same) ? name : _b.Node("Transpose", [name], ("perm", r));
    }

    private string EmitConstant(TfjsConstant c, int[] layout)
    {
        var t = TransposeConstant(c, layout);
        return t.Floats is not null
            ? _b.Initializer(_b.FreshName("tfjs_const"), t.Floats, t.Shape)
            : _b.Initializer(_b.FreshName("tfjs_const"), t.Ints, t.Shape);
    }

    private static TfjsConstant TransposeConstant(TfjsConstant c, int[] perm)
    {
        long[] shape = perm.Select(a => c.Shape[a]).ToArray();
        if (perm.Select((a, i) => a == i).All(same => same))
            return c with { Shape = shape };
        int rank = perm.Length;
        long[] inStrides = new long[rank];
        for (int k = rank - 1, s = 1; k >= 0; s *= (int)c.Shape[k], k--)
            inStrides[k] = s;
        long count = c.Count;
        var index = new long[rank];
        var floats = c.Floats is null ? null : new float[count];
        var ints = c.Ints is null ? null : new long[count];
        for (long o = 0; o < count; o++)
        {
            long source = 0;
            for (int k = 0; k < rank; k++)
                source += index[k] * inStrides[perm[k]];
            if (floats is not null) floats[o] = c.Floats![source];
            else ints![o] = c.Ints![source];
            for (int k = rank - 1; k >= 0 && ++index[k] == shape[k]; k--)
                index[k] = 0;
        }
        return new TfjsConstant(shape, floats, ints);
    }

    private static TfjsConstant FoldAdd(TfjsConstant a, TfjsConstant b, long[] shape)
    {
        if (!(a.Count == b.Count || a.Count == 1 || b.Count == 1) || (a.Floats is null) != (b.Floats is null))
            throw new NotSupportedException("Add of two constants: only same-shape or scalar operands of one type are folded.");
        long count = Math.Max(a.Count, b.Count);
        if (a.Floats is not null)
            return new TfjsConstant(shape, Enumerable.Range(0, (int)count).Select(i => a.Floats[a.Count == 1 ? 0 : i] + b.Floats![b.Count == 1 ? 0 : i]).ToArray(), null);
        return new TfjsConstant(shape, null, Enumerable.Range(0, (int)count).Select(i => a.Ints![a.Count == 1 ? 0 : i] + b.Ints![b.Count == 1 ? 0 : i]).ToArray());
    }

    private static long[] Broadcast(long[] a, long[] b)
    {
        int rank = Math.Max(a.Length, b.Length);
        var shape = new long[rank];
        for (int k = 0; k < rank; k++)
        {
            long da = k < rank - a.Length ? 1 : a[k - (rank - a.Length)], db = k < rank - b.Length ? 1 : b[k - (rank - b.Length)];
            if (da != db && da != 1 && db != 1)
                throw new InvalidDataException($"Shapes [{string.Join(", ", a)}] and [{string.Join(", ", b)}] do not broadcast.");
            shape[k] = Math.Max(da, db);
        }
        return shape;
    }

    private static long[] Ints(TfjsNode node, Value v, string what) =>
        v.Constant?.Ints ?? throw new NotSupportedException($"{node.Op} '{node.Name}': {what} must be an integer constant.");

    private static float Scalar(TfjsNode node, Value v, string what) =>
        v.Constant is { Floats: [var f] } ? f : throw new NotSupportedException($"{node.Op} '{node.Name}': {what} must be a float scalar constant.");

    private static int[] Identity(int rank) => Enumerable.Range(0, rank).ToArray();

    private static int[] Inverse(int[] perm)
    {
        var inverse = new int[perm.Length];
        for (int i = 0; i < perm.Length; i++)
            inverse[perm[i]] = i;
        return inverse;
    }

    /// <summary>
    /// A TensorFlow tensor: a constant (emitted on first runtime use), an ONNX tensor holding it transposed by Perm,
    /// or a held-back pad of another value (Pads: begin, end per TensorFlow axis).
    /// </summary>
    private sealed class Value
    {
        public required long[] Shape;
        public TfjsConstant? Constant;
        public string? Onnx;
        public int[]? Perm;
        public Value? PadSource;
        public long[]? Pads;
        public float PadFill;

        public static Value Of(TfjsConstant c) => new() { Shape = c.Shape, Constant = c };

        public static Value Runtime(string onnx, int[] perm, long[] shape) => new() { Shape = shape, Onnx = onnx, Perm = perm };

        public static Value Padded(Value source, long[] pads, float fill)
        {
            if (pads.Length != 2 * source.Shape.Length || pads.Any(p => p < 0))
                throw new NotSupportedException($"Pad: paddings [{string.Join(", ", pads)}] do not fit a rank-{source.Shape.Length} tensor (or are negative).");
            return new Value
            {
                Shape = source.Shape.Select((d, a) => d + pads[2 * a] + pads[2 * a + 1]).ToArray(),
                PadSource = source,
                Pads = pads,
                PadFill = fill,
            };
        }
    }
}
