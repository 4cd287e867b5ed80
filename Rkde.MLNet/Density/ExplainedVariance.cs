namespace Rkde.MLNet.Density;

/// <summary>
/// How well a projection describes rows: Σ‖(x − mean)·Components‖² / Σ‖x − mean‖², the share of the rows' spread about
/// the fitted mean that the kept components hold. The components are orthonormal, so the share lies in [0, 1]; new rows
/// that differ from the training rows in directions the projection drops have a low share.
/// </summary>
internal static unsafe class ExplainedVariance
{
    /// <summary>The share, or NaN when the rows have no spread at all.</summary>
    public static double Share(double projectedSquares, double centredSquares) =>
        centredSquares > 0 ? Math.Min(1, projectedSquares / centredSquares) : double.NaN;

    /// <summary>Σ_i ‖row_i − mean‖² over <paramref name="rows"/>, in double.</summary>
    public static double CentredSquares(FeatureRows rows, float[] mean)
    {
        int dim = rows.Dimension;
        double total = 0;
        FeatureRows.ParallelRanges(rows.Count, () => new double[1], (start, end, sum) =>
        {
            for (int i = start; i < end; i++)
                sum[0] += CentredSquares(new ReadOnlySpan<float>(rows.Row(i), dim), mean);
        }, sum => total += sum[0]);
        return total;
    }

    /// <summary>‖row − mean‖², in double.</summary>
    public static double CentredSquares(ReadOnlySpan<float> row, ReadOnlySpan<float> mean)
    {
        double s = 0;
        for (int d = 0; d < row.Length; d++)
        {
            double v = (double)row[d] - mean[d];
            s += v * v;
        }
        return s;
    }
}
