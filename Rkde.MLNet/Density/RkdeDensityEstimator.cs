using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms.Onnx;
using Rkde.MLNet.Onnx;
using Rkde.MLNet.Checks;

namespace Rkde.MLNet.Density;

/// <summary>
/// Fits R-KDE's density stage (PCA → scaling → Gaussian KDE) on a column of region features in one pass, keeping a
/// seeded reservoir sample of at most MaxTrainingPoints regions, and returns stock ML.NET transformers only (an
/// <see cref="OnnxTransformer"/> over the fitted density graph, then the float score column): they save and load with ML.NET alone.
/// </summary>
public sealed class RkdeDensityEstimator : IEstimator<TransformerChain<ITransformer>>
{
    private readonly TransformsCatalog _catalog;
    private readonly RkdeDensityOptions _options;

    /// <summary>Validates a private copy of <paramref name="options"/>: changing them afterwards does not change this estimator.</summary>
    internal RkdeDensityEstimator(TransformsCatalog catalog, RkdeDensityOptions options)
    {
        options = options.Clone();
        options.Validate();
        _catalog = catalog;
        _options = options;
    }

    /// <inheritdoc/>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        NativeRuntime.EnsureLoaded();
        FeatureDimension(inputSchema);
        // The fitted transformer is an OnnxTransformer over a graph with this signature: let ML.NET state its schema.
        return _catalog.ApplyOnnxModel([_options.BoxScoresColumnName, _options.ScoreColumnName], [_options.FeaturesColumnName],
            new MemoryStream(DensityGraphSignature.Build(_options.FeaturesColumnName, _options.FeatureDimension, _options.BoxScoresColumnName, _options.ScoreColumnName)))
            .GetOutputSchema(inputSchema);
    }

    /// <inheritdoc/>
    public TransformerChain<ITransformer> Fit(IDataView input)
    {
        NativeRuntime.EnsureLoaded();
        SchemaChecks.FloatVector(input.Schema, _options.FeaturesColumnName, nameof(RkdeDensityOptions.FeaturesColumnName), "the region features");
        int d = _options.FeatureDimension > 0 ? _options.FeatureDimension
            : input.Schema[_options.FeaturesColumnName].Type is VectorDataViewType { IsKnownSize: true } v ? v.Size
            : throw VariableLength();
        var (model, _) = FitModel(input, d, null);
        var names = new DensityGraphNames();
        var graph = OnnxModelContract.Emitted("density graph", DensityGraph.Build(model, names), "density");
        // OnnxTransformer infers a symbolic dimension from the length of variable-length vectors only; a fixed-size
        // column gets the region count fixed in the graph's input.
        object[]? featureDims = input.Schema[_options.FeaturesColumnName].Type is VectorDataViewType { IsKnownSize: true } known
            ? [1L, (long)(known.Size / d), (long)d]
            : null;
        byte[] bytes = graph.Rewire(
            [(names.Features, _options.FeaturesColumnName, featureDims)],
            [(names.BoxScores, _options.BoxScoresColumnName, null), (names.ImageScore, ScalarScore.SlotColumn, null)]);
        var density = _catalog.ApplyOnnxModel([_options.BoxScoresColumnName, ScalarScore.SlotColumn], [_options.FeaturesColumnName],
            new MemoryStream(bytes), _options.GpuDeviceId, _options.FallbackToCpu).Fit(input);
        var chain = ScalarScore.Append(new TransformerChain<ITransformer>(density), _catalog, input, _options.ScoreColumnName);
        _options.Progress?.Report("RkdeDensity: done.");
        return chain;
    }

    /// <summary>
    /// Samples the regions of <paramref name="input"/> (one image per row) in one cursor pass and fits the density model on the
    /// sample; with <paramref name="falsePositiveRate"/>, also the threshold for that rate from the images' held-out scores
    /// (<see cref="HeldOutScores"/>). The reservoir (the bulk of the fit's memory) is freed when this returns.
    /// <paramref name="scoring"/>: where the regions came through a looser filter than the one the fitted graph scores with,
    /// that filter (the indices it keeps of an image's boxes and scores) and the columns of the regions' boxes and proposal scores; each held-out image is then scored on the
    /// regions that filter keeps of its own, as the fitted graph would score it (the image score is a maximum over regions,
    /// so scoring it on more would raise the threshold above the nominal rate's).
    /// </summary>
    internal (KdeDensityModel Model, ImageThreshold? Threshold) FitModel(IDataView input, int d, double? falsePositiveRate,
        RegionFeatureColumn.Scoring? scoring = null)
    {
        int seed = _options.Seed;
        void Report(string message) => _options.Progress?.Report(message);
        using var reservoir = new Reservoir(_options.MaxTrainingPoints, d, seed);
        var imageOfRow = falsePositiveRate is null ? null : new List<int>();
        var scoredRow = falsePositiveRate is null || scoring is null ? null : new List<bool>();
        long images = Sample(input, d, reservoir, Report, imageOfRow, scoredRow, scoring);
        if (reservoir.Seen == 0)
            throw new InvalidOperationException(
                $"The {images} training images gave no regions at all in column '{_options.FeaturesColumnName}', so there is nothing to fit the density on. " +
                "Use more or larger images, or lower RoiScoreThreshold / MinBoxSize.");
        Report(string.Create(CultureInfo.InvariantCulture,
            $"RkdeDensity: {reservoir.Seen} regions from {images} images; fitting PCA ({_options.PcaComponents} components) and KDE on {reservoir.Count} of them."));
        var order = reservoir.OldestFirst();
        var rows = order is null ? reservoir.Rows() : reservoir.Rows().Subset(order);
        var model = KdeDensityModel.Fit(rows, _options, seed, _options.Progress, regionsSeen: reservoir.Seen);
        if (falsePositiveRate is not double rate)
            return (model, null);
        IReadOnlyList<int> imageOfHeldRow = order is null ? imageOfRow! : [.. order.Select(slot => imageOfRow![slot])];
        IReadOnlyList<bool>? scoredHeldRow = scoredRow is null ? null : order is null ? scoredRow : [.. order.Select(slot => scoredRow[slot])];
        var scores = HeldOutScores.Scores(rows, imageOfHeldRow, (int)images, _options, seed, _options.Progress, scoredHeldRow, model.Components);
        var threshold = ImageThreshold.FromScores(scores, rate);
        Report(string.Create(CultureInfo.InvariantCulture,
            $"RkdeDensity: threshold {threshold.Value:G6} for a false-positive rate of {rate:P1}, from the held-out scores of {threshold.Images} training images ({threshold.FalsePositives} reach it)."));
        if (threshold.Images == 0)
            Report("RkdeDensity: warning: too few training images or regions to hold any out; the threshold is +∞ (IsAnomaly is always false). Fit on more images.");
        else if (threshold.Images < Math.Ceiling(1 / rate))
            Report(string.Create(CultureInfo.InvariantCulture,
                $"RkdeDensity: warning: {threshold.Images} training images cannot resolve a false-positive rate of {rate:P1} (that needs at least {Math.Ceiling(1 / rate)}); the threshold lies just above the highest held-out score."));
        return (model, threshold);
    }

    /// <summary>
    /// One cursor pass offering every region to <paramref name="reservoir"/>; rejects non-finite features. Returns the image count.
    /// With <paramref name="imageOfRow"/>, records for each held slot the input row (image) its region came from; with
    /// <paramref name="scoredRow"/>, whether <paramref name="scoring"/>'s filter keeps that region among its image's.
    /// </summary>
    private long Sample(IDataView input, int d, Reservoir reservoir, Action<string> report, List<int>? imageOfRow, List<bool>? scoredRow,
        RegionFeatureColumn.Scoring? scoring) =>
        RegionFeatureColumn.Read(input, _options.FeaturesColumnName, d, scoredRow is null ? null : scoring,
            (image, regions, count, boxes, scores) =>
        {
            var kept = scoredRow is null ? null : new HashSet<int>(scoring!.Keep(boxes, scores));
            for (int r = 0; r < count; r++)
            {
                int slot = reservoir.Add(regions.Slice(r * d, d));
                if (imageOfRow is null || slot < 0) continue;
                if (slot == imageOfRow.Count) imageOfRow.Add((int)image);
                else imageOfRow[slot] = (int)image;
                if (scoredRow is null) continue;
                if (slot == scoredRow.Count) scoredRow.Add(kept!.Contains(r));
                else scoredRow[slot] = kept!.Contains(r);
            }
        }, images => report(string.Create(CultureInfo.InvariantCulture, $"RkdeDensity: read {images} images, {reservoir.Seen} regions.")));

    private void FeatureDimension(SchemaShape inputSchema)
    {
        string name = _options.FeaturesColumnName;
        SchemaChecks.FloatVector(inputSchema, name, nameof(RkdeDensityOptions.FeaturesColumnName), "the region features");
        if (_options.FeatureDimension == 0 && !SchemaChecks.IsKnownSizeVector(inputSchema, name))
            throw VariableLength();
    }

    private ArgumentOutOfRangeException VariableLength() => new("inputSchema",
        $"Input column '{_options.FeaturesColumnName}' has variable length, so set FeatureDimension to the length of one region's features.");
}
