using MathNet.Numerics.LinearAlgebra;

namespace Rkde.MLNet.Density;

/// <summary>
/// The Gaussian KDE's bandwidth (as anomalib's <c>GaussianKDE.fit</c>): Scott's factor n^(−1/(k+4)), the unbiased
/// covariance of the scaled projected rows, L = Cholesky(inv(covariance) / factor²), the centred rows mapped through L and
/// the log normaliser Σ log diag L − (k/2)·log 2π − log n. All in double.
/// </summary>
internal static class GaussianKde
{
    /// <summary>The fitted kernel: L (k × k row-major, lower), the n × k mapped rows, the log normaliser.</summary>
    public sealed record Result(double[] BandwidthTransform, double[] Points, double LogNormaliser);

    /// <summary>Scott's rule bandwidth factor for n points in k dimensions.</summary>
    public static double ScottFactor(int n, int k) => Math.Pow(n, -1.0 / (k + 4));

    /// <summary>Fits the kernel to <paramref name="data"/> (n × k row-major).</summary>
    public static Result Fit(double[] data, int n, int k)
    {
        var x = Matrix<double>.Build.Dense(n, k, (i, j) => data[(long)i * k + j]);
        var mean = x.ColumnSums() / n;
        var centred = x - Matrix<double>.Build.Dense(n, k, (_, j) => mean[j]);
        var covariance = centred.TransposeThisAndMultiply(centred) / (n - 1);
        double factor = ScottFactor(n, k);
        Matrix<double> l;
        try
        {
            var inverse = covariance.Cholesky().Solve(Matrix<double>.Build.DenseIdentity(k));
            inverse = (inverse + inverse.Transpose()) * (0.5 / (factor * factor));
            l = inverse.Cholesky().Factor;
        }
        catch (ArgumentException e)
        {
            throw new InvalidOperationException(
                $"R-KDE's density model is degenerate: the {n} training regions, projected on {k} principal " +
                $"components, do not span {k} dimensions (their covariance is singular). Train on more varied " +
                "normal images or lower PcaComponents.", e);
        }
        // anomalib's covariance centres its data in place, so its kernel points are the *centred* rows mapped through
        // L (scored rows are not centred). A no-op for Scale (PCA projections have zero mean); it matters for Norm.
        var points = centred * l;
        double logNormaliser = -0.5 * k * Math.Log(2 * Math.PI) - Math.Log(n);
        for (int i = 0; i < k; i++) logNormaliser += Math.Log(l[i, i]);
        return new Result(ToRowMajor(l), ToRowMajor(points), logNormaliser);
    }

    private static double[] ToRowMajor(Matrix<double> m)
    {
        var result = new double[(long)m.RowCount * m.ColumnCount];
        for (int i = 0; i < m.RowCount; i++)
        for (int j = 0; j < m.ColumnCount; j++) result[(long)i * m.ColumnCount + j] = m[i, j];
        return result;
    }
}
