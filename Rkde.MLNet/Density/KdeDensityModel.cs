namespace Rkde.MLNet.Density;

/// <summary>
/// The fitted state of R-KDE's density stage: PCA (mean, components) → scaling → Gaussian KDE whose bandwidth
/// transform maps projected rows to a space where the kernel is a unit Gaussian.
/// Score of a feature row x: y = (x − Mean)·Components; y /= (Scale ? MaxLength : ‖y‖); z = y·BandwidthTransform;
/// log-density = LogNormaliser + logsumexp_i(−½‖z − Points_i‖²), where LogNormaliser already holds −log n.
/// The projection (Mean, Components, MaxLength) is fixed at the fit; the kept sample (<see cref="Sample"/>) and the
/// bandwidth derived from it change when the model is updated with new regions (<see cref="DensityUpdate"/>).
/// </summary>
internal sealed partial class KdeDensityModel
{
    internal KdeDensityModel(int featureDimension, int componentCount, FeatureScalingMethod scaling,
        float[] mean, float[] components, double maxLength, KdeBandwidth bandwidth, double[] bandwidthTransform,
        double logNormaliser, double[] sample, SampleHistory history)
    {
        Bandwidth = bandwidth;
        FeatureDimension = featureDimension;
        ComponentCount = componentCount;
        Scaling = scaling;
        Mean = mean;
        Components = components;
        MaxLength = maxLength;
        BandwidthTransform = bandwidthTransform;
        LogNormaliser = logNormaliser;
        Sample = sample;
        History = history;
    }

    /// <summary>D, the length of a feature row.</summary>
    public int FeatureDimension { get; }

    /// <summary>k, the number of principal components kept.</summary>
    public int ComponentCount { get; }

    /// <summary>The scaling applied after the projection.</summary>
    public FeatureScalingMethod Scaling { get; }

    /// <summary>The per-dimension training mean, length D.</summary>
    public float[] Mean { get; }

    /// <summary>The principal directions as a D × k row-major matrix (projection = centred row · Components).</summary>
    public float[] Components { get; }

    /// <summary><see cref="FeatureScalingMethod.Scale"/>: the largest L2 norm of the projected training rows; otherwise 1.</summary>
    public double MaxLength { get; }

    /// <summary>The kernel's shape, which an update keeps when it refits the bandwidth to the new sample.</summary>
    public KdeBandwidth Bandwidth { get; }

    /// <summary>k × k row-major matrix L: the Cholesky factor of the inverse covariance divided by Scott's factor squared.</summary>
    public double[] BandwidthTransform { get; }

    /// <summary>
    /// The n training rows (scaled, then centred on their mean as anomalib does) mapped through the bandwidth transform, n × k
    /// row-major; computed from <see cref="Sample"/> on first use (the density graph computes them itself).
    /// </summary>
    public double[] Points => _points ??= GaussianKde.MapPoints(GaussianKde.Centre(Sample, PointCount, ComponentCount), PointCount, ComponentCount, BandwidthTransform);

    private double[]? _points;

    /// <summary>n, the number of training points in the KDE.</summary>
    public int PointCount => Sample.Length / ComponentCount;

    /// <summary>log(prod diag L) − (k/2)·log(2π) − log n.</summary>
    public double LogNormaliser { get; }

    /// <summary>
    /// The kept training sample: the n projected, scaled rows (before centring and the bandwidth transform), n × k
    /// row-major, oldest first. <see cref="Points"/> are these rows centred and mapped through <see cref="BandwidthTransform"/>.
    /// </summary>
    internal double[] Sample { get; }

    /// <summary>How the sample came about: what an update needs to continue it.</summary>
    internal SampleHistory History { get; }
}
