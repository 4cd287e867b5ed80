using System.Globalization;
using System.Numerics.Tensors;
using Rkde.MLNet.Checks;

namespace Rkde.MLNet.Density;

internal sealed partial class KdeDensityModel
{
    /// <summary>
    /// Fits the density model on <paramref name="rowCount"/> feature rows of length <paramref name="featureDimension"/>
    /// (<paramref name="rows"/> row-major): a seeded uniform sample (<see cref="Reservoir.Sample"/>, the rows a reservoir keeps from them) of at most
    /// <see cref="RkdeDensityOptions.MaxTrainingPoints"/> rows → PCA (<see cref="Pca"/>) → scaling → Gaussian KDE
    /// (<see cref="GaussianKde"/>). Cost is linear in the number of rows.
    /// </summary>
    /// <exception cref="InvalidOperationException">Fewer rows than <see cref="RkdeDensityOptions.PcaComponents"/>, or rows that span fewer dimensions.</exception>
    /// <exception cref="ArgumentException">Mismatched lengths, or a NaN/∞ feature (the row and column are named).</exception>
    public static KdeDensityModel Fit(ReadOnlySpan<float> rows, int rowCount, int featureDimension,
        RkdeDensityOptions options, int seed = 0, IProgress<string>? progress = null)
        => Fit(rows, rowCount, featureDimension, options, seed, progress, PcaSolver.Auto);

    internal static unsafe KdeDensityModel Fit(ReadOnlySpan<float> rows, int rowCount, int featureDimension,
        RkdeDensityOptions options, int seed, IProgress<string>? progress, PcaSolver solver)
    {
        OptionChecks.AtLeast(nameof(featureDimension), featureDimension, 1);
        OptionChecks.AtLeast(nameof(rowCount), rowCount, 0);
        if (rows.Length != (long)rowCount * featureDimension)
        {
            throw new ArgumentException(string.Create(CultureInfo.InvariantCulture,
                $"rows holds {rows.Length} values but rowCount × featureDimension = {rowCount} × {featureDimension} = {(long)rowCount * featureDimension}: pass the rows row-major, featureDimension values each."),
                nameof(rows));
        }
        CheckOptionsAndRowCount(options, rowCount);
        fixed (float* data = rows)
        {
            var all = new FeatureRows(data, rowCount, featureDimension);
            if (all.FindNonFinite() is var (badRow, badColumn))
            {
                throw new ArgumentException(string.Create(CultureInfo.InvariantCulture,
                    $"Training feature row {badRow} holds {all.Row(badRow)[badColumn]} at column {badColumn}: R-KDE needs finite features. Check the feature extractor's output for that region."),
                    nameof(rows));
            }
            return Fit(all, options, seed, progress, solver);
        }
    }

    /// <summary>
    /// Fits on the rows of <paramref name="all"/>, oldest first, which stay pinned for the call and are finite (the public overload checks
    /// them; RkdeDensityEstimator rejects non-finite regions, naming image and region, while it samples them).
    /// <paramref name="regionsSeen"/>: how many regions the rows are a uniform sample of (default: the rows themselves).
    /// <paramref name="near"/> and <paramref name="pcaTolerance"/>: where the iterative PCA starts and stops (<see cref="Pca.Fit"/>).
    /// </summary>
    internal static unsafe KdeDensityModel Fit(FeatureRows all, RkdeDensityOptions options, int seed,
        IProgress<string>? progress, PcaSolver solver = PcaSolver.Auto, long? regionsSeen = null, float[]? near = null,
        double pcaTolerance = Lobpcg.ErrorTolerance)
    {
        int rowCount = all.Count, featureDimension = all.Dimension;
        CheckOptionsAndRowCount(options, rowCount);
        // As anomalib (whose SVD yields at most D directions): k = min(PcaComponents, D).
        int k = Math.Min(options.PcaComponents, featureDimension);

        int[]? sample = Reservoir.Sample(rowCount, options.MaxTrainingPoints, seed);
        if (sample is not null)
            Array.Sort(sample); // oldest first, as RkdeDensityEstimator fits its reservoir's rows (Reservoir.RowsOldestFirst)
        var training = sample is null ? all : all.Subset(sample);
        progress?.Report(sample is null
            ? $"R-KDE density: fitting on all {rowCount} training regions ({featureDimension}-d, {k} components)"
            : $"R-KDE density: fitting on a seeded sample of {sample.Length} of {rowCount} training regions ({featureDimension}-d, {k} components)");

        var pca = Pca.Fit(training, k, seed, progress, solver, near, pcaTolerance);
        progress?.Report($"R-KDE density: PCA solved {pca.Solved}");
        int n = training.Count;
        double[] scaled = pca.Projections;
        double explained = ExplainedVariance.Share(TensorPrimitives.SumOfSquares<double>(scaled), pca.CentredSquares);
        double maxLength = 1;
        if (options.FeatureScaling == FeatureScalingMethod.Scale)
        {
            maxLength = 0;
            for (int i = 0; i < n; i++) maxLength = Math.Max(maxLength, RowNorm(scaled.AsSpan(i * k, k)));
            if (maxLength > 0)
            {
                for (int i = 0; i < scaled.Length; i++) scaled[i] /= maxLength;
            }
        }
        else
        {
            for (int i = 0; i < n; i++) NormaliseRow(scaled.AsSpan(i * k, k));
        }

        var kde = GaussianKde.Fit(scaled, n, k, options.Bandwidth);
        progress?.Report(string.Create(CultureInfo.InvariantCulture,
            $"R-KDE density: KDE fitted on {n} points; the {k} components explain {explained:P1} of the training regions' variance"));
        var history = new SampleHistory(regionsSeen ?? rowCount, SplitMix64.FromSeed(seed), options.MaxTrainingPoints, explained);
        return new KdeDensityModel(featureDimension, k, options.FeatureScaling, pca.Mean, pca.Components,
            maxLength, options.Bandwidth, kde.BandwidthTransform, kde.LogNormaliser, scaled, history);
    }

    private static void CheckOptionsAndRowCount(RkdeDensityOptions options, int rowCount)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        if (rowCount < options.PcaComponents)
        {
            throw new InvalidOperationException(string.Create(CultureInfo.InvariantCulture,
                $"R-KDE found {rowCount} training regions but needs at least {options.PcaComponents} (PcaComponents) to fit its density model. " +
                $"Train on more or larger normal images, lower PcaComponents, or keep more regions per image by lowering MinBoxSize or RoiScoreThreshold."));
        }
    }

    private static double RowNorm(ReadOnlySpan<double> y)
    {
        double s = 0;
        foreach (double v in y) s += v * v;
        return Math.Sqrt(s);
    }

    /// <summary>Divides a projected row by its own L2 norm (a zero row stays at the origin).</summary>
    private static void NormaliseRow(Span<double> y)
    {
        double norm = RowNorm(y);
        if (norm > 0)
        {
            for (int j = 0; j < y.Length; j++) y[j] /= norm;
        }
    }
}
