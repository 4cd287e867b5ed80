namespace Rkde.MLNet.Density;

/// <summary>
/// How well a projection describes rows: Σ‖(x − mean)·Components‖² / Σ‖x − mean‖², the share of the rows' spread about
/// the fitted mean that the kept components hold. The components are orthonormal, so the share lies in [0, 1]; new rows
/// that differ from the training rows in directions the projection drops have a low share.
/// </summary>
internal static class ExplainedVariance
{
    /// <summary>The share, or NaN when the rows have no spread at all.</summary>
    public static double Share(double projectedSquares, double centredSquares) =>
        centredSquares > 0 ? Math.Min(1, projectedSquares / centredSquares) : double.NaN;

    /// <summary>
    /// Σ_i ‖row_i − mean‖² from the column sums and sums of squares of n rows (<see cref="FeatureRows.ColumnSums"/>), about
    /// <paramref name="mean"/> (the fitted float mean): Σ_d (Σx² − 2·m·Σx + n·m²), in double.
    /// </summary>
    public static double CentredSquares(double[] sums, double[] squares, float[] mean, long n)
    {
        double total = 0;
        for (int d = 0; d < mean.Length; d++) total += squares[d] - 2.0 * mean[d] * sums[d] + n * (double)mean[d] * mean[d];
        return Math.Max(total, 0);
    }
}
