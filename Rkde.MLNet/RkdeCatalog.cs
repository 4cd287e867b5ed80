using Microsoft.ML;
using Rkde.MLNet.Density;
using Rkde.MLNet.Features;
using Rkde.MLNet.Regions;

namespace Rkde.MLNet;

/// <summary>R-KDE estimators on <c>mlContext.Transforms</c>.</summary>
public static class RkdeCatalog
{
    /// <summary>
    /// The whole R-KDE anomaly detector over a column of image paths. Outputs <c>Boxes</c> (float vector, 4 per box,
    /// normalised x1, y1, x2, y2), <c>BoxScores</c> (float vector, anomaly probability per box) and <c>Score</c>
    /// (the image's anomaly score). User models are checked against the slot contracts here; work happens in Fit.
    /// </summary>
    public static RkdeEstimator RkdeAnomaly(this TransformsCatalog catalog, RkdeOptions? options = null) =>
        new(catalog, options ?? new RkdeOptions());

    /// <summary>Region proposals: a proposer ONNX model and R-KDE's box post-processing over a pixels column.</summary>
    public static RkdeRegionProposalEstimator RkdeRegionProposals(this TransformsCatalog catalog, RkdeRegionProposalOptions? options = null) =>
        new(catalog, options ?? new RkdeRegionProposalOptions());

    /// <summary>RoI features: a feature-extractor ONNX model over a pixels column and a column of boxes in pixels.</summary>
    public static RkdeRoiFeatureEstimator RkdeRoiFeatures(this TransformsCatalog catalog, RkdeRoiFeatureOptions? options = null) =>
        new(catalog, options ?? new RkdeRoiFeatureOptions());

    /// <summary>The PCA + KDE density stage over a column of region features; fits to a stock ONNX transformer.</summary>
    public static RkdeDensityEstimator RkdeDensity(this TransformsCatalog catalog, RkdeDensityOptions? options = null) =>
        new(catalog, options ?? new RkdeDensityOptions());
}
