namespace Rkde.MLNet.Density;

/// <summary>The shape of the Gaussian KDE's kernel over the scaled PCA projections; both use Scott's factor.</summary>
public enum KdeBandwidth
{
    /// <summary>
    /// The training points' covariance (anomalib's <c>GaussianKDE</c>, SciPy's <c>gaussian_kde</c>). PCA projections are
    /// uncorrelated, so this weighs every component equally: the weak, noisy last components count as much as the first.
    /// </summary>
    Covariance,

    /// <summary>
    /// The components' mean variance in every direction: distances keep the proportions of the projections, so the strong
    /// components weigh most, as in the features themselves.
    /// </summary>
    Isotropic,
}
