using Rkde.MLNet.Checks;
namespace Rkde.MLNet.Density;

/// <summary>Options of <see cref="RkdeCatalog.RkdeDensity"/>: the PCA + KDE stage over a column of region features. Defaults are anomalib's.</summary>
public sealed class RkdeDensityOptions
{
    /// <summary>anomalib's number of principal components, 16: the default with a feature model of your own.</summary>
    public const int AnomalibPcaComponents = 16;

    /// <summary>Input column: float vector of the image's region features, <see cref="FeatureDimension"/> per region. Default "Features".</summary>
    public string FeaturesColumnName = "Features";

    /// <summary>D, the length of one region's features; 0: the column's fixed vector size (one region per row).</summary>
    public int FeatureDimension;

    /// <summary>Number of principal components kept. Default <see cref="AnomalibPcaComponents"/> (16).</summary>
    public int PcaComponents = AnomalibPcaComponents;

    /// <summary>Scaling after the projection. Default <see cref="FeatureScalingMethod.Scale"/>.</summary>
    public FeatureScalingMethod FeatureScaling = FeatureScalingMethod.Scale;

    /// <summary>The kernel's shape. Default <see cref="KdeBandwidth.Covariance"/> (anomalib's).</summary>
    public KdeBandwidth Bandwidth = KdeBandwidth.Covariance;

    /// <summary>At most this many training regions (a reservoir sample seeded by <see cref="Seed"/>) build the KDE. Default 40,000.</summary>
    public int MaxTrainingPoints = 40_000;

    /// <summary>Output column: variable-length float vector, the anomaly probability of each region. Default "BoxScores".</summary>
    public string BoxScoresColumnName = "BoxScores";

    /// <summary>Output column: the row's anomaly score, the highest region probability (0 without regions). Default "Score".</summary>
    public string ScoreColumnName = "Score";

    /// <summary>Seed of the training-region sample and the PCA; the same data and seed give the same model. Default 0.</summary>
    public int Seed;

    /// <summary>GPU for ONNX Runtime (CUDA device id); null: CPU.</summary>
    public int? GpuDeviceId;

    /// <summary>When the GPU cannot be used, run on the CPU instead of failing. Default true.</summary>
    public bool FallbackToCpu = true;

    /// <summary>Receives progress messages during Fit, on the fitting thread.</summary>
    public IProgress<string>? Progress;

    /// <summary>A copy of the values (all immutable); the Progress sink is shared.</summary>
    internal RkdeDensityOptions Clone() => (RkdeDensityOptions)MemberwiseClone();

    /// <summary>Throws when a value is invalid, naming the option, its value and the valid range.</summary>
    public void Validate()
    {
        OptionChecks.NotEmpty(nameof(FeaturesColumnName), FeaturesColumnName);
        OptionChecks.AtLeast(nameof(FeatureDimension), FeatureDimension, 0);
        ValidateDensity(PcaComponents, MaxTrainingPoints, FeatureScaling, Bandwidth);
        OptionChecks.AtLeast(nameof(GpuDeviceId), GpuDeviceId ?? 0, 0);
        OptionChecks.DistinctColumns((nameof(BoxScoresColumnName), BoxScoresColumnName), (nameof(ScoreColumnName), ScoreColumnName));
    }

    /// <summary>The checks of the density model's own settings, which <see cref="RkdeOptions"/> carries under the same names.</summary>
    internal static void ValidateDensity(int pcaComponents, int maxTrainingPoints, FeatureScalingMethod featureScaling, KdeBandwidth bandwidth)
    {
        OptionChecks.AtLeast(nameof(PcaComponents), pcaComponents, 1);
        OptionChecks.AtLeast(nameof(MaxTrainingPoints), maxTrainingPoints, pcaComponents,
            $"(PcaComponents = {pcaComponents}: the KDE needs at least as many training points as components)");
        if (!Enum.IsDefined(featureScaling))
            throw new ArgumentOutOfRangeException(nameof(FeatureScaling), featureScaling,
                $"{nameof(FeatureScaling)} = {featureScaling} is invalid: it must be Scale or Norm.");
        if (!Enum.IsDefined(bandwidth))
            throw new ArgumentOutOfRangeException(nameof(Bandwidth), bandwidth,
                $"{nameof(Bandwidth)} = {bandwidth} is invalid: it must be Covariance or Isotropic.");
    }
}
