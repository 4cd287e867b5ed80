using Rkde.MLNet.Onnx;
using DataType = Onnx.TensorProto.Types.DataType;

namespace Rkde.MLNet.Regions;

/// <summary>
/// The default region proposer: training-free objectness from the pretrained ResNet18's activations.
/// <para>
/// Saliency: at each location of layer2 (stride 8) and layer3 (stride 16), the distance of the unit-length feature
/// vector from the image's own background (the per-channel median over the image), divided by its mean over the image;
/// layer3's map is resized to layer2's grid and the two are multiplied (an object must stand out at both scales).
/// Anchors: every box of 3…16 × 3…16 cells (24…128 pixels, aspect within 1:3) at every stride-8 position.
/// Objectness: mean saliency inside the box minus the mean of two surround terms, the ring around it (the box grown by
/// half its size per side, clipped to the image) and the brightest of the ring's four side strips — the strip term
/// penalises boxes that cut through an object, which keeps the winners tight. Every region sum comes from one integral
/// image by one gather. Then the top <see cref="PreNmsCount"/> anchors, non-maximum suppression at IoU
/// <see cref="NmsIou"/> (loose: the pipeline's region filter applies its own), and the best <see cref="PostNmsCount"/>
/// boxes in descending objectness; scores are sigmoid(objectness).
/// Measured (top 100 after the default filter, IoU ≥ 0.5): 0.92 of the items of the FashionScenes demo set.
/// </para>
/// </summary>
internal static class ObjectnessProposer
{
    public const int Stride = 8, MinCells = 3, MaxCells = 16;
    public const int PreNmsCount = 3000, PostNmsCount = 300;
    public const float NmsIou = 0.7f;
    public const float MaxAspect = 3f;

    /// <summary>Builds the objectness head on the trunk's layer2/layer3 maps; returns the "boxes" and "scores" tensors.</summary>
    public static (string Boxes, string Scores) AddTo(OnnxGraphBuilder b, ResNet18Features trunk)
    {
        var (h, w) = trunk.MapSize(Stride);
        string s2 = Saliency(b, trunk.Layer2, "layer2");
        string s3 = Saliency(b, trunk.Layer3, "layer3");
        string s3Up = b.Node("Resize", [s3, "", "", b.Int64s(1, 1, h, w)], ("mode", "linear"), ("coordinate_transformation_mode", "half_pixel"));
        string saliency = b.Node("Mul", [s2, s3Up]);

        // Integral image with a zero first row and column, flattened: [(h+1)·(w+1)].
        string padded = b.Node("Pad", [saliency, b.Int64s(0, 0, 1, 1, 0, 0, 0, 0)]);
        string integral = b.Node("CumSum", [b.Node("CumSum", [padded, b.Int64s(2)]), b.Int64s(3)]);
        string flat = b.Node("Reshape", [integral, b.Int64s(-1)]);

        // One gather reads the four integral-image corners of every region of every anchor: [4, Regions, A].
        var anchors = Anchors.Build(h, w, trunk.Width, trunk.Height);
        string corners = b.Node("Gather", [flat, b.Initializer("anchor_corners", anchors.Corners, 4, Anchors.Regions, anchors.Count)], ("axis", 0L));
        string Corner(int k) => b.Node("Squeeze", [b.Node("Slice", [corners, b.Int64s(k), b.Int64s(k + 1), b.Int64s(0)]), b.Int64s(0)]);
        string sums = b.Node("Sub", [b.Node("Add", [Corner(3), Corner(0)]), b.Node("Add", [Corner(1), Corner(2)])]);
        string means = b.Node("Mul", [sums, b.Initializer("anchor_inv_areas", anchors.InverseAreas, Anchors.Regions, anchors.Count)]);
        string Rows(string x, int from, int to) => b.Node("Slice", [x, b.Int64s(from), b.Int64s(to), b.Int64s(0)]);
        string innerMean = Rows(means, Anchors.Inner, Anchors.Inner + 1);
        string ringSum = b.Node("Sub", [Rows(sums, Anchors.Outer, Anchors.Outer + 1), Rows(sums, Anchors.Inner, Anchors.Inner + 1)]);
        string ringMean = b.Node("Mul", [ringSum, b.Initializer("anchor_inv_ring_areas", anchors.InverseRingAreas, 1, anchors.Count)]);
        string sideMax = b.Node("ReduceMax", [Rows(means, Anchors.FirstSide, Anchors.Regions)], ("axes", new long[] { 0 }), ("keepdims", 1L));
        string surround = b.Node("Mul", [b.Node("Add", [sideMax, ringMean]), b.Scalar(0.5f)]);
        string contrast = b.Node("Reshape", [b.Node("Sub", [innerMean, surround]), b.Int64s(-1)]);

        int pre = Math.Min(PreNmsCount, anchors.Count);
        var top = b.Node("TopK", [contrast, b.Int64s(pre)], [b.FreshName("top_values"), b.FreshName("top_indices")], ("axis", 0L), ("largest", 1L), ("sorted", 1L));
        string topBoxes = b.Node("Gather", [b.Initializer("anchor_boxes", anchors.Boxes, anchors.Count, 4), top[1]], ("axis", 0L));
        string topScores = b.Node("Sigmoid", [top[0]]);

        // NonMaxSuppression wants boxes [1, K, 4] and scores [1, 1, K]; it returns the kept rows in descending score order.
        string nmsBoxes = b.Node("Unsqueeze", [topBoxes, b.Int64s(0)]);
        string nmsScores = b.Node("Reshape", [topScores, b.Int64s(1, 1, -1)]);
        string selected = b.Node("NonMaxSuppression", [nmsBoxes, nmsScores, b.Int64s(PostNmsCount), b.Scalar(NmsIou)]);
        string keep = b.Node("Reshape", [b.Node("Slice", [selected, b.Int64s(2), b.Int64s(3), b.Int64s(1)]), b.Int64s(-1)]);
        string boxes = b.Node("Unsqueeze", [b.Node("Gather", [topBoxes, keep], ("axis", 0L)), b.Int64s(0)]);
        string scores = b.Node("Unsqueeze", [b.Node("Gather", [topScores, keep], ("axis", 0L)), b.Int64s(0)]);
        return (boxes, scores);
    }

    /// <summary>‖f/‖f‖ − median‖₂ over channels at each location, divided by its mean over the image: [1, 1, h, w].</summary>
    private static string Saliency(OnnxGraphBuilder b, string map, string stem)
    {
        // Unit-length feature vectors: the distance then measures a change of pattern, not of activation strength.
        map = b.Node("Div", [map, b.Node("Add", [b.Node("ReduceL2", [map], ("axes", new long[] { 1 }), ("keepdims", 1L)), b.Scalar(1e-6f)])]);
        // Per-channel median over locations: the ⌈hw/2⌉-th largest value, via TopK on [C, hw].
        string shape = b.Node("Shape", [map]);
        string channels = b.Node("Slice", [shape, b.Int64s(1), b.Int64s(2), b.Int64s(0)]);
        string flat = b.Node("Reshape", [map, b.Node("Concat", [channels, b.Int64s(-1)], ("axis", 0L))]);
        string count = b.Node("Slice", [b.Node("Shape", [flat]), b.Int64s(1), b.Int64s(2), b.Int64s(0)]);
        string half = b.Node("Div", [b.Node("Add", [count, b.Int64s(1)]), b.Int64s(2)]);
        var sorted = b.Node("TopK", [flat, half], [b.FreshName(stem + "_sorted"), b.FreshName(stem + "_sorted_idx")], ("axis", 1L), ("largest", 1L), ("sorted", 1L));
        string median = b.Node("Reshape", [b.Node("Slice", [sorted[0], b.Int64s(-1), b.Int64s(long.MaxValue), b.Int64s(1)]), b.Int64s(1, -1, 1, 1)]);
        string diff = b.Node("Sub", [map, median]);
        string distance = b.Node("Sqrt", [b.Node("ReduceSum", [b.Node("Mul", [diff, diff]), b.Int64s(1)], ("keepdims", 1L))]);
        string mean = b.Node("ReduceMean", [distance], ("axes", new long[] { 2, 3 }), ("keepdims", 1L));
        return b.Node("Div", [distance, b.Node("Add", [mean, b.Scalar(1e-6f)])]);
    }

    /// <summary>
    /// The fixed anchor set of one map size. For each anchor, <see cref="Regions"/> regions (the box, the box grown by
    /// half its size per side and clipped, and the four side strips of that ring), each as four flat integral-image
    /// indices (corner k of region r of anchor a at [k, r, a]) and an inverse area (1 for empty strips at the border).
    /// </summary>
    private sealed class Anchors
    {
        public const int Inner = 0, Outer = 1, FirstSide = 2, Regions = 6;
        public int Count;
        public int[] Corners = [];
        public float[] InverseAreas = [], InverseRingAreas = [], Boxes = [];

        public static Anchors Build(int h, int w, int width, int height)
        {
            var regions = new List<(int Y0, int X0, int Y1, int X1)>[Regions];
            for (int r = 0; r < Regions; r++)
                regions[r] = [];
            var ringInv = new List<float>();
            var boxes = new List<float>();
            for (int bh = MinCells; bh <= Math.Min(MaxCells, h); bh++)
            {
                for (int bw = MinCells; bw <= Math.Min(MaxCells, w); bw++)
                {
                    if (bw > MaxAspect * bh || bh > MaxAspect * bw)
                        continue;
                    int my = (bh + 1) / 2, mx = (bw + 1) / 2;
                    for (int y0 = 0; y0 + bh <= h; y0++)
                    {
                        for (int x0 = 0; x0 + bw <= w; x0++)
                        {
                            int y1 = y0 + bh, x1 = x0 + bw;
                            int oy0 = Math.Max(0, y0 - my), ox0 = Math.Max(0, x0 - mx), oy1 = Math.Min(h, y1 + my), ox1 = Math.Min(w, x1 + mx);
                            regions[Inner].Add((y0, x0, y1, x1));
                            regions[Outer].Add((oy0, ox0, oy1, ox1));
                            regions[FirstSide].Add((oy0, x0, y0, x1));
                            regions[FirstSide + 1].Add((y1, x0, oy1, x1));
                            regions[FirstSide + 2].Add((y0, ox0, y1, x0));
                            regions[FirstSide + 3].Add((y0, x1, y1, ox1));
                            ringInv.Add(1f / Math.Max(1, (oy1 - oy0) * (ox1 - ox0) - bh * bw));
                            boxes.AddRange([x0 * Stride, y0 * Stride, Math.Min(width, x1 * Stride), Math.Min(height, y1 * Stride)]);
                        }
                    }
                }
            }
            int count = ringInv.Count, row = w + 1;
            var corners = new int[4 * Regions * count];
            var inverseAreas = new float[Regions * count];
            for (int r = 0; r < Regions; r++)
            {
                for (int a = 0; a < count; a++)
                {
                    var (y0, x0, y1, x1) = regions[r][a];
                    corners[(0 * Regions + r) * count + a] = y0 * row + x0;
                    corners[(1 * Regions + r) * count + a] = y0 * row + x1;
                    corners[(2 * Regions + r) * count + a] = y1 * row + x0;
                    corners[(3 * Regions + r) * count + a] = y1 * row + x1;
                    inverseAreas[r * count + a] = 1f / Math.Max(1, (y1 - y0) * (x1 - x0));
                }
            }
            return new Anchors { Count = count, Corners = corners, InverseAreas = inverseAreas, InverseRingAreas = [.. ringInv], Boxes = [.. boxes] };
        }
    }
}
