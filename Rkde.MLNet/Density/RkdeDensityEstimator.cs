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
        int seed = _options.Seed;
        void Report(string message) => _options.Progress?.Report(message);

        var model = FitModel(input, d, seed, Report);
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
        Report("RkdeDensity: done.");
        return chain;
    }

    /// <summary>
    /// Samples the regions in one cursor pass and fits the density model on the sample; the reservoir (the bulk of the
    /// fit's memory) is freed when this returns.
    /// </summary>
    private KdeDensityModel FitModel(IDataView input, int d, int seed, Action<string> report)
    {
        using var reservoir = new Reservoir(_options.MaxTrainingPoints, d, seed);
        long images = Sample(input, d, reservoir, report);
        if (reservoir.Seen == 0)
            throw new InvalidOperationException(
                $"The {images} training images gave no regions at all in column '{_options.FeaturesColumnName}', so there is nothing to fit the density on. " +
                "Use more or larger images, or lower RoiScoreThreshold / MinBoxSize.");
        report(string.Create(CultureInfo.InvariantCulture,
            $"RkdeDensity: {reservoir.Seen} regions from {images} images; fitting PCA ({_options.PcaComponents} components) and KDE on {reservoir.Count} of them."));
        return KdeDensityModel.Fit(reservoir.RowsOldestFirst(), _options, seed, _options.Progress, regionsSeen: reservoir.Seen);
    }

    /// <summary>One cursor pass offering every region to <paramref name="reservoir"/>; rejects non-finite features. Returns the image count.</summary>
    private long Sample(IDataView input, int d, Reservoir reservoir, Action<string> report) =>
        RegionFeatureColumn.Read(input, _options.FeaturesColumnName, d, (_, regions, count) =>
        {
            for (int r = 0; r < count; r++) reservoir.Add(regions.Slice(r * d, d));
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
