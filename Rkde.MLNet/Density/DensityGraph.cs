using Rkde.MLNet.Onnx;
using DataType = Onnx.TensorProto.Types.DataType;

namespace Rkde.MLNet.Density;

/// <summary>Names of the density graph's tensors (they become ML.NET column names through OnnxTransformer).</summary>
/// <param name="Features">Input: float [1, N, D], one feature row per region.</param>
/// <param name="BoxScores">Output: float [1, N], the anomaly probability of each region (1 for a row holding NaN or ±∞).</param>
/// <param name="LogDensity">Output: float [1, N], the KDE log-density of each region (−∞ for a row holding NaN or ±∞).</param>
/// <param name="ImageScore">Output: float [1], the highest box score, 0 when N = 0.</param>
/// <param name="IsAnomaly">Output (graphs built with a threshold): bool [1], image score ≥ the threshold.</param>
internal sealed record DensityGraphNames(
    string Features = "features",
    string BoxScores = "box_scores",
    string LogDensity = "log_density",
    string ImageScore = "image_score",
    string IsAnomaly = "is_anomaly");

/// <summary>
/// Emits a fitted <see cref="KdeDensityModel"/> as an ONNX graph, so that stock ML.NET's OnnxTransformer scores
/// with it and persists it (initializers hold the fitted state) through Model.Save / Model.Load.
/// </summary>
/// <remarks>
/// The projection runs in double; under Scale, PCA, the 1/MaxLength scaling and the bandwidth transform are one
/// D × (k+1) matrix whose last column (0, with bias 1) appends a 1 to each row: z₁ = [z, 1].
/// The KDE's log-sum-exp splits into an exact part and a bounded part:
/// log-density = LogNormaliser − ½‖z − p_j‖² + log Σ_i exp(s_i − s_j), with s_i = z·p_i − ½‖p_i‖² and j = argmax s
/// (the nearest point).
/// All n scores s_i come from one float MatMul of z₁ (N × (k+1)) with [points; −½‖p‖²] ((k+1) × n, the cost that
/// matters: N × n × (k+1)); a LogSoftmax over them gives s_i − log Σ exp(s), whose maximum is −log Σ_i exp(s_i − s_j)
/// and whose argmax is j, found in two levels (the best of √n blocks, then inside it). The nearest point's squared
/// distance is recomputed in double, so regions far from all training points (log-densities of −10⁴ … −10⁶) keep
/// full precision, and float rounding only touches the bounded correction term.
/// A feature row holding NaN or ±∞ gets log-density −∞ and box score 1 (the most anomalous).
/// With an <see cref="ImageThreshold"/>, the graph also outputs whether the image score reaches it (initializer
/// "threshold") and carries the threshold's metadata.
/// </remarks>
internal static class DensityGraph
{
    /// <summary>Score of the padding points that fill the last block: far below any real s_i, and finite (no inf − inf).</summary>
    private const float PaddingScore = -1e30f;

    /// <summary>Name of the initializer holding the threshold (graphs built with one).</summary>
    public const string ThresholdInitializer = "threshold";

    public static byte[] Build(KdeDensityModel model, DensityGraphNames? names = null, ImageThreshold? threshold = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        names ??= new DensityGraphNames();
        int d = model.FeatureDimension, k = model.ComponentCount, n = model.PointCount, k1 = k + 1;

        var g = new OnnxGraphBuilder("rkde_density", opset: 18);
        OnnxModelContract.Stamp(g, "density");
        foreach (var (key, value) in threshold?.Metadata() ?? [])
            g.Metadata(key, value);
        string features = g.Input(names.Features, DataType.Float, 1L, "N", (long)d);
        string x = g.Node("Cast", [g.Node("Squeeze", [features, g.Int64s(0)])], ("to", (long)DataType.Double));

        // z₁ = [z, 1] (N × (k+1), double), z = scale((x − mean)·Components)·L.
        double[] bandwidth = model.BandwidthTransform;
        var one = new double[k1];
        one[k] = 1;
        string z1;
        if (model.Scaling == FeatureScalingMethod.Scale)
        {
            // W = Components·L / MaxLength with a zero last column; bias = −mean·W, plus the 1.
            double inverse = model.MaxLength > 0 ? 1 / model.MaxLength : 1;
            var w = new double[(long)d * k1];
            var bias = (double[])one.Clone();
            for (int r = 0; r < d; r++)
            {
                for (int c = 0; c < k; c++)
                {
                    double sum = 0;
                    for (int a = 0; a < k; a++) sum += model.Components[r * k + a] * bandwidth[a * k + c];
                    w[(long)r * k1 + c] = sum * inverse;
                    bias[c] -= model.Mean[r] * w[(long)r * k1 + c];
                }
            }
            z1 = g.Node("Add", [g.Node("MatMul", [x, g.Initializer("projection", w, d, k1)]), g.Initializer("projection_bias", bias, k1)]);
        }
        else
        {
            // Centred exactly (a row equal to the mean projects to 0), then each row divided by its L2 norm; a zero row stays zero.
            string mean = g.Initializer("mean", model.Mean.Select(v => (double)v).ToArray(), d);
            string components = g.Initializer("components", model.Components.Select(v => (double)v).ToArray(), d, k);
            string y = g.Node("MatMul", [g.Node("Sub", [x, mean]), components]);
            string norm = g.Node("Sqrt", [g.Node("ReduceSumSquare", [y, g.Int64s(1)], ("keepdims", 1L))]);
            y = g.Node("Div", [y, g.Node("Where", [g.Node("Equal", [norm, g.Scalar(0.0)]), g.Scalar(1.0), norm])]);
            var l1 = new double[k * k1];
            for (int a = 0; a < k; a++) bandwidth.AsSpan(a * k, k).CopyTo(l1.AsSpan(a * k1, k));
            z1 = g.Node("Add", [g.Node("MatMul", [y, g.Initializer("bandwidth_transform", l1, k, k1)]), g.Initializer("one", one, k1)]);
        }

        // Rows with NaN/±∞ features (exactly the rows whose z₁ is not finite) are scored as the origin, then overridden.
        string total = g.Node("ReduceSum", [z1, g.Int64s(1)], ("keepdims", 1L));
        string bad = g.Node("Or", [g.Node("IsNaN", [total]), g.Node("IsInf", [total])]);
        z1 = g.Node("Where", [bad, g.Initializer("origin", one, k1), z1]);

        // s_i = z·p_i − ½‖p_i‖² for all points, padded to nb blocks of bs, in float. z₁ is clipped so that rows beyond
        // float range (finite inputs up to ±3.4e38) give no inf − inf: there the exact distance dominates and the correction is ~0.
        int bs = (int)Math.Ceiling(Math.Sqrt(n)), nb = (n + bs - 1) / bs, padded = nb * bs;
        double[] points = model.Points;
        var scoring = new float[(long)k1 * padded];
        for (int i = 0; i < padded; i++)
        {
            double sum = 0;
            for (int c = 0; c < k && i < n; c++)
            {
                double p = points[i * k + c];
                scoring[(long)c * padded + i] = (float)p;
                sum += p * p;
            }
            scoring[(long)k * padded + i] = i < n ? (float)(-0.5 * sum) : PaddingScore;
        }
        string zf = g.Node("Cast", [g.Node("Clip", [z1, g.Scalar(-1e15), g.Scalar(1e15)])], ("to", (long)DataType.Float));
        string s = g.Node("MatMul", [zf, g.Initializer("points_t", scoring, k1, padded)]);

        // t_i = s_i − log Σ exp(s): max t = −log Σ_i exp(s_i − s_j) = −correction, argmax t = j.
        string t = g.Node("Reshape", [g.Node("LogSoftmax", [s], ("axis", 1L)), g.Int64s(0, nb, bs)]);
        string blockMax = g.Node("ReduceMax", [t, g.Int64s(2)], ("keepdims", 0L));
        string negativeCorrection = g.Node("ReduceMax", [blockMax, g.Int64s(1)], ("keepdims", 0L));
        string block = g.Node("ArgMax", [blockMax], ("axis", 1L), ("keepdims", 1L));
        string inBlock = g.Node("GatherElements", [t, g.Node("Expand", [g.Node("Unsqueeze", [block, g.Int64s(2)]), g.Int64s(1, 1, bs)])], ("axis", 1L));
        string offset = g.Node("ArgMax", [inBlock], ("axis", 2L), ("keepdims", 0L));
        string nearest = g.Node("Add", [g.Node("Mul", [block, g.Int64s(bs)]), offset]);

        // Exact ½‖z − p_j‖² in double (the appended 1s cancel).
        var points1 = new double[(long)n * k1];
        for (int i = 0; i < n; i++)
        {
            points.AsSpan(i * k, k).CopyTo(points1.AsSpan(i * k1, k));
            points1[(long)i * k1 + k] = 1;
        }
        string pj = g.Node("Gather", [g.Initializer("points", points1, n, k1), g.Node("Squeeze", [nearest, g.Int64s(1)])], ("axis", 0L));
        string halfDistance = g.Node("Mul", [g.Node("ReduceSumSquare", [g.Node("Sub", [z1, pj]), g.Int64s(1)], ("keepdims", 0L)), g.Scalar(0.5)]);

        // log-density = LogNormaliser − ½‖z − p_j‖² + correction; −∞ for non-finite rows.
        string correction = g.Node("Neg", [g.Node("Cast", [negativeCorrection], ("to", (long)DataType.Double))]);
        string logDensity = g.Node("Add", [g.Node("Sub", [g.Scalar(model.LogNormaliser), halfDistance]), correction]);
        logDensity = g.Node("Where", [g.Node("Squeeze", [bad, g.Int64s(1)]), g.Scalar(double.NegativeInfinity), logDensity]);

        // Anomaly probability 1 / (1 + exp(0.05·(ld − 12))) = sigmoid(0.6 − 0.05·ld): 1 at ld = −∞.
        string probability = g.Node("Sigmoid", [g.Node("Sub", [g.Scalar(0.6), g.Node("Mul", [logDensity, g.Scalar(0.05)])])]);

        string probabilityF = g.Node("Cast", [probability], ("to", (long)DataType.Float));
        g.Output(names.BoxScores, g.Node("Unsqueeze", [probabilityF, g.Int64s(0)]), DataType.Float, 1L, "N");
        g.Output(names.LogDensity, g.Node("Unsqueeze", [g.Node("Cast", [logDensity], ("to", (long)DataType.Float)), g.Int64s(0)]),
            DataType.Float, 1L, "N");

        // Image score: max over the boxes and 0 (probabilities are ≥ 0, so this is the max, or 0 when N = 0).
        string withZero = g.Node("Concat", [g.Initializer("zero", [0f], 1), probabilityF], ("axis", 0L));
        string imageScore = g.Node("ReduceMax", [withZero], ("keepdims", 1L));
        g.Output(names.ImageScore, imageScore, DataType.Float, 1L);
        if (threshold is not null)
        {
            string reaches = g.Node("GreaterOrEqual", [imageScore, g.Initializer(ThresholdInitializer, [threshold.Value], 1)]);
            g.Output(names.IsAnomaly, reaches, DataType.Bool, 1L);
        }
        return g.ToBytes();
    }
}
