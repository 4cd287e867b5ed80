using Rkde.MLNet;
using Rkde.Cli.Evaluate.Metrics;
using Rkde.MLNet.Density;
using Rkde.MLNet.Regions;

namespace Rkde.Cli.Scoring;

/// <summary>What the commands need from the R-KDE pipeline: fit-and-save, and load-and-score.</summary>
internal interface IRkdeEngine
{
    /// <summary>
    /// Fits on <paramref name="images"/> (all normal) and saves the model to <paramref name="modelPath"/>. Unreadable images
    /// are skipped with a warning through <paramref name="progress"/>, or fail the fit when
    /// <see cref="FitSettings.SkipUnreadableImages"/> is false. Returns the number of images fitted on.
    /// </summary>
    int Fit(IReadOnlyList<string> images, FitSettings settings, string modelPath, IProgress<string> progress);

    /// <summary>Loads a saved model for scoring.</summary>
    IImageScorer Load(string modelPath);

    /// <summary>
    /// Adds <paramref name="images"/> (all normal) to the model at <paramref name="modelPath"/> and saves the result to
    /// <paramref name="outPath"/> (which may be the same file), replacing it only once the new model is complete.
    /// </summary>
    UpdateSummary Update(string modelPath, IReadOnlyList<string> images, UpdateSettings settings, string outPath, IProgress<string> progress);

    /// <summary>Writes a saved model as one self-contained ONNX file (batched: input [B, H, W, 3] at the model input size).</summary>
    void Export(string modelPath, string onnxPath, bool batched) =>
        throw new NotSupportedException("This engine cannot export models.");

    /// <summary>Loads a saved model's exported ONNX graph to score <paramref name="batch"/> images per call with ONNX Runtime.</summary>
    IImageScorer LoadExported(string modelPath, int batch) =>
        throw new NotSupportedException("This engine cannot score through the exported graph.");
}

/// <summary>How <c>rkde update</c> adds images: the sampling mode, and whether an unreadable image stops it.</summary>
internal sealed record UpdateSettings(UpdateSampling Sampling = UpdateSampling.Reservoir, bool Strict = false);

/// <summary>What an update did (see Rkde.MLNet's RkdeUpdateResult).</summary>
internal sealed record UpdateSummary(int ImagesAdded, int ImagesSkipped, long RegionsAdded, long RegionsSeen, int TrainingPoints,
    double ExplainedVariance, double TrainingExplainedVariance, float Threshold);

/// <summary>Scores single images with a loaded model.</summary>
internal interface IImageScorer : IDisposable
{
    /// <summary>Image score and boxes in pixels of the original <paramref name="width"/> × <paramref name="height"/> image, highest score first.</summary>
    ImageScore Score(string imagePath, int width, int height);

    /// <summary>Several images in one call, in order (by default one by one).</summary>
    IReadOnlyList<ImageScore> Score(IReadOnlyList<(string Path, int Width, int Height)> images) =>
        images.Select(i => Score(i.Path, i.Width, i.Height)).ToList();

    /// <summary>How many images one call of the list overload of Score takes at best.</summary>
    int BatchSize => 1;

    /// <summary>The model's own decision threshold (an image is anomalous at or above it), or null when the model has none.</summary>
    float? Threshold => null;

    /// <summary>The false-positive rate the model's threshold was chosen for, or null.</summary>
    double? FalsePositiveRate => null;
}

/// <summary>One image's anomaly score and its scored boxes (original-image pixels).</summary>
internal sealed record ImageScore(float Score, IReadOnlyList<Detection> Boxes)
{
    /// <summary>The verdict at a decision threshold: anomalous when the score reaches it.</summary>
    public bool IsAnomalyAt(float threshold) => Score >= threshold;

    /// <summary>
    /// The score and boxes of a prediction for an image of <paramref name="width"/> × <paramref name="height"/>
    /// pixels: boxes scaled from the model's [0, 1] coordinates to those pixels, highest score first.
    /// </summary>
    public static ImageScore From(RkdePrediction prediction, int width, int height)
    {
        float[] pixels = prediction.BoxesInPixels(width, height);
        var boxes = Enumerable.Range(0, prediction.BoxCount)
            .Select(i => new Detection(new BoundingBox(pixels[4 * i], pixels[4 * i + 1], pixels[4 * i + 2], pixels[4 * i + 3]), prediction.BoxScores[i]))
            .OrderByDescending(d => d.Score)
            .ToList();
        return new ImageScore(prediction.Score, boxes);
    }
}

/// <summary>Every R-KDE setting <c>rkde fit</c> exposes; defaults as in <c>new RkdeOptions()</c> (the tuned preset).</summary>
internal sealed record FitSettings
{
    /// <summary>The settings of a preset: <c>new RkdeOptions()</c> or <see cref="RkdeOptions.Anomalib"/>.</summary>
    public static FitSettings From(RkdeOptions o) => new()
    {
        Stage = o.RoiStage,
        Width = o.ImageWidth,
        Height = o.ImageHeight,
        RoiScoreThreshold = o.RoiScoreThreshold,
        MinBoxSize = o.MinBoxSize,
        IouThreshold = o.IouThreshold,
        MaxDetectionsPerImage = o.MaxDetectionsPerImage,
        TrainingIouThreshold = o.TrainingIouThreshold,
        MaxTrainingDetectionsPerImage = o.MaxTrainingDetectionsPerImage,
        PcaComponents = o.PcaComponents,
        FeatureScaling = o.FeatureScaling,
        Bandwidth = o.Bandwidth,
        MaxTrainingPoints = o.MaxTrainingPoints,
        Seed = o.Seed,
        QuantizeBackbone = o.QuantizeBackbone,
    };

    public RoiStage Stage { get; init; } = RoiStage.Rcnn;
    public string? ProposerModel { get; init; }
    public string? FeatureModel { get; init; }
    public RkdeBuiltInModel BuiltInModel { get; init; } = RkdeBuiltInModel.ResNet18;
    public string? NanoDetPackage { get; init; }
    public int Width { get; init; } = 360;
    public int Height { get; init; } = 240;
    public float RoiScoreThreshold { get; init; } = 0.001f;
    public float MinBoxSize { get; init; } = 25;
    public float IouThreshold { get; init; } = 0.3f;
    public int MaxDetectionsPerImage { get; init; } = 100;
    public float? TrainingIouThreshold { get; init; }
    public int? MaxTrainingDetectionsPerImage { get; init; }
    public int? PcaComponents { get; init; }
    public FeatureScalingMethod FeatureScaling { get; init; } = FeatureScalingMethod.Scale;
    public KdeBandwidth Bandwidth { get; init; } = KdeBandwidth.Isotropic;
    public int MaxTrainingPoints { get; init; } = 40000;
    public int Seed { get; init; }
    public int? GpuDeviceId { get; init; }
    public bool QuantizeBackbone { get; init; }
    public double FalsePositiveRate { get; init; } = 0.01;

    /// <summary>Skip unreadable training images with a warning each (true), or stop at the first (<c>--strict</c>).</summary>
    public bool SkipUnreadableImages { get; init; } = true;
}
