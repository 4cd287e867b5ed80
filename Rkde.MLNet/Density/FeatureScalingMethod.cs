namespace Rkde.MLNet.Density;

/// <summary>How PCA-projected region features are scaled before the KDE (anomalib's <c>FeatureScalingMethod</c>).</summary>
public enum FeatureScalingMethod
{
    /// <summary>Divide every row by the largest L2 norm seen among the training rows.</summary>
    Scale,

    /// <summary>Divide every row by its own L2 norm (unit length).</summary>
    Norm,
}
