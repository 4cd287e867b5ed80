using System.Numerics.Tensors;
using MathNet.Numerics.LinearAlgebra;

namespace Rkde.MLNet.Density;

/// <summary>
/// The Gaussian KDE's bandwidth (as anomalib's <c>GaussianKDE.fit</c>): Scott's factor n^(−1/(k+4)), the unbiased
/// covariance of the scaled projected rows (<see cref="KdeBandwidth.Isotropic"/>: its mean diagonal times the identity),
/// L = Cholesky(inv(covariance) / factor²), the log normaliser
/// Σ log diag L − (k/2)·log 2π − log n, and the kernel points (the centred rows mapped through L). All in double.
/// </summary>
internal static class GaussianKde
{
    /// <summary>The fitted kernel: L (k × k row-major, lower) and the log normaliser.</summary>
    public sealed record Result(double[] BandwidthTransform, double LogNormaliser);

    /// <summary>Scott's rule bandwidth factor for n points in k dimensions.</summary>
    public static double ScottFactor(int n, int k) => Math.Pow(n, -1.0 / (k + 4));

    /// <summary>Fits the kernel to <paramref name="data"/> (n × k row-major).</summary>
    public static Result Fit(double[] data, int n, int k, KdeBandwidth shape = KdeBandwidth.Covariance)
    {
        // The centred data by column (k × n), so that each scatter entry is one long dot product: the same sum on any
        // number of cores, computed in parallel over the columns.
        var columns = new double[(long)k * n];
        for (int i = 0; i < n; i++)
        for (int a = 0; a < k; a++) columns[(long)a * n + i] = data[(long)i * k + a];
        Parallel.For(0, k, a =>
        {
            var column = columns.AsSpan((int)((long)a * n), n);
            TensorPrimitives.Subtract(column, TensorPrimitives.Sum<double>(column) / n, column);
        });
        var scatter = new double[k * k];
        Parallel.For(0, k, a =>
        {
            var column = columns.AsSpan((int)((long)a * n), n);
            for (int b = 0; b <= a; b++)
                scatter[a * k + b] = scatter[b * k + a] = TensorPrimitives.Dot<double>(column, columns.AsSpan((int)((long)b * n), n));
        });
        var covariance = Matrix<double>.Build.Dense(k, k, (a, b) => scatter[a * k + b] / (n - 1));
        if (shape == KdeBandwidth.Isotropic)
            covariance = Matrix<double>.Build.DenseDiagonal(k, k, covariance.Trace() / k);
        double factor = ScottFactor(n, k);
        Matrix<double> l;
        try
        {
            // Rows that span fewer than k directions have a singular covariance; rounding may leave its last pivot a tiny
            // positive number instead of zero or less, so a pivot below 1e-12 of the largest variance counts as zero.
            var cholesky = covariance.Cholesky();
            double largest = Enumerable.Range(0, k).Max(i => covariance[i, i]);
            if (!(Enumerable.Range(0, k).Min(i => cholesky.Factor[i, i] * cholesky.Factor[i, i]) > 1e-12 * largest))
                throw new ArgumentException("singular covariance");
            var inverse = cholesky.Solve(Matrix<double>.Build.DenseIdentity(k));
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
        var bandwidth = new double[k * k];
        for (int a = 0; a < k; a++)
        for (int b = 0; b < k; b++) bandwidth[a * k + b] = l[a, b];
        double logNormaliser = -0.5 * k * Math.Log(2 * Math.PI) - Math.Log(n);
        for (int i = 0; i < k; i++) logNormaliser += Math.Log(l[i, i]);
        return new Result(bandwidth, logNormaliser);
    }

    /// <summary>
    /// The kernel points: the centred rows (n × k) mapped through L, p = centred · L. anomalib's covariance centres its data
    /// in place, so its kernel points are the *centred* rows (scored rows are not centred). A no-op for Scale (PCA
    /// projections have zero mean); it matters for Norm.
    /// </summary>
    public static double[] MapPoints(ReadOnlySpan<double> centred, int n, int k, double[] bandwidth)
    {
        var points = new double[centred.Length];
        for (int i = 0; i < n; i++)
        {
            var target = points.AsSpan(i * k, k);
            for (int a = 0; a < k; a++) TensorPrimitives.MultiplyAdd(bandwidth.AsSpan(a * k, k), centred[i * k + a], target, target);
        }
        return points;
    }

    /// <summary>The rows of <paramref name="data"/> (n × k) minus their mean.</summary>
    public static double[] Centre(ReadOnlySpan<double> data, int n, int k)
    {
        var mean = new double[k];
        for (int i = 0; i < n; i++) TensorPrimitives.Add(mean, data.Slice(i * k, k), mean);
        TensorPrimitives.Divide(mean, n, mean);
        var centred = new double[data.Length];
        for (int i = 0; i < n; i++) TensorPrimitives.Subtract(data.Slice(i * k, k), mean, centred.AsSpan(i * k, k));
        return centred;
    }
}
