using MathNet.Numerics.LinearAlgebra;
using Rkde.MLNet.Density;

namespace Rkde.MLNet.Tests.Density;

/// <summary>
/// A plain double-precision R-KDE (anomalib's recipe: PCA by eigen-decomposition, Scale/Norm, Scott's bandwidth,
/// Cholesky of the inverse covariance) that builds a <see cref="KdeDensityModel"/> and scores rows with a direct
/// log-sum-exp, to hold the ONNX graph against.
/// </summary>
internal static class ReferenceKde
{
    public static KdeDensityModel Fit(float[] rows, int d, int k, FeatureScalingMethod scaling)
    {
        int n = rows.Length / d;
        var x = Matrix<double>.Build.Dense(n, d, (i, j) => rows[i * d + j]);
        var mean = x.ColumnSums() / n;
        var centred = x - Matrix<double>.Build.Dense(n, d, (i, j) => mean[j]);
        var evd = (centred.TransposeThisAndMultiply(centred)).Evd(MathNet.Numerics.LinearAlgebra.Symmetricity.Symmetric);
        var components = Matrix<double>.Build.Dense(d, k, (i, c) => evd.EigenVectors[i, d - 1 - c]);
        var componentsF = new float[d * k];
        for (int i = 0; i < d; i++)
            for (int c = 0; c < k; c++)
                componentsF[i * k + c] = (float)components[i, c];
        var meanF = mean.Select(v => (float)v).ToArray();

        var y = Matrix<double>.Build.Dense(n, k, (r, c) => Project(rows.AsSpan(r * d, d), meanF, componentsF, k)[c]);
        double maxLength = 1;
        if (scaling == FeatureScalingMethod.Scale)
        {
            maxLength = y.EnumerateRows().Max(r => r.L2Norm());
            y /= maxLength;
        }
        else
        {
            y = Matrix<double>.Build.DenseOfRows(y.EnumerateRows().Select(r => r.L2Norm() == 0 ? r : r / r.L2Norm()));
        }
        var ymean = y.ColumnSums() / n;
        var yc = y - Matrix<double>.Build.Dense(n, k, (i, j) => ymean[j]);
        var cov = yc.TransposeThisAndMultiply(yc) / (n - 1);
        double factor = Math.Pow(n, -1.0 / (k + 4));
        var l = (cov.Inverse() / (factor * factor)).Cholesky().Factor;
        // anomalib centres the training rows in place while computing their covariance (GaussianKDE.cov on a
        // transposed view), so its KDE points are (y − ȳ)·L while scored rows are not centred. ȳ = 0 under Scale
        // (PCA output is centred); under Norm it is not, and the fixtures hold this behaviour.
        var points = yc * l;
        double logNormaliser = Enumerable.Range(0, k).Sum(i => Math.Log(l[i, i])) - k / 2.0 * Math.Log(2 * Math.PI) - Math.Log(n);
        return new KdeDensityModel(d, k, scaling, meanF, componentsF, maxLength,
            l.ToRowMajorArray(), points.ToRowMajorArray(), logNormaliser);
    }

    /// <summary>(x − mean)·Components in double.</summary>
    private static double[] Project(ReadOnlySpan<float> row, float[] mean, float[] components, int k)
    {
        var y = new double[k];
        for (int i = 0; i < row.Length; i++)
        {
            double centred = (double)row[i] - mean[i];
            for (int c = 0; c < k; c++)
                y[c] += centred * components[i * k + c];
        }
        return y;
    }

    public static double LogDensity(KdeDensityModel m, ReadOnlySpan<float> row)
    {
        int k = m.ComponentCount;
        double[] y = Project(row, m.Mean, m.Components, k);
        double scale = m.Scaling == FeatureScalingMethod.Scale ? m.MaxLength : Math.Sqrt(y.Sum(v => v * v));
        if (scale == 0)
            scale = 1;
        var z = new double[k];
        for (int r = 0; r < k; r++)
            for (int c = 0; c < k; c++)
                z[c] += y[r] / scale * m.BandwidthTransform[r * k + c];
        var e = new double[m.PointCount];
        for (int i = 0; i < e.Length; i++)
        {
            double sum = 0;
            for (int c = 0; c < k; c++)
            {
                double diff = z[c] - m.Points[i * k + c];
                sum += diff * diff;
            }
            e[i] = -0.5 * sum;
        }
        double max = e.Max();
        return m.LogNormaliser + max + Math.Log(e.Sum(v => Math.Exp(v - max)));
    }

    public static double Probability(double logDensity) => 1 / (1 + Math.Exp(0.05 * (logDensity - 12)));
}
