using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms.Image;
using Rkde.MLNet.Density;
using Rkde.MLNet.Features;
using Rkde.MLNet.Images;
using Rkde.MLNet.Onnx;
using Rkde.MLNet.Regions;

namespace Rkde.MLNet;

/// <summary>
/// The whole R-KDE chain: load images → stretch to the model input size → RGB pixels in 0–1 → proposer ONNX →
/// region filter ONNX → feature ONNX → PCA + KDE. Fitting returns a chain of stock ML.NET transformers only, so
/// the saved .zip loads with <c>new MLContext().Model.Load</c> in programs that do not reference Rkde.MLNet.
/// </summary>
public sealed class RkdeEstimator : IEstimator<TransformerChain<ITransformer>>
{
    /// <summary>Prefix of the pipeline's internal columns, all dropped from the output.</summary>
    internal const string InternalPrefix = "__rkde_";

    private const string ImageColumn = InternalPrefix + "image";
    private const string PixelsColumn = InternalPrefix + "pixels";
    private const string PixelBoxesColumn = InternalPrefix + "boxes";
    private const string RegionScoresColumn = InternalPrefix + "region_scores";
    private const string FeaturesColumn = InternalPrefix + "features";

    private readonly TransformsCatalog _catalog;
    private readonly RkdeOptions _options;
    private readonly Lazy<ProposerSlot> _proposer;
    private readonly Lazy<FeatureSlot> _features;
    private readonly Lazy<EstimatorChain<ITransformer>> _chain;

    internal RkdeEstimator(TransformsCatalog catalog, RkdeOptions options)
    {
        options.Validate();
        _catalog = catalog;
        _options = options;
        _proposer = ModelSlots.Proposer(options.ProposerModelPath, options.ProposerModelBytes, options.ImageWidth, options.ImageHeight, options.RoiStage,
            nameof(options.ProposerModelPath), nameof(options.ProposerModelBytes));
        _features = ModelSlots.Features(options.FeatureModelPath, options.FeatureModelBytes, options.ImageWidth, options.ImageHeight,
            nameof(options.FeatureModelPath), nameof(options.FeatureModelBytes));
        if (_proposer.IsValueCreated && _features.IsValueCreated)
            _features.Value.CheckAgainst(_proposer.Value);
        _chain = new Lazy<EstimatorChain<ITransformer>>(Build);
    }

    /// <inheritdoc/>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        SchemaChecks.Text(inputSchema, _options.ImageColumnName, nameof(_options.ImageColumnName), "image file paths");
        return _chain.Value.GetOutputSchema(inputSchema);
    }

    /// <inheritdoc/>
    public TransformerChain<ITransformer> Fit(IDataView input)
    {
        SchemaChecks.Text(input.Schema, _options.ImageColumnName, nameof(_options.ImageColumnName), "image file paths");
        return _chain.Value.Fit(ReadableImages(input));
    }

    /// <summary>
    /// The input without rows whose image is unreadable (each reported through Progress), or the input itself when all
    /// are readable. Throws for the first unreadable image when SkipUnreadableImages is false, and when none is readable.
    /// </summary>
    private IDataView ReadableImages(IDataView input)
    {
        var checks = ImageCheck.CheckColumn(input, _options.ImageColumnName, _options.ImageFolder);
        var keep = new bool[checks.Count];
        for (int row = 0; row < checks.Count; row++)
        {
            keep[row] = checks[row].IsReadable;
            if (keep[row])
                continue;
            if (!_options.SkipUnreadableImages)
                throw new InvalidOperationException(
                    $"Training image at row {row} is unreadable: {checks[row].Message} Set SkipUnreadableImages = true to skip such images.");
            _options.Progress?.Report($"RkdeAnomaly: skipping training image at row {row}: {checks[row].Message}");
        }
        int readable = keep.Count(k => k);
        if (readable == checks.Count)
            return input;
        if (readable == 0)
            throw new InvalidOperationException(
                $"None of the {checks.Count} training images is readable (row 0: {checks[0].Message}); fit on a column of decodable image files.");
        _options.Progress?.Report($"RkdeAnomaly: fitting on {readable} of {checks.Count} training images; {checks.Count - readable} skipped.");
        return new RowSubset(input, keep);
    }

    private EstimatorChain<ITransformer> Build()
    {
        var o = _options;
        var features = _features.Value;
        features.CheckAgainst(_proposer.Value);
        var extras = features.ExtraInputs.ToDictionary(t => t, t => InternalPrefix + "proposer_" + t);
        var chain = new EstimatorChain<ITransformer>()
            .Append<ITransformer>(_catalog.LoadImages(ImageColumn, o.ImageFolder, o.ImageColumnName))
            .Append<ITransformer>(_catalog.ResizeImages(ImageColumn, o.ImageWidth, o.ImageHeight, ImageColumn, ImageResizingEstimator.ResizingKind.Fill))
            .Append<ITransformer>(_catalog.ExtractPixels(PixelsColumn, ImageColumn, ImagePixelExtractingEstimator.ColorBits.Rgb,
                ImagePixelExtractingEstimator.ColorsOrder.ARGB, interleavePixelColors: false, scaleImage: 1f / 255));
        chain = RegionStage.Append(chain, _catalog, _proposer.Value, o.RegionFilter, o.ImageWidth, o.ImageHeight, PixelsColumn, InternalPrefix,
            PixelBoxesColumn, o.BoxesColumnName, RegionScoresColumn, extras, o.GpuDeviceId, o.FallbackToCpu);
        var density = new RkdeDensityOptions
        {
            FeaturesColumnName = FeaturesColumn,
            FeatureDimension = features.FeatureDimension,
            PcaComponents = o.ResolvedPcaComponents,
            FeatureScaling = o.FeatureScaling,
            MaxTrainingPoints = o.MaxTrainingPoints,
            Seed = o.Seed,
            BoxScoresColumnName = o.BoxScoresColumnName,
            ScoreColumnName = o.ScoreColumnName,
            GpuDeviceId = o.GpuDeviceId,
            FallbackToCpu = o.FallbackToCpu,
            Progress = o.Progress,
        };
        return chain
            .Append<ITransformer>(features.Estimator(_catalog, PixelsColumn, PixelBoxesColumn, extras, FeaturesColumn, o.GpuDeviceId, o.FallbackToCpu))
            .Append<ITransformer>(new RkdeDensityEstimator(_catalog, density))
            .Append<ITransformer>(_catalog.DropColumns([ImageColumn, PixelsColumn, PixelBoxesColumn, RegionScoresColumn, FeaturesColumn, .. extras.Values]));
    }
}
