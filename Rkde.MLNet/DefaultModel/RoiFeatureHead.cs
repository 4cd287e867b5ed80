using Rkde.MLNet.Onnx;
using DataType = Onnx.TensorProto.Types.DataType;

namespace Rkde.MLNet.DefaultModel;

/// <summary>
/// One trunk map the feature head pools from: its graph input name, channels, stride, the RoIAlign grid (Grid × Grid
/// cells, kept as spatial layout) and the samples per cell side. With <paramref name="WeightName"/> (a [1, 1, h, w] map of
/// non-negative weights on the same grid, e.g. the proposer's saliency) each cell is the weighted mean of the map instead of
/// the plain mean: pooling favours what the weights say is object over background.
/// </summary>
internal sealed record RoiFeatureSource(string InputName, int Channels, int Stride, int Grid, int SamplingRatio, string? WeightName = null)
{
    public int Dimension => Channels * Grid * Grid;
}

/// <summary>
/// The default RoI feature head: for each box, RoIAlign (opset 16, <c>half_pixel</c> coordinates: pixel centres at
/// +0.5, like torchvision's aligned=True) on each source map into a Grid × Grid grid of averaged cells, flattened
/// (channel-major), each part L2-normalised, and — with several sources — concatenated and L2-normalised again →
/// "features" [1, N, D]. Unit-length features keep the density stage well conditioned (cosine geometry).
/// </summary>
internal static class RoiFeatureHead
{
    public static string AddTo(OnnxGraphBuilder b, string boxes, IReadOnlyList<RoiFeatureSource> sources)
    {
        string rois = b.Node("Reshape", [boxes, b.Int64s(-1, 4)]);
        string count = b.Node("Slice", [b.Node("Shape", [rois]), b.Int64s(0), b.Int64s(1), b.Int64s(0)]);
        string batchIndices = b.Node("ConstantOfShape", [count], ("value", Int64Tensor(0)));
        var parts = new List<string>();
        foreach (var source in sources)
        {
            string Align(string map) => b.Node("RoiAlign", [map, rois, batchIndices],
                ("mode", "avg"), ("output_height", (long)source.Grid), ("output_width", (long)source.Grid),
                ("sampling_ratio", (long)source.SamplingRatio), ("spatial_scale", 1f / source.Stride), ("coordinate_transformation_mode", "half_pixel"));
            // Weighted: RoIAlign's average of map·w over its average of w, per cell (the same samples in both).
            string aligned = source.WeightName is null
                ? Align(source.InputName)
                : b.Node("Div", [Align(b.Node("Mul", [source.InputName, source.WeightName])), b.Node("Add", [Align(source.WeightName), b.Scalar(1e-6f)])]);
            string pooled = b.Node("Flatten", [aligned], ("axis", 1L));
            parts.Add(L2Normalise(b, pooled));
        }
        string joined = parts.Count == 1 ? parts[0] : L2Normalise(b, b.Node("Concat", [.. parts], ("axis", 1L)));
        return b.Node("Unsqueeze", [joined, b.Int64s(0)]);
    }

    public static int Dimension(IReadOnlyList<RoiFeatureSource> sources) => sources.Sum(s => s.Dimension);

    private static string L2Normalise(OnnxGraphBuilder b, string rows)
    {
        string norm = b.Node("ReduceL2", [rows], ("axes", new long[] { 1 }), ("keepdims", 1L));
        return b.Node("Div", [rows, b.Node("Add", [norm, b.Scalar(1e-6f)])]);
    }

    private static global::Onnx.TensorProto Int64Tensor(long value)
    {
        var t = new global::Onnx.TensorProto { DataType = (int)DataType.Int64 };
        t.Dims.Add(1);
        t.Int64Data.Add(value);
        return t;
    }
}
