using System.CommandLine;
using Rkde.Cli.Scoring;
using Rkde.MLNet;
using Rkde.MLNet.Density;
using Rkde.MLNet.Regions;

namespace Rkde.Cli.Commands;

/// <summary>The R-KDE settings shared by <c>fit</c> and <c>evaluate</c>, with anomalib's defaults.</summary>
internal sealed class RkdeOptionSet
{
    private static readonly FitSettings Defaults = new();

    private readonly Option<RoiStage> _stage = new("--stage") { Description = "Which boxes to score: rcnn (detector's final boxes) or rpn (region proposals).", DefaultValueFactory = _ => Defaults.Stage };
    private readonly Option<string?> _proposer = new("--proposer") { Description = "ONNX region proposer (input \"image\" [1,3,H,W] → \"boxes\", \"scores\"); default: the embedded ResNet18 proposer." };
    private readonly Option<string?> _features = new("--features") { Description = "ONNX RoI feature extractor (\"boxes\" + \"image\" → \"features\" [1,N,D]); default: the embedded ResNet18 extractor." };
    private readonly Option<int> _width = new("--width") { Description = "Model input width; images are resized to it.", DefaultValueFactory = _ => Defaults.Width };
    private readonly Option<int> _height = new("--height") { Description = "Model input height.", DefaultValueFactory = _ => Defaults.Height };
    private readonly Option<float> _roiScore = new("--roi-score-threshold") { Description = "Drop proposals scoring below this.", DefaultValueFactory = _ => Defaults.RoiScoreThreshold };
    private readonly Option<float> _minBox = new("--min-box-size") { Description = "Drop boxes with a side shorter than this (model-input pixels).", DefaultValueFactory = _ => Defaults.MinBoxSize };
    private readonly Option<float> _iou = new("--iou-threshold") { Description = "Non-maximum suppression IoU threshold.", DefaultValueFactory = _ => Defaults.IouThreshold };
    private readonly Option<int> _maxDetections = new("--max-detections") { Description = "Boxes kept per image.", DefaultValueFactory = _ => Defaults.MaxDetectionsPerImage };
    private readonly Option<int?> _pca = new("--pca-components") { Description = "PCA components of the density model; default 64 with the embedded feature extractor, 16 (anomalib's) with --features." };
    private readonly Option<FeatureScalingMethod> _scaling = new("--feature-scaling") { Description = "scale (by the largest training norm) or norm (each to unit length).", DefaultValueFactory = _ => Defaults.FeatureScaling };
    private readonly Option<int> _maxPoints = new("--max-training-points") { Description = "Training boxes kept for the KDE (random subset).", DefaultValueFactory = _ => Defaults.MaxTrainingPoints };
    private readonly Option<int> _seed = new("--seed") { Description = "Seed of the training-region sample and the PCA (same data + seed → same model).", DefaultValueFactory = _ => Defaults.Seed };
    private readonly Option<int?> _gpu = new("--gpu") { Description = "CUDA device id for ONNX Runtime (falls back to CPU); default CPU." };
    private readonly Option<double> _falsePositiveRate = new("--false-positive-rate") { Description = "Share of normal images the model's stored threshold may flag (0–1, exclusive), estimated from held-out scores of the training images (5 folds).", DefaultValueFactory = _ => Defaults.FalsePositiveRate };
    private readonly Option<bool> _int8 = new("--int8") { Description = "Run the embedded ResNet18 backbone in INT8, calibrated on the first 8 training images (faster on CPUs with AVX-512 VNNI); not with --proposer." };

    public void AddTo(Command command)
    {
        foreach (Option o in new Option[] { _stage, _proposer, _features, _width, _height, _roiScore, _minBox, _iou, _maxDetections, _pca, _scaling, _maxPoints, _seed, _gpu, _int8, _falsePositiveRate })
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
        bool int8 = parse.GetValue(_int8);
        if (int8 && proposer is not null)
        {
            throw new CliException("--int8 quantizes the embedded proposer's backbone; it cannot be combined with --proposer.");
        }
        int width = parse.GetValue(_width), height = parse.GetValue(_height);
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
            Stage = parse.GetValue(_stage),
            ProposerModel = proposer,
            FeatureModel = features,
            Width = width,
            Height = height,
            RoiScoreThreshold = parse.GetValue(_roiScore),
            MinBoxSize = parse.GetValue(_minBox),
            IouThreshold = parse.GetValue(_iou),
            MaxDetectionsPerImage = parse.GetValue(_maxDetections),
            PcaComponents = parse.GetValue(_pca),
            FeatureScaling = parse.GetValue(_scaling),
            MaxTrainingPoints = parse.GetValue(_maxPoints),
            Seed = parse.GetValue(_seed),
            GpuDeviceId = parse.GetValue(_gpu),
            QuantizeBackbone = int8,
            FalsePositiveRate = rate,
        };
    }
}
