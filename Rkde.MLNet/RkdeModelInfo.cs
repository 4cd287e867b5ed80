namespace Rkde.MLNet;

/// <summary>
/// What a model fitted with <see cref="RkdeCatalog.RkdeAnomaly"/> records about itself: its decision threshold and how it was
/// chosen, its input size, and its whole description (every option, the models, the licence of their weights), as an
/// exported ONNX file carries it in its metadata. Read it with <see cref="RkdeModelCatalog.ReadRkdeModelInfo"/>.
/// </summary>
public sealed class RkdeModelInfo
{
    internal RkdeModelInfo(float threshold, double falsePositiveRate, int thresholdImages, double trainingFalsePositiveRate,
        int imageWidth, int imageHeight, IReadOnlyDictionary<string, string> metadata)
    {
        Threshold = threshold;
        FalsePositiveRate = falsePositiveRate;
        ThresholdImages = thresholdImages;
        TrainingFalsePositiveRate = trainingFalsePositiveRate;
        ImageWidth = imageWidth;
        ImageHeight = imageHeight;
        Metadata = metadata;
    }

    /// <summary>The threshold behind the IsAnomaly column: an image is anomalous when its score is at least this (+∞: never).</summary>
    public float Threshold { get; }

    /// <summary>The false-positive rate the threshold was chosen for (<see cref="RkdeOptions.FalsePositiveRate"/>).</summary>
    public double FalsePositiveRate { get; }

    /// <summary>How many training images' held-out scores the threshold was chosen from.</summary>
    public int ThresholdImages { get; }

    /// <summary>The share of those scores at or above the threshold (at most <see cref="FalsePositiveRate"/>).</summary>
    public double TrainingFalsePositiveRate { get; }

    /// <summary>The model input width; images are stretched to it.</summary>
    public int ImageWidth { get; }

    /// <summary>The model input height.</summary>
    public int ImageHeight { get; }

    /// <summary>The model's description as key/value pairs ("rkde_option_MinBoxSize", "rkde_threshold", "rkde_weights_licence", …).</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }
}
