using Rkde.MLNet.Onnx;
using DataType = Onnx.TensorProto.Types.DataType;

namespace Rkde.MLNet.Density;

/// <summary>Names of the density graph's tensors (they become ML.NET column names through OnnxTransformer).</summary>
/// <param name="Features">Input: float [1, N, D], one feature row per region.</param>
/// <param name="BoxScores">Output: float [1, N], the anomaly probability of each region.</param>
/// <param name="LogDensity">Output: float [1, N], the KDE log-density of each region.</param>
/// <param name="ImageScore">Output: float [1], the highest box score, 0 when N = 0.</param>
internal sealed record DensityGraphNames(
    string Features = "features",
    string BoxScores = "box_scores",
    string LogDensity = "log_density",
    string ImageScore = "image_score");

/// <summary>
/// Emits a fitted <see cref="KdeDensityModel"/> as an ONNX graph, so that stock ML.NET's OnnxTransformer scores
/// with it and persists it (initializers hold the fitted state) through Model.Save / Model.Load.
/// </summary>
/// <remarks>
/// The projection runs in double. The KDE's log-sum-exp splits into an exact part and a bounded part:
/// log-density = LogNormaliser − ½‖z − p_j‖² + log Σ_i exp(s_i − s_j), with s_i = z·p_i − ½‖p_i‖² and j = argmax s.
/// The n scores s_i come from one float GEMM (the cost that matters: N × n × k); the nearest point's squared
/// distance is recomputed in double, so regions far from all training points (log-densities of −10⁴ … −10⁶) keep
/// full precision, and float rounding only touches the bounded correction term.
/// </remarks>
internal static class DensityGraph
{
    /// <summary>The format version written to the graph's metadata ("rkde_format_version").</summary>
    public const string FormatVersion = "1";

    public static byte[] Build(KdeDensityModel model, DensityGraphNames? names = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        names ??= new DensityGraphNames();
        int d = model.FeatureDimension, k = model.ComponentCount, n = model.PointCount;

        var g = new OnnxGraphBuilder("rkde_density", opset: 18);
        g.Metadata("rkde_format_version", FormatVersion);
        g.Metadata("rkde_stage", "density");
        string features = g.Input(names.Features, DataType.Float, 1L, "N", (long)d);

        // y = (x − mean)·Components, in double.
        string x = g.Node("Cast", [g.Node("Squeeze", [features, g.Int64s(0)])], ("to", (long)DataType.Double));
        string mean = g.Initializer("mean", model.Mean.Select(v => (double)v).ToArray(), d);
        string components = g.Initializer("components", model.Components.Select(v => (double)v).ToArray(), d, k);
        string y = g.Node("MatMul", [g.Node("Sub", [x, mean]), components]);

        // Scaling, then the bandwidth transform: z = (y / scale)·L.
        double[] bandwidth = model.BandwidthTransform;
        if (model.Scaling == FeatureScalingMethod.Scale)
        {
            y = g.Node("Div", [y, g.Scalar(model.MaxLength)]);
        }
        else
        {
            // Per-row L2 norm; a zero row stays zero (divided by 1) instead of becoming NaN.
            string norm = g.Node("Sqrt", [g.Node("ReduceSumSquare", [y, g.Int64s(1)], ("keepdims", 1L))]);
            string zero = g.Node("Equal", [norm, g.Scalar(0.0)]);
            y = g.Node("Div", [y, g.Node("Where", [zero, g.Scalar(1.0), norm])]);
        }
        string z = g.Node("MatMul", [y, g.Initializer("bandwidth_transform", bandwidth, k, k)]);

        // s_i = z·p_i − ½‖p_i‖² for all n points, in float.
        double[] points = model.Points;
        var pointsT = new float[k * n];
        var halfSquaredNorms = new float[n];
        for (int i = 0; i < n; i++)
        {
            double sum = 0;
            for (int c = 0; c < k; c++)
            {
                double p = points[i * k + c];
                pointsT[c * n + i] = (float)p;
                sum += p * p;
            }
            halfSquaredNorms[i] = (float)(-0.5 * sum);
        }
        // Clipped so that rows beyond float range (finite inputs up to ±3.4e38) give no inf − inf: there the nearest
        // point's exact distance dominates and the correction is ~0.
        string zf = g.Node("Clip", [g.Node("Cast", [z], ("to", (long)DataType.Float)), g.Scalar(-1e15f), g.Scalar(1e15f)]);
        string s = g.Node("Gemm", [zf, g.Initializer("points_t", pointsT, k, n), g.Initializer("neg_half_point_norms", halfSquaredNorms, n)]);

        // j = argmax s; correction = log Σ exp(s_i − s_j) = −logsoftmax(s)_j ≥ 0.
        string nearest = g.Node("ArgMax", [s], ("axis", 1L), ("keepdims", 1L));
        string logSoftmax = g.Node("LogSoftmax", [s], ("axis", 1L));
        string correction = g.Node("Cast", [g.Node("Squeeze", [g.Node("GatherElements", [logSoftmax, nearest], ("axis", 1L)), g.Int64s(1)])],
            ("to", (long)DataType.Double));

        // Exact ½‖z − p_j‖² in double.
        string pj = g.Node("Gather", [g.Initializer("points", points, n, k), g.Node("Squeeze", [nearest, g.Int64s(1)])], ("axis", 0L));
        string halfDistance = g.Node("Mul", [g.Node("ReduceSumSquare", [g.Node("Sub", [z, pj]), g.Int64s(1)], ("keepdims", 0L)), g.Scalar(0.5)]);

        // log-density = LogNormaliser − ½‖z − p_j‖² − logsoftmax_j.
        string logDensity = g.Node("Sub", [g.Node("Sub", [g.Scalar(model.LogNormaliser), halfDistance]), correction]);

        // Anomaly probability 1 / (1 + exp(0.05·(ld − 12))) = sigmoid(0.6 − 0.05·ld).
        string probability = g.Node("Sigmoid", [g.Node("Sub", [g.Scalar(0.6), g.Node("Mul", [logDensity, g.Scalar(0.05)])])]);

        string probabilityF = g.Node("Cast", [probability], ("to", (long)DataType.Float));
        g.Output(names.BoxScores, g.Node("Unsqueeze", [probabilityF, g.Int64s(0)]), DataType.Float, 1L, "N");
        g.Output(names.LogDensity, g.Node("Unsqueeze", [g.Node("Cast", [logDensity], ("to", (long)DataType.Float)), g.Int64s(0)]),
            DataType.Float, 1L, "N");

        // Image score: max over the boxes and 0 (probabilities are ≥ 0, so this is the max, or 0 when N = 0).
        string withZero = g.Node("Concat", [g.Initializer("zero", [0f], 1), probabilityF], ("axis", 0L));
        g.Output(names.ImageScore, g.Node("ReduceMax", [withZero], ("keepdims", 1L)), DataType.Float, 1L);
        return g.ToBytes();
    }
}
