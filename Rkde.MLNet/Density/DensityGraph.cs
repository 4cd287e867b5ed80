using System.Globalization;
using Onnx;
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
/// with it and persists it (initializers hold the fitted state) through Model.Save / Model.Load, and reads that state
/// back (<see cref="Read"/>) so that a saved model can be updated.
/// </summary>
/// <remarks>
/// The initializers named in <see cref="State"/> hold the model's state once: the projection (mean, components, the
/// Scale divisor), the kept sample of projected, scaled rows, the bandwidth transform L and the log normaliser; the
/// sample's history is in the metadata (<see cref="HistoryKeys"/>). Everything scoring needs beyond that (the
/// projection folded with L, the kernel points, their transposed float copy) is computed by nodes from initializers
/// only, which ONNX Runtime folds into constants when it loads the graph, so it costs nothing per run and nothing in
/// the file.
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

    /// <summary>The first <c>rkde_format_version</c> whose density graph holds the state an update needs.</summary>
    public const int FirstUpdatableVersion = 3;

    /// <summary>Name of the initializer holding the threshold (graphs built with one).</summary>
    public const string ThresholdInitializer = "threshold";

    /// <summary>Names of the initializers that hold the fitted state (stable: <see cref="Read"/> and model tools find them by name).</summary>
    public static class State
    {
        /// <summary>float [D]: the training mean.</summary>
        public const string Mean = "mean";

        /// <summary>float [D, k]: the principal directions.</summary>
        public const string Components = "components";

        /// <summary>double scalar, Scale only: the largest norm of the projected training rows.</summary>
        public const string MaxLength = "max_length";

        /// <summary>double [n, k]: the kept sample, projected and scaled, oldest first.</summary>
        public const string Sample = "sample";

        /// <summary>double [k, k]: the bandwidth transform L.</summary>
        public const string BandwidthTransform = "bandwidth_transform";

        /// <summary>double scalar: the log normaliser.</summary>
        public const string LogNormaliser = "log_normaliser";
    }

    /// <summary>Metadata keys of the sample's history and the scaling (values in invariant culture).</summary>
    public static class HistoryKeys
    {
        public const string Scaling = "rkde_feature_scaling";
        /// <summary>The kernel's <see cref="KdeBandwidth"/>; graphs written before it existed have none and mean Covariance.</summary>
        public const string Bandwidth = "rkde_kde_bandwidth";
        public const string RegionsSeen = "rkde_regions_seen";
        public const string RandomState = "rkde_sampler_state";
        public const string Capacity = "rkde_max_training_points";
        public const string ExplainedVariance = "rkde_explained_variance";
    }

    public static byte[] Build(KdeDensityModel model, DensityGraphNames? names = null, ImageThreshold? threshold = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        names ??= new DensityGraphNames();
        int d = model.FeatureDimension, k = model.ComponentCount, n = model.PointCount, k1 = k + 1;

        var g = new OnnxGraphBuilder("rkde_density", opset: 18);
        OnnxModelContract.Stamp(g, "density");
        var history = model.History;
        g.Metadata(HistoryKeys.Scaling, model.Scaling.ToString());
        g.Metadata(HistoryKeys.Bandwidth, model.Bandwidth.ToString());
        g.Metadata(HistoryKeys.RegionsSeen, history.RegionsSeen.ToString(CultureInfo.InvariantCulture));
        g.Metadata(HistoryKeys.RandomState, history.RandomState.ToString(CultureInfo.InvariantCulture));
        g.Metadata(HistoryKeys.Capacity, history.Capacity.ToString(CultureInfo.InvariantCulture));
        g.Metadata(HistoryKeys.ExplainedVariance, history.ExplainedVariance.ToString("R", CultureInfo.InvariantCulture));
        foreach (var (key, value) in threshold?.Metadata() ?? [])
            g.Metadata(key, value);

        string features = g.Input(names.Features, DataType.Float, 1L, "N", (long)d);
        string x = g.Node("Cast", [g.Node("Squeeze", [features, g.Int64s(0)])], ("to", (long)DataType.Double));

        // The state.
        string mean = Double(g, g.Initializer(State.Mean, model.Mean, d));
        string components = Double(g, g.Initializer(State.Components, model.Components, d, k));
        string sample = g.Initializer(State.Sample, model.Sample, n, k);
        string bandwidth = g.Initializer(State.BandwidthTransform, model.BandwidthTransform, k, k);
        string logNormaliser = g.Initializer(State.LogNormaliser, [model.LogNormaliser]);

        // z₁ = [z, 1] (N × (k+1), double), z = scale((x − mean)·Components)·L.
        var one = new double[k1];
        one[k] = 1;
        string oneColumn = g.Initializer("one", one, k1);
        string z1;
        if (model.Scaling == FeatureScalingMethod.Scale)
        {
            // W = Components·L / MaxLength with a zero last column; bias = −mean·W, plus the 1.
            string maxLength = g.Initializer(State.MaxLength, [model.MaxLength]);
            string w = AppendColumn(g, g.Node("Div", [g.Node("MatMul", [components, bandwidth]), maxLength]), d, 0.0);
            string bias = g.Node("Sub", [oneColumn, g.Node("MatMul", [mean, w])]);
            z1 = g.Node("Add", [g.Node("MatMul", [x, w]), bias]);
        }
        else
        {
            // Centred exactly (a row equal to the mean projects to 0), then each row divided by its L2 norm; a zero row stays zero.
            string y = g.Node("MatMul", [g.Node("Sub", [x, mean]), components]);
            string norm = g.Node("Sqrt", [g.Node("ReduceSumSquare", [y, g.Int64s(1)], ("keepdims", 1L))]);
            y = g.Node("Div", [y, g.Node("Where", [g.Node("Equal", [norm, g.Scalar(0.0)]), g.Scalar(1.0), norm])]);
            z1 = g.Node("Add", [g.Node("MatMul", [y, AppendColumn(g, bandwidth, k, 0.0)]), oneColumn]);
        }

        // Rows with NaN/±∞ features (exactly the rows whose z₁ is not finite) are scored as the origin, then overridden.
        string total = g.Node("ReduceSum", [z1, g.Int64s(1)], ("keepdims", 1L));
        string bad = g.Node("Or", [g.Node("IsNaN", [total]), g.Node("IsInf", [total])]);
        z1 = g.Node("Where", [bad, oneColumn, z1]);

        // The kernel points p = (sample − its mean)·L (n × k), as GaussianKde maps them.
        string points = g.Node("MatMul", [g.Node("Sub", [sample, g.Node("ReduceMean", [sample, g.Int64s(0)], ("keepdims", 1L))]), bandwidth]);

        // s_i = z·p_i − ½‖p_i‖² for all points, padded to nb blocks of bs, in float. z₁ is clipped so that rows beyond
        // float range (finite inputs up to ±3.4e38) give no inf − inf: there the exact distance dominates and the correction is ~0.
        int bs = (int)Math.Ceiling(Math.Sqrt(n)), nb = (n + bs - 1) / bs, padded = nb * bs;
        string halfSquares = g.Node("Mul", [g.Node("ReduceSumSquare", [points, g.Int64s(1)], ("keepdims", 1L)), g.Scalar(-0.5)]);
        string scoring = g.Node("Transpose", [g.Node("Concat", [points, halfSquares], ("axis", 1L))], ("perm", new long[] { 1, 0 }));
        if (padded > n)
        {
            var padding = new double[k1 * (padded - n)];
            padding.AsSpan(k * (padded - n)).Fill(PaddingScore);
            scoring = g.Node("Concat", [scoring, g.Initializer("padding", padding, k1, padded - n)], ("axis", 1L));
        }
        string pointsT = g.Node("Cast", [scoring], ("to", (long)DataType.Float));
        string zf = g.Node("Cast", [g.Node("Clip", [z1, g.Scalar(-1e15), g.Scalar(1e15)])], ("to", (long)DataType.Float));
        string s = g.Node("MatMul", [zf, pointsT]);

        // t_i = s_i − log Σ exp(s): max t = −log Σ_i exp(s_i − s_j) = −correction, argmax t = j.
        string t = g.Node("Reshape", [g.Node("LogSoftmax", [s], ("axis", 1L)), g.Int64s(0, nb, bs)]);
        string blockMax = g.Node("ReduceMax", [t, g.Int64s(2)], ("keepdims", 0L));
        string negativeCorrection = g.Node("ReduceMax", [blockMax, g.Int64s(1)], ("keepdims", 0L));
        string block = g.Node("ArgMax", [blockMax], ("axis", 1L), ("keepdims", 1L));
        string inBlock = g.Node("GatherElements", [t, g.Node("Expand", [g.Node("Unsqueeze", [block, g.Int64s(2)]), g.Int64s(1, 1, bs)])], ("axis", 1L));
        string offset = g.Node("ArgMax", [inBlock], ("axis", 2L), ("keepdims", 0L));
        string nearest = g.Node("Add", [g.Node("Mul", [block, g.Int64s(bs)]), offset]);

        // Exact ½‖z − p_j‖² in double (the appended 1s cancel).
        string points1 = AppendColumn(g, points, n, 1.0);
        string pj = g.Node("Gather", [points1, g.Node("Squeeze", [nearest, g.Int64s(1)])], ("axis", 0L));
        string halfDistance = g.Node("Mul", [g.Node("ReduceSumSquare", [g.Node("Sub", [z1, pj]), g.Int64s(1)], ("keepdims", 0L)), g.Scalar(0.5)]);

        // log-density = LogNormaliser − ½‖z − p_j‖² + correction; −∞ for non-finite rows.
        string correction = g.Node("Neg", [g.Node("Cast", [negativeCorrection], ("to", (long)DataType.Double))]);
        string logDensity = g.Node("Add", [g.Node("Sub", [logNormaliser, halfDistance]), correction]);
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

    private static string Double(OnnxGraphBuilder g, string tensor) => g.Node("Cast", [tensor], ("to", (long)DataType.Double));

    /// <summary>A rows × c double matrix with a column of <paramref name="value"/> appended (rows × (c+1)).</summary>
    private static string AppendColumn(OnnxGraphBuilder g, string matrix, long rows, double value) =>
        g.Node("Concat", [matrix, g.Node("Expand", [g.Scalar(value), g.Int64s(rows, 1)])], ("axis", 1L));

    /// <summary>The threshold a density graph carries (with its held-out scores from format 3 on), or null when it has none.</summary>
    public static ImageThreshold? ReadThreshold(ModelProto graph) =>
        ImageThreshold.Read(graph.MetadataProps.ToDictionary(p => p.Key, p => p.Value));

    /// <summary>
    /// The fitted model a density graph holds, read from its initializers and metadata. Throws
    /// <see cref="InvalidDataException"/> for a graph that is not R-KDE's density graph, and for one of a format version
    /// before <see cref="FirstUpdatableVersion"/>, which scores but does not keep its sample; the message says what
    /// the graph lacks, for the caller to name the file.
    /// </summary>
    public static KdeDensityModel Read(ModelProto graph)
    {
        var meta = graph.MetadataProps.ToDictionary(p => p.Key, p => p.Value);
        if (meta.GetValueOrDefault(OnnxModelContract.StageKey) != "density")
            throw new InvalidDataException("it holds no R-KDE density graph");
        string version = meta.GetValueOrDefault(OnnxModelContract.FormatVersionKey) ?? "(none)";
        if (!int.TryParse(version, NumberStyles.None, CultureInfo.InvariantCulture, out int v) || v < FirstUpdatableVersion)
            throw new InvalidDataException(
                $"its density graph is of rkde_format_version {version}, which scores but does not keep its training sample, so it cannot be updated");
        var tensors = graph.Graph.Initializer.ToDictionary(i => i.Name);
        TensorProto Tensor(string name) => tensors.GetValueOrDefault(name) ?? throw new InvalidDataException($"its density graph lacks the initializer '{name}'");
        string Meta(string key) => meta.GetValueOrDefault(key) ?? throw new InvalidDataException($"its density graph lacks the metadata '{key}'");

        var scaling = Enum.Parse<FeatureScalingMethod>(Meta(HistoryKeys.Scaling));
        var shape = meta.TryGetValue(HistoryKeys.Bandwidth, out string? written)
            ? Enum.TryParse<KdeBandwidth>(written, out var parsed) && Enum.IsDefined(parsed) ? parsed
                : throw new InvalidDataException($"its density graph's metadata '{HistoryKeys.Bandwidth}' = '{written}' is not a KdeBandwidth")
            : KdeBandwidth.Covariance;
        var componentsTensor = Tensor(State.Components);
        int d = (int)componentsTensor.Dims[0], k = (int)componentsTensor.Dims[1];
        float[] mean = OnnxTensors.ToFloats(Tensor(State.Mean));
        float[] components = OnnxTensors.ToFloats(componentsTensor);
        double[] sample = OnnxTensors.ToDoubles(Tensor(State.Sample));
        double[] bandwidth = OnnxTensors.ToDoubles(Tensor(State.BandwidthTransform));
        double logNormaliser = OnnxTensors.ToDoubles(Tensor(State.LogNormaliser))[0];
        double maxLength = scaling == FeatureScalingMethod.Scale ? OnnxTensors.ToDoubles(Tensor(State.MaxLength))[0] : 1;
        if (mean.Length != d || sample.Length % k != 0 || bandwidth.Length != k * k)
            throw new InvalidDataException("its density graph's state tensors have inconsistent shapes");
        var history = new SampleHistory(
            long.Parse(Meta(HistoryKeys.RegionsSeen), CultureInfo.InvariantCulture),
            ulong.Parse(Meta(HistoryKeys.RandomState), CultureInfo.InvariantCulture),
            int.Parse(Meta(HistoryKeys.Capacity), CultureInfo.InvariantCulture),
            double.Parse(Meta(HistoryKeys.ExplainedVariance), CultureInfo.InvariantCulture));
        return new KdeDensityModel(d, k, scaling, mean, components, maxLength, shape, bandwidth, logNormaliser, sample, history);
    }
}
