using Rkde.MLNet.DefaultModel;
using Rkde.MLNet.Onnx;
using DataType = Onnx.TensorProto.Types.DataType;

namespace Rkde.MLNet.NanoDet;

/// <summary>A NanoDet feature map the proposer outputs: its output name, the graph tensor it holds, channels and stride.</summary>
internal sealed record NanoDetMap(string OutputName, string GraphTensor, int Channels, int Stride);

/// <summary>
/// Builds the NanoDet proposer and feature extractor as ONNX graphs for a pipeline input size.
/// <para>
/// Proposer: "image" [1, 3, H, W] (RGB, 0–1) → letterbox (<see cref="NanoDetLetterbox"/>: bilinear resize, black padding)
/// → BGR, (255·x − mean) / std as NanoDet was trained (one 1 × 1 convolution) → the converted network → GFL decoding of
/// every location of strides 8, 16 and 32 whose centre lies on the image: the box side distances are the expected value of
/// a softmax over 11 bins × stride from centres at (i + 0.5)·stride, the score is the highest of the 80 COCO class
/// probabilities. Boxes are mapped back to input pixels and clipped; the <see cref="PreFilterCount"/> best come out in
/// descending score order as "boxes" [1, N, 4] and "scores" [1, N], with "classes" [1, N] (int64 COCO index) and the
/// feature maps of <see cref="Maps"/>.
/// </para>
/// </summary>
internal static class NanoDetGraphs
{
    /// <summary>NanoDet's input normalisation, BGR order.</summary>
    public static readonly float[] MeanBgr = [103.53f, 116.28f, 123.675f], StdBgr = [57.375f, 57.12f, 58.395f];

    /// <summary>GFL's regression range: distances are bins 0…RegMax, in strides.</summary>
    public const int RegMax = 10;

    public const int Classes = 80;

    /// <summary>At most this many boxes leave the proposer (NanoDet's own pre-NMS cap); the region filter then picks.</summary>
    public const int PreFilterCount = 1000;

    public const string InputPlaceholder = "input_1";

    /// <summary>The proposer's output of COCO class indices (int64) beside boxes and scores.</summary>
    public const string ClassesName = "classes";

    /// <summary>
    /// The maps the proposer can output for a feature extractor: the backbone's stride-8 and stride-16 stage outputs (what
    /// <see cref="NanoDetModels"/> reads) and the PAN neck's (measured as candidates, docs/nanodet.md).
    /// </summary>
    public static readonly NanoDetMap[] Maps =
    [
        new(NanoDetModels.Stride8MapName, "PartitionedCall/onnx_tf_prefix_Concat_27", 128, 8),
        new(NanoDetModels.Stride16MapName, "PartitionedCall/onnx_tf_prefix_Concat_42", 256, 16),
        new("nanodet_pan_s8", "PartitionedCall/onnx_tf_prefix_Add_107", 128, 8),
        new("nanodet_pan_s16", "PartitionedCall/onnx_tf_prefix_Add_128", 128, 16),
    ];

    private static readonly int[] Strides = [8, 16, 32];

    public static byte[] Proposer(TfjsGraphModel model, int width, int height, IEnumerable<KeyValuePair<string, string>> metadata, IReadOnlyList<NanoDetMap>? maps = null)
    {
        var box = NanoDetLetterbox.For(width, height);
        var b = new OnnxGraphBuilder("rkde_nanodet_proposer");
        string image = b.Input("image", DataType.Float, 1, 3, height, width);
        string input = Preprocess(b, image, box);

        var converter = new TfjsToOnnx(b, model, (node, size) => PatchResize(node, size, box));
        converter.Bind(InputPlaceholder, input, [1, 3, box.NetworkHeight, box.NetworkWidth]);
        var (cls, reg) = HeadOutputs(converter, model, box);
        var anchors = Anchors(box);

        // [1, A, 80] and [1, A, 44] over the anchors on the image, in stride order.
        string onImage = b.Initializer("nanodet_anchor_index", anchors.Index, anchors.Count);
        string scores80 = b.Node("Gather", [b.Node("Concat", cls, ("axis", 1L)), onImage], ("axis", 1L));
        string logits = b.Node("Gather", [b.Node("Concat", reg, ("axis", 1L)), onImage], ("axis", 1L));
        string scores = b.Node("ReduceMax", [scores80], ("axes", new long[] { 2 }), ("keepdims", 0L));
        string classes = b.Node("ArgMax", [scores80], ("axis", 2L), ("keepdims", 0L));

        // GFL: softmax over the 11 bins of each side, expected bin, times the stride; boxes from the centres.
        string bins = b.Node("Softmax", [b.Node("Reshape", [logits, b.Int64s(1, -1, 4, RegMax + 1)])], ("axis", -1L));
        string expected = b.Node("Reshape", [b.Node("MatMul", [bins, b.Initializer("nanodet_bins", Enumerable.Range(0, RegMax + 1).Select(i => (float)i).ToArray(), RegMax + 1, 1)]), b.Int64s(1, -1, 4)]);
        string network = b.Node("Add", [b.Initializer("nanodet_centres", anchors.Centres, 1, anchors.Count, 4),
            b.Node("Mul", [expected, b.Initializer("nanodet_signed_strides", anchors.SignedStrides, 1, anchors.Count, 4)])]);
        string pixels = b.Node("Mul", [network, b.Initializer("nanodet_to_input", [1 / box.ScaleX, 1 / box.ScaleY, 1 / box.ScaleX, 1 / box.ScaleY], 4)]);
        string clipped = b.Node("Min", [b.Node("Max", [pixels, b.Scalar(0f)]), b.Initializer("nanodet_limits", [(float)width, height, width, height], 4)]);

        int k = Math.Min(PreFilterCount, anchors.Count);
        var top = b.Node("TopK", [scores, b.Int64s(k)], [b.FreshName("top_scores"), b.FreshName("top_index")], ("axis", 1L), ("largest", 1L), ("sorted", 1L));
        string topBoxes = b.Node("Unsqueeze", [b.Node("Gather", [b.Node("Squeeze", [clipped, b.Int64s(0)]), b.Node("Squeeze", [top[1], b.Int64s(0)])], ("axis", 0L)), b.Int64s(0)]);
        string topClasses = b.Node("GatherElements", [classes, top[1]], ("axis", 1L));

        b.Output("boxes", topBoxes, DataType.Float, 1, "N", 4);
        b.Output("scores", top[0], DataType.Float, 1, "N");
        b.Output(ClassesName, topClasses, DataType.Int64, 1, "N");
        foreach (var map in maps ?? Maps)
            b.Output(map.OutputName, converter.Tensor(map.GraphTensor), DataType.Float, 1, map.Channels, box.NetworkHeight / map.Stride, box.NetworkWidth / map.Stride);
        Describe(b, "regions", width, height, metadata);
        return b.ToBytes();
    }

    /// <summary>
    /// The feature extractor: the proposer's maps named by <paramref name="sources"/> and "boxes" [1, N, 4] (input pixels) →
    /// boxes moved into the letterboxed network input → RoIAlign into each source's grid, L2-normalised
    /// (<see cref="RoiFeatureHead"/>) → "features" [1, N, D].
    /// </summary>
    public static byte[] FeatureExtractor(int width, int height, IReadOnlyList<RoiFeatureSource> sources, IEnumerable<KeyValuePair<string, string>> metadata)
    {
        var box = NanoDetLetterbox.For(width, height);
        var b = new OnnxGraphBuilder("rkde_nanodet_features");
        foreach (var source in sources)
            b.Input(source.InputName, DataType.Float, 1, source.Channels, box.NetworkHeight / source.Stride, box.NetworkWidth / source.Stride);
        string boxes = b.Input("boxes", DataType.Float, 1, "N", 4);
        string network = b.Node("Mul", [boxes, b.Initializer("nanodet_to_network", [box.ScaleX, box.ScaleY, box.ScaleX, box.ScaleY], 4)]);
        b.Output("features", RoiFeatureHead.AddTo(b, network, sources), DataType.Float, 1, "N", RoiFeatureHead.Dimension(sources));
        Describe(b, "features", width, height, metadata);
        return b.ToBytes();
    }

    /// <summary>Letterbox and normalisation of the RGB 0–1 image: [1, 3, network height, network width], BGR, NanoDet's scale.</summary>
    private static string Preprocess(OnnxGraphBuilder b, string image, NanoDetLetterbox box)
    {
        string x = image;
        if (box.ResizedWidth != box.Width || box.ResizedHeight != box.Height)
            x = b.Node("Resize", [x, "", "", b.Int64s(1, 3, box.ResizedHeight, box.ResizedWidth)], ("mode", "linear"), ("coordinate_transformation_mode", "half_pixel"));
        if (box.NetworkWidth != box.ResizedWidth || box.NetworkHeight != box.ResizedHeight)
            x = b.Node("Pad", [x, b.Int64s(0, 0, 0, 0, 0, 0, box.NetworkHeight - box.ResizedHeight, box.NetworkWidth - box.ResizedWidth)], ("mode", "constant"));
        // Output channel c (B, G, R) reads input channel 2 − c: 255·x / std − mean / std.
        var weights = new float[9];
        var bias = new float[3];
        for (int c = 0; c < 3; c++)
        {
            weights[3 * c + (2 - c)] = 255f / StdBgr[c];
            bias[c] = -MeanBgr[c] / StdBgr[c];
        }
        return b.Node("Conv", [x, b.Initializer("nanodet_normalise_w", weights, 3, 3, 1, 1), b.Initializer("nanodet_normalise_b", bias, 3)], ("kernel_shape", new long[] { 1, 1 }));
    }

    /// <summary>The graph's four resize sizes are fixed for 416 × 416; other network sizes scale them (exact for multiples of 32).</summary>
    private static long[] PatchResize(TfjsNode node, long[] size, NanoDetLetterbox box)
    {
        long h = size[0] * box.NetworkHeight, w = size[1] * box.NetworkWidth;
        if (h % NanoDetLetterbox.NetworkSide != 0 || w % NanoDetLetterbox.NetworkSide != 0)
            throw new InvalidDataException($"ResizeBilinear '{node.Name}' to [{size[0]}, {size[1]}] does not scale to a {box.NetworkWidth} × {box.NetworkHeight} input.");
        return [h / NanoDetLetterbox.NetworkSide, w / NanoDetLetterbox.NetworkSide];
    }

    /// <summary>The class-probability and box-logit outputs ([1, HW, 80], [1, HW, 44]) per stride, in stride order.</summary>
    private static (string[] Cls, string[] Reg) HeadOutputs(TfjsToOnnx converter, TfjsGraphModel model, NanoDetLetterbox box)
    {
        var cls = new string[Strides.Length];
        var reg = new string[Strides.Length];
        foreach (var output in model.Outputs)
        {
            long[] shape = converter.Shape(output);
            int level = Array.FindIndex(Strides, s => shape.Length == 3 && shape[1] == (long)(box.NetworkHeight / s) * (box.NetworkWidth / s));
            if (level < 0 || shape[2] is not (Classes or 4 * (RegMax + 1)))
                throw new InvalidDataException($"NanoDet output '{output}' is [{string.Join(", ", shape)}]; expected [1, locations of stride 8, 16 or 32, {Classes} or {4 * (RegMax + 1)}].");
            (shape[2] == Classes ? cls : reg)[level] = converter.Tensor(output);
        }
        if (cls.Concat(reg).Any(o => o is null))
            throw new InvalidDataException("The NanoDet graph lacks a class or box output for one of strides 8, 16 and 32.");
        return (cls, reg);
    }

    /// <summary>
    /// The anchor points on the image (centre inside the resized image, not the padding), in the head's order (stride, row,
    /// column): their index among all locations, centre (x, y, x, y) and stride × (−1, −1, 1, 1).
    /// </summary>
    private static (long[] Index, float[] Centres, float[] SignedStrides, int Count) Anchors(NanoDetLetterbox box)
    {
        var index = new List<long>();
        var centres = new List<float>();
        var strides = new List<float>();
        long offset = 0;
        foreach (int s in Strides)
        {
            int h = box.NetworkHeight / s, w = box.NetworkWidth / s;
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++)
                {
                    float cx = (x + 0.5f) * s, cy = (y + 0.5f) * s;
                    if (cx < box.ResizedWidth && cy < box.ResizedHeight)
                    {
                        index.Add(offset + (long)y * w + x);
                        centres.AddRange([cx, cy, cx, cy]);
                        strides.AddRange([-s, -s, s, s]);
                    }
                }
            offset += (long)h * w;
        }
        return ([.. index], [.. centres], [.. strides], index.Count);
    }

    private static void Describe(OnnxGraphBuilder b, string stage, int width, int height, IEnumerable<KeyValuePair<string, string>> metadata)
    {
        OnnxModelContract.Stamp(b, stage);
        foreach (var (key, value) in metadata)
            b.Metadata(key, value);
        b.Metadata("rkde_input_size", $"{width}x{height}");
    }
}
