using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms.Image;
using Rkde.MLNet.Density;
using Rkde.MLNet.Features;
using Rkde.MLNet.Images;
using Rkde.MLNet.Onnx;
using Rkde.MLNet.Regions;
using Rkde.MLNet.DefaultModel;
using Rkde.MLNet.Checks;

namespace Rkde.MLNet;

/// <summary>
/// The whole R-KDE chain: load images → stretch to the model input size → RGB pixels in 0–1 → proposer ONNX →
/// region filter ONNX → feature ONNX → PCA + KDE. Fitting returns a chain of stock ML.NET transformers only, so
/// the saved .zip loads with <c>new MLContext().Model.Load</c> in programs that do not reference Rkde.MLNet.
/// </summary>
public sealed class RkdeEstimator : IEstimator<TransformerChain<ITransformer>>
{
    /// <summary>Prefix of the pipeline's internal columns, all dropped from the output.</summary>
    private const string InternalPrefix = InternalColumns.Prefix;

    private const string ImageColumn = InternalPrefix + "image";
    private const string PixelsColumn = InternalPrefix + "pixels";
    private const string PixelBoxesColumn = InternalPrefix + "boxes";
    private const string RegionScoresColumn = InternalPrefix + "region_scores";
    private const string FeaturesColumn = InternalPrefix + "features";

    /// <summary>How many training images calibrate the INT8 backbone's activation ranges.</summary>
    internal const int CalibrationImages = 8;

    private readonly TransformsCatalog _catalog;
    private readonly RkdeOptions _options;
    private readonly Lazy<ProposerSlot> _proposer;
    private readonly Lazy<FeatureSlot> _features;
    private readonly Lazy<EstimatorChain<ITransformer>> _chain;
    private readonly Lazy<int?> _device;

    /// <summary>Validates a private copy of <paramref name="options"/>: changing them afterwards does not change this estimator.</summary>
    internal RkdeEstimator(TransformsCatalog catalog, RkdeOptions options)
    {
        options = options.Clone();
        options.Validate();
        _catalog = catalog;
        _options = options;
        _proposer = ProposerSlot.Load(options.ProposerModelPath, options.ProposerModelBytes, options.ImageWidth, options.ImageHeight, options.RoiStage,
            nameof(options.ProposerModelPath), nameof(options.ProposerModelBytes));
        _features = FeatureSlot.Load(options.FeatureModelPath, options.FeatureModelBytes, options.ImageWidth, options.ImageHeight,
            nameof(options.FeatureModelPath), nameof(options.FeatureModelBytes));
        if (_proposer.IsValueCreated && _features.IsValueCreated)
            _features.Value.CheckAgainst(_proposer.Value);
        _device = new Lazy<int?>(() => GpuFallback.Resolve(options.GpuDeviceId, options.FallbackToCpu, options.Progress));
        _chain = new Lazy<EstimatorChain<ITransformer>>(() => Build(_proposer.Value));
    }

    /// <inheritdoc/>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        NativeRuntime.EnsureLoaded();
        SchemaChecks.Text(inputSchema, _options.ImageColumnName, nameof(_options.ImageColumnName), "image file paths");
        return _chain.Value.GetOutputSchema(inputSchema);
    }

    /// <inheritdoc/>
    public TransformerChain<ITransformer> Fit(IDataView input)
    {
        NativeRuntime.EnsureLoaded();
        SchemaChecks.Text(input.Schema, _options.ImageColumnName, nameof(_options.ImageColumnName), "image file paths");
        var readable = ReadableImages(input);
        return (_options.QuantizeBackbone ? Build(QuantizedProposer(readable)) : _chain.Value).Fit(readable);
    }

    /// <summary>
    /// The input without rows whose image is unreadable (each reported through Progress), or the input itself when all are
    /// readable. Throws for the first unreadable image when SkipUnreadableImages is false, and when none is readable.
    /// </summary>
    private IDataView ReadableImages(IDataView input) => Images.ReadableImages.Filter(input, _options.ImageColumnName, _options.ImageFolder,
        _options.SkipUnreadableImages, _options.Progress, "training image", "fit on", "fitting on", "RkdeAnomaly", nameof(RkdeOptions.SkipUnreadableImages)).Rows;

    /// <summary>The default proposer with an INT8 trunk, calibrated on the first <see cref="CalibrationImages"/> training images.</summary>
    private ProposerSlot QuantizedProposer(IDataView input)
    {
        var o = _options;
        var pixels = Pixels(new EstimatorChain<ITransformer>()).Fit(input).Transform(input);
        var column = pixels.Schema[PixelsColumn];
        var calibration = new List<float[]>();
        using (var cursor = pixels.GetRowCursor([column]))
        {
            var getter = cursor.GetGetter<VBuffer<float>>(column);
            VBuffer<float> value = default;
            while (calibration.Count < CalibrationImages && cursor.MoveNext())
            {
                getter(ref value);
                calibration.Add(value.DenseValues().ToArray());
            }
        }
        o.Progress?.Report($"INT8 backbone: calibrating activation ranges on {calibration.Count} training images");
        byte[] bytes = DefaultModels.QuantizedProposer(o.ImageWidth, o.ImageHeight, calibration);
        return ProposerSlot.Load(null, bytes, o.ImageWidth, o.ImageHeight, o.RoiStage, nameof(o.ProposerModelPath), nameof(o.QuantizeBackbone)).Value;
    }

    /// <summary>Images loaded, stretched to the model input size and turned into planar RGB in [0, 1] (<see cref="PixelsColumn"/>).</summary>
    private EstimatorChain<ITransformer> Pixels(EstimatorChain<ITransformer> chain)
    {
        var o = _options;
        return chain
            .Append<ITransformer>(_catalog.LoadImages(ImageColumn, o.ImageFolder, o.ImageColumnName))
            .Append<ITransformer>(_catalog.ResizeImages(ImageColumn, o.ImageWidth, o.ImageHeight, ImageColumn, ImageResizingEstimator.ResizingKind.Fill))
            .Append<ITransformer>(_catalog.ExtractPixels(PixelsColumn, ImageColumn, ImagePixelExtractingEstimator.ColorBits.Rgb,
                ImagePixelExtractingEstimator.ColorsOrder.ARGB, interleavePixelColors: false, scaleImage: 1f / 255));
    }

    private EstimatorChain<ITransformer> Build(ProposerSlot proposer)
    {
        var o = _options;
        int? device = _device.Value;
        var features = _features.Value;
        features.CheckAgainst(proposer);
        var extras = features.ExtraInputs.ToDictionary(t => t, t => InternalPrefix + "proposer_" + t);
        var chain = Pixels(new EstimatorChain<ITransformer>());
        chain = RegionStage.Append(chain, _catalog, proposer, o.RegionFilter, o.ImageWidth, o.ImageHeight, PixelsColumn, InternalPrefix,
            PixelBoxesColumn, o.BoxesColumnName, RegionScoresColumn, extras, device, o.FallbackToCpu);
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
            GpuDeviceId = device,
            FallbackToCpu = o.FallbackToCpu,
            Progress = o.Progress,
        };
        return chain
            .Append<ITransformer>(features.Estimator(_catalog, PixelsColumn, PixelBoxesColumn, extras, FeaturesColumn, device, o.FallbackToCpu))
            .Append<ITransformer>(new RkdeDensityEstimator(_catalog, density))
            .Append<ITransformer>(_catalog.DropColumns([ImageColumn, PixelsColumn, PixelBoxesColumn, RegionScoresColumn, FeaturesColumn, .. extras.Values]));
    }
}
