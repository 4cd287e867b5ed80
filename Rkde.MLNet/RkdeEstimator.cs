using Microsoft.ML;
using Microsoft.ML.Data;
using Rkde.MLNet.Density;
using Rkde.MLNet.Features;
using Rkde.MLNet.Images;
using Rkde.MLNet.Onnx;
using Rkde.MLNet.Pipeline;
using Rkde.MLNet.Regions;
using Rkde.MLNet.DefaultModel;
using Rkde.MLNet.Checks;
using Rkde.MLNet.NanoDet;

namespace Rkde.MLNet;

/// <summary>
/// The whole R-KDE chain: load images → stretch to the model input size → RGB pixels in 0–1 → one ONNX graph holding the
/// proposer, the region filter, the feature extractor and the fitted PCA + KDE (<see cref="FittedGraph"/>) → the float score
/// and IsAnomaly (score ≥ the threshold Fit stores for <see cref="RkdeOptions.FalsePositiveRate"/>). Fitting returns a chain of
/// stock ML.NET transformers only, so the saved .zip loads with <c>new MLContext().Model.Load</c> in programs that do not
/// reference Rkde.MLNet, and the graph runs in one ONNX Runtime session.
/// </summary>
public sealed class RkdeEstimator : IEstimator<TransformerChain<ITransformer>>
{
    /// <summary>How many training images calibrate the INT8 backbone's activation ranges.</summary>
    internal const int CalibrationImages = 8;

    private readonly TransformsCatalog _catalog;
    private readonly RkdeOptions _options;
    private readonly ChainColumns _columns;
    private readonly Lazy<ProposerSlot> _proposer;
    private readonly Lazy<FeatureSlot> _features;
    private readonly Lazy<int?> _device;

    /// <summary>Validates a private copy of <paramref name="options"/>: changing them afterwards does not change this estimator.</summary>
    internal RkdeEstimator(TransformsCatalog catalog, RkdeOptions options)
    {
        options = options.Clone();
        options.Validate();
        _catalog = catalog;
        _options = options;
        _columns = new ChainColumns(options.ImageColumnName, options.ImageFolder, options.BoxesColumnName, options.BoxScoresColumnName,
            options.ScoreColumnName, options.IsAnomalyColumnName);
        bool nanoDet = options.BuiltInModel == RkdeBuiltInModel.NanoDet;
        int width = options.ImageWidth, height = options.ImageHeight;
        _proposer = ProposerSlot.Load(options.ProposerModelPath, options.ProposerModelBytes, width, height, options.RoiStage,
            nameof(options.ProposerModelPath), nameof(options.ProposerModelBytes),
            nanoDet ? () => NanoDetModels.CachedProposer(width, height, options.NanoDetPackagePath, options.ModelCacheFolder, options.Progress) : null);
        _features = FeatureSlot.Load(options.FeatureModelPath, options.FeatureModelBytes, width, height,
            nameof(options.FeatureModelPath), nameof(options.FeatureModelBytes), nanoDet ? () => NanoDetModels.CachedFeatureExtractor(width, height) : null);
        if (_proposer.IsValueCreated && _features.IsValueCreated)
            _features.Value.CheckAgainst(_proposer.Value);
        foreach (var model in new[] { _proposer.IsValueCreated ? _proposer.Value.Contract : null, _features.IsValueCreated ? _features.Value.Contract : null })
        {
            if (model is not null)
                FittedGraph.CheckComposable(model);
        }
        _device = new Lazy<int?>(() => GpuFallback.Resolve(options.GpuDeviceId, options.FallbackToCpu, options.Progress));
    }

    /// <inheritdoc/>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        NativeRuntime.EnsureLoaded();
        SchemaChecks.Text(inputSchema, _options.ImageColumnName, nameof(_options.ImageColumnName), "image file paths");
        return FittedChain.OutputSchema(_catalog, inputSchema, _columns, _options.ImageWidth, _options.ImageHeight);
    }

    /// <inheritdoc/>
    public TransformerChain<ITransformer> Fit(IDataView input)
    {
        NativeRuntime.EnsureLoaded();
        SchemaChecks.Text(input.Schema, _options.ImageColumnName, nameof(_options.ImageColumnName), "image file paths");
        var o = _options;
        var readable = ReadableImages(input);
        var proposer = o.QuantizeBackbone ? QuantizedProposer(readable) : _proposer.Value;
        var features = _features.Value;
        features.CheckAgainst(proposer);
        int? device = _device.Value;

        byte[] front = FittedGraph.Front(proposer, o.RegionFilter, features, o.ImageWidth, o.ImageHeight, Describe(proposer, features));
        // The density is fitted on the training filter's regions; the fitted graph scores with the scoring filter's.
        byte[] trainingFront = o.TrainsOnOtherRegions
            ? FittedGraph.Front(proposer, o.TrainingRegionFilter, features, o.ImageWidth, o.ImageHeight, [])
            : front;
        var regions = FittedChain.Front(_catalog, _columns, o.ImageWidth, o.ImageHeight, trainingFront, device, o.FallbackToCpu, withBoxes: o.TrainsOnOtherRegions)
            .Fit(readable).Transform(readable);
        var density = new RkdeDensityEstimator(_catalog, new RkdeDensityOptions
        {
            FeaturesColumnName = FittedGraph.Features,
            FeatureDimension = features.FeatureDimension,
            PcaComponents = o.ResolvedPcaComponents,
            FeatureScaling = o.FeatureScaling,
            Bandwidth = o.Bandwidth,
            MaxTrainingPoints = o.MaxTrainingPoints,
            Seed = o.Seed,
            Progress = o.Progress,
        });
        var (model, threshold) = density.FitModel(regions, features.FeatureDimension, o.FalsePositiveRate,
            o.TrainsOnOtherRegions ? TrainingFront.ScoringOf(o.RegionFilter) : null);
        byte[] composed = FittedGraph.Compose(front, DensityGraph.Build(model, threshold: threshold));
        var chain = FittedChain.Build(_catalog, input, composed, device, o.FallbackToCpu);
        o.Progress?.Report("RkdeAnomaly: done.");
        return chain;
    }

    /// <summary>The fitted graph's description: every option, what the proposer and feature models are, the weights' licence.</summary>
    private IEnumerable<(string Key, string Value)> Describe(ProposerSlot proposer, FeatureSlot features)
    {
        foreach (var (name, value) in _options.Describe())
            yield return (FittedGraph.OptionPrefix + name, value);
        yield return ("rkde_pca_components", _options.ResolvedPcaComponents.ToString(System.Globalization.CultureInfo.InvariantCulture));
        bool nanoDet = _options.BuiltInModel == RkdeBuiltInModel.NanoDet;
        yield return ("rkde_proposer_model", ModelDescription(proposer.Contract, _options.ProposerModelPath, _options.ProposerModelBytes,
            nanoDet ? $"the built-in NanoDet proposer (COCO detector from npm {NanoDetModels.PackageName} {NanoDetModels.PackageVersion}, class-agnostic scores)"
            : _options.QuantizeBackbone ? "the embedded default proposer (ResNet18 layer2/layer3 objectness), backbone in INT8"
                : "the embedded default proposer (ResNet18 layer2/layer3 objectness)"));
        yield return ("rkde_feature_model", ModelDescription(features.Contract, _options.FeatureModelPath, _options.FeatureModelBytes,
            nanoDet ? $"the built-in NanoDet feature extractor (RoIAlign of its stride-8 and stride-16 backbone maps, {features.FeatureDimension} values)"
                : $"the embedded default feature extractor (RoIAlign of ResNet18 layer3, 2 × 2 grid, {features.FeatureDimension} values, unit length)"));
        bool builtInProposer = _options.ProposerModelPath is null && _options.ProposerModelBytes is null;
        bool builtIn = builtInProposer && _options.FeatureModelPath is null && _options.FeatureModelBytes is null;
        string builtInLicence = nanoDet ? NanoDetModels.Licence
            : $"MIT: ImageNet ResNet18 weights from the NuGet package {ResNet18Package.PackageId} {ResNet18Package.PackageVersion}";
        yield return ("rkde_weights_licence", builtIn ? builtInLicence
            : "user models: see the licences of the models given" + (builtInProposer ? "; the built-in proposer's weights: " + builtInLicence : ""));
    }

    private static string ModelDescription(OnnxModelContract model, string? path, byte[]? bytes, string defaultModel)
    {
        if (path is null && bytes is null)
            return defaultModel;
        var m = model.Model;
        string source = path is not null ? $"'{Path.GetFileName(path)}'" : "model bytes";
        string producer = string.Join(' ', new[] { m.ProducerName, m.ProducerVersion }.Where(p => p.Length > 0));
        return $"user model {source}: graph '{m.Graph.Name}'{(producer.Length > 0 ? $", producer '{producer}'" : "")}, opset {OnnxOpsetUpgrade.DefaultOpset(m)}";
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
        var pixels = FittedChain.Pixels(_catalog, _columns, o.ImageWidth, o.ImageHeight).Fit(input).Transform(input);
        var column = pixels.Schema[FittedGraph.Pixels];
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
}
