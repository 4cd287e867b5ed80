using Rkde.MLNet.Onnx;
using DataType = Onnx.TensorProto.Types.DataType;

namespace Rkde.MLNet.Regions;

/// <summary>
/// The default region proposer: training-free objectness from the pretrained ResNet18's activations.
/// <para>
/// Saliency: at each location of layer2 (stride 8) and layer3 (stride 16), the distance of the feature vector from the
/// image's own background, the per-channel median over the image, divided by its mean over the image; layer3's map is
/// resized to layer2's grid and the two are added. Anchors: every box of 3…16 × 3…16 cells (24…128 pixels, aspect
/// within 1:3) at every stride-8 position. Objectness: centre-surround contrast — mean saliency inside the box minus
/// mean saliency in the ring around it (the box grown by half its size on each side, clipped to the image), all box
/// sums read from one integral image by four gathers. Then the top <see cref="PreNmsCount"/> anchors, non-maximum
/// suppression, and the best <see cref="PostNmsCount"/> boxes in descending objectness. Scores are sigmoid(contrast).
/// </para>
/// </summary>
internal static class ObjectnessProposer
{
    public const int Stride = 8, MinCells = 3, MaxCells = 16;
    public const int PreNmsCount = 3000, PostNmsCount = 300;
    public const float NmsIou = 0.5f;
    public const float MaxAspect = 3f;

    /// <summary>Builds the objectness head on the trunk's layer2/layer3 maps; returns the "boxes" and "scores" tensors.</summary>
    public static (string Boxes, string Scores) AddTo(OnnxGraphBuilder b, ResNet18Features trunk)
    {
        var (h, w) = trunk.MapSize(Stride);
        string s2 = Saliency(b, trunk.Layer2, "layer2");
        string s3 = Saliency(b, trunk.Layer3, "layer3");
        string s3Up = b.Node("Resize", [s3, "", "", b.Int64s(1, 1, h, w)], ("mode", "linear"), ("coordinate_transformation_mode", "half_pixel"));
        string saliency = b.Node("Add", [s2, s3Up]);

        // Integral image with a zero first row and column: [(h+1)·(w+1)].
        string padded = b.Node("Pad", [saliency, b.Int64s(0, 0, 1, 1, 0, 0, 0, 0)]);
        string integral = b.Node("CumSum", [b.Node("CumSum", [padded, b.Int64s(2)]), b.Int64s(3)]);
        string flat = b.Node("Reshape", [integral, b.Int64s(-1)]);

        var anchors = Anchors.Build(h, w, trunk.Width, trunk.Height);
        string BoxSum(int[][] corners, string stem)
        {
            string G(int k) => b.Node("Gather", [flat, b.Initializer(b.FreshName(stem), corners[k], corners[k].Length)], ("axis", 0L));
            return b.Node("Sub", [b.Node("Add", [G(3), G(0)]), b.Node("Add", [G(1), G(2)])]);
        }
        string inner = BoxSum(anchors.Inner, "inner_idx");
        string outer = BoxSum(anchors.Outer, "outer_idx");
        string innerMean = b.Node("Mul", [inner, b.Initializer("inner_inv_area", anchors.InnerInvArea, anchors.Count)]);
        string ringMean = b.Node("Mul", [b.Node("Sub", [outer, inner]), b.Initializer("ring_inv_area", anchors.RingInvArea, anchors.Count)]);
        string contrast = b.Node("Sub", [innerMean, ringMean]);

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

    /// <summary>‖f − median f‖₂ over channels at each location, divided by its mean over the image: [1, 1, h, w].</summary>
    private static string Saliency(OnnxGraphBuilder b, string map, string stem)
    {
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

    /// <summary>The fixed anchor set of one map size: integral-image corner indices, inverse areas, pixel boxes.</summary>
    private sealed class Anchors
    {
        public int Count;
        public int[][] Inner = [], Outer = [];
        public float[] InnerInvArea = [], RingInvArea = [], Boxes = [];

        public static Anchors Build(int h, int w, int width, int height)
        {
            var inner = new[] { new List<int>(), new List<int>(), new List<int>(), new List<int>() };
            var outer = new[] { new List<int>(), new List<int>(), new List<int>(), new List<int>() };
            var innerInv = new List<float>();
            var ringInv = new List<float>();
            var boxes = new List<float>();
            int stride1 = w + 1;
            void Corners(List<int>[] into, int y0, int x0, int y1, int x1)
            {
                into[0].Add(y0 * stride1 + x0);
                into[1].Add(y0 * stride1 + x1);
                into[2].Add(y1 * stride1 + x0);
                into[3].Add(y1 * stride1 + x1);
            }
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
                            Corners(inner, y0, x0, y1, x1);
                            Corners(outer, oy0, ox0, oy1, ox1);
                            float area = bh * bw;
                            innerInv.Add(1f / area);
                            ringInv.Add(1f / Math.Max(1f, (oy1 - oy0) * (ox1 - ox0) - area));
                            boxes.Add(x0 * Stride);
                            boxes.Add(y0 * Stride);
                            boxes.Add(Math.Min(width, x1 * Stride));
                            boxes.Add(Math.Min(height, y1 * Stride));
                        }
                    }
                }
            }
            return new Anchors
            {
                Count = innerInv.Count,
                Inner = [.. inner.Select(l => l.ToArray())],
                Outer = [.. outer.Select(l => l.ToArray())],
                InnerInvArea = [.. innerInv],
                RingInvArea = [.. ringInv],
                Boxes = [.. boxes],
            };
        }
    }
}
