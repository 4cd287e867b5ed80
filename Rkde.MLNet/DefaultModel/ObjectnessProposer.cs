using Rkde.MLNet.Onnx;
using DataType = Onnx.TensorProto.Types.DataType;

namespace Rkde.MLNet.DefaultModel;

/// <summary>
/// The default region proposer: training-free objectness from the pretrained ResNet18's activations.
/// <para>
/// Saliency: at each location of layer2 (stride 8) and layer3 (stride 16), the distance of the unit-length feature
/// vector from the image's own background (the per-channel median over the image), divided by its mean over the image;
/// layer3's map is resized to layer2's grid and the two are multiplied (an object must stand out at both scales).
/// Anchors: every box of 3…10, 12, 14 or 16 cells a side (24…128 pixels, aspect
/// within 1:3) at every stride-8 position.
/// Objectness: mean saliency inside the box minus the mean of two surround terms, the ring around it (the box grown by
/// half its size per side, clipped to the image) and the brightest of the ring's four side strips — the strip term
/// penalises boxes that cut through an object, which keeps the winners tight. Every region sum comes from one integral
/// image by one gather. Then the top <see cref="PreNmsCount"/> anchors, non-maximum suppression at IoU
/// <see cref="NmsIou"/> (loose: the pipeline's region filter applies its own), and the best <see cref="PostNmsCount"/>
/// boxes in descending objectness; scores are sigmoid(objectness). Its recall and cost are in docs/quality.md and
/// docs/performance.md.
/// </para>
/// </summary>
internal static class ObjectnessProposer
{
    public const int Stride = 8;

    /// <summary>Anchor sides in cells (24…128 pixels); every width × height pair within <see cref="MaxAspect"/>.</summary>
    private static readonly int[] SideCells = [3, 4, 5, 6, 7, 8, 9, 10, 12, 14, 16];
    public const int PreNmsCount = 3000, PostNmsCount = 300;
    public const float NmsIou = 0.7f;
    public const float MaxAspect = 3f;

    /// <summary>Builds the objectness head on the trunk's layer2/layer3 maps; returns the "boxes" and "scores" tensors.</summary>
    public static (string Boxes, string Scores) AddTo(OnnxGraphBuilder b, ResNet18Features trunk) => AddTo(b, trunk, out _);

    /// <summary>As <see cref="AddTo(OnnxGraphBuilder, ResNet18Features)"/>; <paramref name="saliency"/> names the [1, 1, h, w] saliency map on the stride-8 grid.</summary>
    public static (string Boxes, string Scores) AddTo(OnnxGraphBuilder b, ResNet18Features trunk, out string saliency)
    {
        var (h, w) = trunk.MapSize(Stride);
        string s2 = Saliency(b, trunk.Layer2, "layer2", h * w > 512);
        var (h3, w3) = trunk.MapSize(16);
        string s3 = Saliency(b, trunk.Layer3, "layer3", h3 * w3 > 512);
        string s3Up = b.Node("Resize", [s3, "", "", b.Int64s(1, 1, h, w)], ("mode", "linear"), ("coordinate_transformation_mode", "half_pixel"));
        saliency = b.Node("Mul", [s2, s3Up]);

        // Integral image with a zero first row and column, flattened: [(h+1)·(w+1)].
        string padded = b.Node("Pad", [saliency, b.Int64s(0, 0, 1, 1, 0, 0, 0, 0)]);
        string integral = b.Node("CumSum", [b.Node("CumSum", [padded, b.Int64s(2)]), b.Int64s(3)]);
        string flat = b.Node("Reshape", [integral, b.Int64s(-1)]);

        // One gather reads the 16 integral-image points each anchor's regions need ({ring top, box top, box bottom, ring
        // bottom} × {ring left, box left, box right, ring right}): [16, A]; a row gather arranges them by corner: [4, Regions, A].
        var anchors = Anchors.Build(h, w, trunk.Width, trunk.Height);
        string points = b.Node("Gather", [flat, b.Initializer("anchor_points", anchors.Points, 16, anchors.Count)], ("axis", 0L));
        string corners = b.Node("Gather", [points, b.Initializer("region_corners", Anchors.RegionCorners, 4, Anchors.Regions)], ("axis", 0L));
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
    private static string Saliency(OnnxGraphBuilder b, string map, string stem, bool subsample)
    {
        // Unit-length feature vectors: the distance then measures a change of pattern, not of activation strength.
        map = b.Node("Div", [map, b.Node("Add", [b.Node("ReduceL2", [map], ("axes", new long[] { 1 }), ("keepdims", 1L)), b.Scalar(1e-6f)])]);
        // Per-channel median over locations: the ⌈n/2⌉-th largest value, the smallest of an unsorted TopK on [C, n]. On
        // maps of more than 512 locations it is taken over every other row and column (a quarter of the TopK's cost).
        string shape = b.Node("Shape", [map]);
        string channels = b.Node("Slice", [shape, b.Int64s(1), b.Int64s(2), b.Int64s(0)]);
        string sample = subsample ? b.Node("Slice", [map, b.Int64s(0, 0), b.Int64s(long.MaxValue, long.MaxValue), b.Int64s(2, 3), b.Int64s(2, 2)]) : map;
        string flat = b.Node("Reshape", [sample, b.Node("Concat", [channels, b.Int64s(-1)], ("axis", 0L))]);
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
    /// The fixed anchor set of one map size. Each anchor's <see cref="Regions"/> regions (the box, the box grown by half
    /// its size per side and clipped, and the four side strips of that ring) have their corners among 16 integral-image
    /// points: rows {ring top, box top, box bottom, ring bottom} × columns {ring left, box left, box right, ring right},
    /// point 4·row + column, stored flat at [point, anchor]. Empty strips at the border get inverse area 1 (sum 0).
    /// </summary>
    private sealed class Anchors
    {
        public const int Inner = 0, Outer = 1, FirstSide = 2, Regions = 6;

        /// <summary>Regions as (row from, column from, row to, column to) over the 4 × 4 points.</summary>
        private static readonly (int Y0, int X0, int Y1, int X1)[] RegionPoints =
            [(1, 1, 2, 2), (0, 0, 3, 3), (0, 1, 1, 2), (2, 1, 3, 2), (1, 0, 2, 1), (1, 2, 2, 3)];

        /// <summary>For corner k ∈ {(y0,x0), (y0,x1), (y1,x0), (y1,x1)} and region r, the point index: [4, Regions].</summary>
        public static readonly long[] RegionCorners =
        [
            .. RegionPoints.Select(r => 4L * r.Y0 + r.X0), .. RegionPoints.Select(r => 4L * r.Y0 + r.X1),
            .. RegionPoints.Select(r => 4L * r.Y1 + r.X0), .. RegionPoints.Select(r => 4L * r.Y1 + r.X1),
        ];

        public int Count;
        public int[] Points = [];
        public float[] InverseAreas = [], InverseRingAreas = [], Boxes = [];

        public static Anchors Build(int h, int w, int width, int height)
        {
            var rows = new List<(int, int, int, int)>();
            var cols = new List<(int, int, int, int)>();
            var boxes = new List<float>();
            foreach (int bh in SideCells.Where(c => c <= h))
            {
                foreach (int bw in SideCells.Where(c => c <= w))
                {
                    if (bw > MaxAspect * bh || bh > MaxAspect * bw)
                        continue;
                    int my = (bh + 1) / 2, mx = (bw + 1) / 2;
                    for (int y0 = 0; y0 + bh <= h; y0++)
                    {
                        for (int x0 = 0; x0 + bw <= w; x0++)
                        {
                            rows.Add((Math.Max(0, y0 - my), y0, y0 + bh, Math.Min(h, y0 + bh + my)));
                            cols.Add((Math.Max(0, x0 - mx), x0, x0 + bw, Math.Min(w, x0 + bw + mx)));
                            boxes.AddRange([x0 * Stride, y0 * Stride, Math.Min(width, (x0 + bw) * Stride), Math.Min(height, (y0 + bh) * Stride)]);
                        }
                    }
                }
            }
            int count = rows.Count, stride = w + 1;
            var points = new int[16 * count];
            var inverseAreas = new float[Regions * count];
            var inverseRing = new float[count];
            for (int a = 0; a < count; a++)
            {
                var (r0, r1, r2, r3) = rows[a];
                var (c0, c1, c2, c3) = cols[a];
                int[] ys = [r0, r1, r2, r3], xs = [c0, c1, c2, c3];
                for (int i = 0; i < 4; i++)
                    for (int j = 0; j < 4; j++)
                        points[(4 * i + j) * count + a] = ys[i] * stride + xs[j];
                for (int r = 0; r < Regions; r++)
                {
                    var p = RegionPoints[r];
                    inverseAreas[r * count + a] = 1f / Math.Max(1, (ys[p.Y1] - ys[p.Y0]) * (xs[p.X1] - xs[p.X0]));
                }
                inverseRing[a] = 1f / Math.Max(1, (r3 - r0) * (c3 - c0) - (r2 - r1) * (c2 - c1));
            }
            return new Anchors { Count = count, Points = points, InverseAreas = inverseAreas, InverseRingAreas = inverseRing, Boxes = [.. boxes] };
        }
    }
}
