using Rkde.MLNet.Checks;
namespace Rkde.MLNet.Density;

/// <summary>The density stage (PCA → scaling → Gaussian KDE), with anomalib's defaults.</summary>
public sealed class DensityOptions
{
    /// <summary>anomalib's number of principal components, 16.</summary>
    public const int AnomalibPcaComponents = 16;

    /// <summary>Number of principal components kept. Default <see cref="AnomalibPcaComponents"/>.</summary>
    public int PcaComponents = AnomalibPcaComponents;

    /// <summary>How projected features are scaled before the KDE. Default <see cref="FeatureScalingMethod.Scale"/>.</summary>
    public FeatureScalingMethod FeatureScaling = FeatureScalingMethod.Scale;

    /// <summary>At most this many training regions (a seeded uniform sample) build the KDE. Default 40,000.</summary>
    public int MaxTrainingPoints = 40_000;

    /// <summary>Throws when a value is outside its valid range, naming the option.</summary>
    public void Validate()
    {
        OptionChecks.AtLeast(nameof(PcaComponents), PcaComponents, 1);
        OptionChecks.AtLeast(nameof(MaxTrainingPoints), MaxTrainingPoints, PcaComponents,
            $"(PcaComponents = {PcaComponents}: the KDE needs at least as many training points as components)");
        if (!Enum.IsDefined(FeatureScaling))
            throw new ArgumentOutOfRangeException(nameof(FeatureScaling), FeatureScaling,
                $"{nameof(FeatureScaling)} = {FeatureScaling} is invalid: it must be Scale or Norm.");
    }
}
