using Rkde.MLNet.Onnx;
using DataType = Onnx.TensorProto.Types.DataType;
using Rkde.MLNet.Checks;

namespace Rkde.MLNet.Regions;

/// <summary>
/// Emits anomalib's region post-processing as an ONNX graph: drop scores ≤ threshold, drop boxes narrower or lower
/// than the minimum size, class-agnostic NMS (suppress IoU &gt; threshold, highest score first, ties by lower
/// index), keep the first MaxDetectionsPerImage. Selection uses the boxes as given; the outputs are clipped to the
/// image afterwards.
/// </summary>
/// <remarks>
/// ONNX Runtime's NonMaxSuppression suppresses on IoU &gt; threshold, as torchvision does, with the same float
/// IoU formula, but its order among equal scores is an implementation detail. The graph therefore sorts the
/// candidates itself with TopK (stable: equal scores keep input order) and hands NMS their ranks (M, M − 1, …) as
/// scores, so selection order is fully defined by the graph.
/// </remarks>
internal static class RegionFilterGraph
{
    public static byte[] Build(RegionFilterOptions options, int width, int height, RegionFilterGraphNames? names = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        OptionChecks.AtLeast(nameof(width), width, 1);
        OptionChecks.AtLeast(nameof(height), height, 1);
        names ??= new RegionFilterGraphNames();

        var g = new OnnxGraphBuilder("rkde_regions", opset: 18);
        OnnxModelContract.Stamp(g, "regions");
        string boxesIn = g.Input(names.Boxes, DataType.Float, 1L, "N", 4L);
        string scoresIn = g.Input(names.Scores, DataType.Float, 1L, "N");

        string boxes = g.Node("Squeeze", [boxesIn, g.Int64s(0)]);   // [N, 4]
        string scores = g.Node("Squeeze", [scoresIn, g.Int64s(0)]); // [N]

        // Candidates: score > threshold, width ≥ min and height ≥ min (NaN fails every test and is dropped).
        string Column(int c) => g.Node("Squeeze", [g.Node("Gather", [boxes, g.Int64s(c)], ("axis", 1L)), g.Int64s(1)]);
        string minSize = g.Scalar(options.MinBoxSize);
        string wide = g.Node("GreaterOrEqual", [g.Node("Sub", [Column(2), Column(0)]), minSize]);
        string tall = g.Node("GreaterOrEqual", [g.Node("Sub", [Column(3), Column(1)]), minSize]);
        string confident = g.Node("Greater", [scores, g.Scalar(options.RoiScoreThreshold)]);
        string keep = g.Node("And", [confident, g.Node("And", [wide, tall])]);
        string candidates = g.Node("Squeeze", [g.Node("NonZero", [keep]), g.Int64s(0)]); // [M] input indices

        // Stable descending sort of the candidates by score.
        string candidateScores = g.Node("Gather", [scores, candidates], ("axis", 0L));
        string[] sorted = g.Node("TopK", [candidateScores, g.Node("Shape", [candidateScores])],
            [g.FreshName("sorted_scores"), g.FreshName("sorted_order")], ("axis", 0L), ("largest", 1L), ("sorted", 1L));
        string order = g.Node("Gather", [candidates, sorted[1]], ("axis", 0L)); // [M] input indices, best first
        string orderedBoxes = g.Node("Gather", [boxes, order], ("axis", 0L));  // [M, 4]

        // NMS over ranks: scores M, M−1, …, 1 make its visiting order the sorted order.
        string count = g.Node("Cast", [g.Node("Squeeze", [g.Node("Shape", [order])])], ("to", (long)DataType.Float));
        string ranks = g.Node("Range", [count, g.Scalar(0f), g.Scalar(-1f)]);
        string selected = g.Node("NonMaxSuppression",
        [
            g.Node("Unsqueeze", [orderedBoxes, g.Int64s(0)]),
            g.Node("Unsqueeze", [ranks, g.Int64s(0, 1)]),
            g.Initializer(g.FreshName("max_detections"), [(long)options.MaxDetectionsPerImage], 1),
            g.Initializer(g.FreshName("iou_threshold"), [options.IouThreshold], 1),
        ]);
        string selectedRanks = g.Node("Squeeze", [g.Node("Gather", [selected, g.Int64s(2)], ("axis", 1L)), g.Int64s(1)]);
        string kept = g.Node("Gather", [order, selectedRanks], ("axis", 0L)); // [K] input indices

        string keptBoxes = g.Node("Gather", [boxes, kept], ("axis", 0L));
        string size = g.Initializer(g.FreshName("image_size"), [(float)width, height, width, height], 4);
        string clipped = g.Node("Min", [g.Node("Max", [keptBoxes, g.Scalar(0f)]), size]);

        g.Output(names.KeptBoxes, g.Node("Unsqueeze", [clipped, g.Int64s(0)]), DataType.Float, 1L, "K", 4L);
        g.Output(names.KeptScores, g.Node("Unsqueeze", [g.Node("Gather", [scores, kept], ("axis", 0L)), g.Int64s(0)]),
            DataType.Float, 1L, "K");
        g.Output(names.KeptBoxesNormalized, g.Node("Unsqueeze", [g.Node("Div", [clipped, size]), g.Int64s(0)]),
            DataType.Float, 1L, "K", 4L);
        g.Output(names.KeptIndices, g.Node("Unsqueeze", [kept, g.Int64s(0)]), DataType.Int64, 1L, "K");
        return g.ToBytes();
    }
}
