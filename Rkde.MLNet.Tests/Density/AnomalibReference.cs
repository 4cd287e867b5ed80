using MathNet.Numerics.LinearAlgebra;
using MathNet.Numerics.LinearAlgebra.Factorization;
using Rkde.MLNet.Density;

namespace Rkde.MLNet.Tests.Density;

/// <summary>
/// anomalib's density definition (see scripts/kde_fixtures.py) written out plainly in double from double rows, with
/// no shortcut: exact PCA from the eigendecomposition of the D × D covariance, scaling, Scott's bandwidth, and
/// log-densities by a two-pass log-sum-exp. Slow (D³) and only for small fixtures: it tells how much of a
/// difference from a fixture's values comes from rounding the fixture's rows to float (what the library is given).
/// </summary>
internal sealed class AnomalibReference
{
    private readonly double[] _mean;
    private readonly Matrix<double> _components; // D × k
    private readonly double _maxLength;
    private readonly Matrix<double> _bandwidth; // k × k, lower
    private readonly Matrix<double> _points; // n × k
    private readonly double _logNormaliser;
    private readonly FeatureScalingMethod _scaling;

    public AnomalibReference(double[] rows, int dim, int k, FeatureScalingMethod scaling)
    {
        int n = rows.Length / dim;
        k = Math.Min(k, dim);
        _scaling = scaling;
        var x = Matrix<double>.Build.Dense(n, dim, (i, d) => rows[(long)i * dim + d]);
        _mean = x.ColumnSums().Divide(n).ToArray();
        var centred = x - Matrix<double>.Build.Dense(n, dim, (_, d) => _mean[d]);
        var evd = centred.TransposeThisAndMultiply(centred).Evd(Symmetricity.Symmetric);
        _components = Matrix<double>.Build.Dense(dim, k, (d, j) => evd.EigenVectors[d, dim - 1 - j]);
        var y = centred * _components;
        _maxLength = scaling == FeatureScalingMethod.Scale ? y.RowNorms(2).Maximum() : 1;
        y = Scale(y);
        var yc = y - Matrix<double>.Build.Dense(n, k, (_, j) => y.Column(j).Average());
        double factor = Math.Pow(n, -1.0 / (k + 4));
        var inverse = (yc.TransposeThisAndMultiply(yc) / (n - 1)).Inverse() / (factor * factor);
        _bandwidth = ((inverse + inverse.Transpose()) * 0.5).Cholesky().Factor;
        _points = yc * _bandwidth;
        _logNormaliser = Enumerable.Range(0, k).Sum(i => Math.Log(_bandwidth[i, i])) - 0.5 * k * Math.Log(2 * Math.PI) - Math.Log(n);
    }

    /// <summary>The log-density of each row of <paramref name="rows"/> (row-major, D each).</summary>
    public double[] LogDensities(double[] rows)
    {
        int dim = _mean.Length, m = rows.Length / dim;
        var t = Scale(Matrix<double>.Build.Dense(m, dim, (i, d) => rows[(long)i * dim + d] - _mean[d]) * _components);
        var z = t * _bandwidth;
        var result = new double[m];
        for (int i = 0; i < m; i++)
        {
            var halfDistances = Enumerable.Range(0, _points.RowCount).Select(p => 0.5 * (_points.Row(p) - z.Row(i)).DotProduct(_points.Row(p) - z.Row(i))).ToArray();
            double nearest = halfDistances.Min();
            result[i] = _logNormaliser - nearest + Math.Log(halfDistances.Sum(h => Math.Exp(nearest - h)));
        }
        return result;
    }

    private Matrix<double> Scale(Matrix<double> y) => _scaling == FeatureScalingMethod.Scale
        ? y / _maxLength
        : Matrix<double>.Build.DenseOfRowVectors(y.EnumerateRows().Select(r => r / r.L2Norm()));
}
