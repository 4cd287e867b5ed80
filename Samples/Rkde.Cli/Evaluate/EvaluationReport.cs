using Rkde.Cli.Evaluate.Metrics;

namespace Rkde.Cli.Evaluate;

/// <summary>What <c>rkde evaluate</c> writes to report.json (camelCase).</summary>
internal sealed record EvaluationReport
{
    public string Data { get; init; } = "";
    public string Model { get; init; } = "";
    public int TrainImages { get; init; }
    public int TestGoodImages { get; init; }
    public int TestAnomalousImages { get; init; }
    /// <summary>Test images that could not be scored (excluded from every metric); see results.jsonl.</summary>
    public int FailedImages { get; init; }
    public double ImageAuroc { get; init; }
    /// <summary>Image AUROC of each anomaly kind against test/good.</summary>
    public Dictionary<string, double> ImageAurocByKind { get; init; } = [];
    /// <summary>Pixel AUROC of the box-derived anomaly maps; null when no anomalous image has a mask.</summary>
    public double? PixelAuroc { get; init; }
    /// <summary>Box average precision (VOC, all-point) of anomalous items at IoU 0.3 and 0.5; null without ground-truth boxes.</summary>
    public double? BoxApIou30 { get; init; }
    public double? BoxApIou50 { get; init; }
    /// <summary>Share of anomalous items that some scored box covers at IoU ≥ 0.5 (whatever its score): the ceiling of box AP@0.5.</summary>
    public double? AnomalousItemRecallIou50 { get; init; }
    /// <summary>Share of all items, normal ones included, covered at IoU ≥ 0.5 (needs boxes.json): how well the proposer finds objects.</summary>
    public double? ItemRecallIou50 { get; init; }
    /// <summary>"boxes.json" or "mask regions".</summary>
    public string GroundTruthBoxes { get; init; } = "";
    public ThresholdChoice F1OptimalThreshold { get; init; }
    /// <summary>The model's own threshold (its IsAnomaly: score ≥ this), chosen at fit time for <see cref="NominalFalsePositiveRate"/>; null when the model has none.</summary>
    public float? ModelThreshold { get; init; }
    /// <summary>The false-positive rate the model's threshold was chosen for (held-out scores of the training images).</summary>
    public double? NominalFalsePositiveRate { get; init; }
    /// <summary>The share of test/good images at or above the model's threshold: the realised false-positive rate.</summary>
    public double? TestGoodFalsePositiveRate { get; init; }
    /// <summary>The share of anomalous test images at or above the model's threshold.</summary>
    public double? ModelThresholdRecall { get; init; }
    /// <summary>99th percentile of the training images' scores; null when the model was given (no training images scored).</summary>
    public float? TrainPercentile99Threshold { get; init; }
    public double? FitSeconds { get; init; }
    public double? FitImagesPerSecond { get; init; }
    public double ScoreSeconds { get; init; }
    public double ScoreImagesPerSecond { get; init; }
    /// <summary>Bootstrap 95 % intervals (evaluate --bootstrap N); null without.</summary>
    public BootstrapIntervals? Intervals { get; init; }
    /// <summary>The ROC plot's file; null with --metrics-only.</summary>
    public string? RocCurve { get; init; } = "roc.png";
    public string Results { get; init; } = "results.jsonl";
    /// <summary>The overlays' folder; null with --metrics-only.</summary>
    public string? Overlays { get; init; } = "overlays";
}

/// <summary>95 % percentile intervals, [low, high], of the metrics over bootstrap resamples of the test images.</summary>
internal sealed record BootstrapIntervals
{
    public int Replicates { get; init; }
    public double Level { get; init; } = 0.95;
    public double[] ImageAuroc { get; init; } = [];
    /// <summary>Null without ground-truth boxes.</summary>
    public double[]? BoxApIou30 { get; init; }
    /// <summary>Null without masks.</summary>
    public double[]? PixelAuroc { get; init; }
}

/// <summary>bootstrap.json: every replicate of each metric, in draw order (replicate i of every metric comes from the same draw).</summary>
internal sealed record BootstrapReplicates
{
    public int Replicates { get; init; }
    public int Seed { get; init; }
    public double[] ImageAuroc { get; init; } = [];
    public double[]? BoxApIou30 { get; init; }
    public double[]? PixelAuroc { get; init; }
}
