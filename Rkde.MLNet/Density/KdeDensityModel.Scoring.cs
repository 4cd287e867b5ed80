using System.Globalization;
using System.Numerics.Tensors;
using System.Runtime.Intrinsics;

namespace Rkde.MLNet.Density;

public sealed partial class KdeDensityModel
{
    /// <summary>Points transposed (k × n), for vectorized distances; built on first use.</summary>
    private double[]? _pointsByComponent;

    /// <summary>
    /// Log of the KDE density at a feature row (length <see cref="FeatureDimension"/>), in double with a stable
    /// log-sum-exp, so far-away rows get a finite (very negative) value rather than −∞.
    /// </summary>
    public double LogDensity(ReadOnlySpan<float> row)
    {
        CheckLength(row.Length, FeatureDimension, nameof(row), "one feature row");
        var z = new double[ComponentCount];
        var distances = new double[PointCount];
        return LogDensity(row, z, distances, PointsByComponent());
    }

    /// <summary>
    /// Log-densities of <paramref name="rows"/> (row-major, <see cref="FeatureDimension"/> values each) into
    /// <paramref name="destination"/> (one per row), in parallel.
    /// </summary>
    public unsafe void LogDensities(ReadOnlySpan<float> rows, Span<double> destination)
    {
        int count = destination.Length;
        CheckLength(rows.Length, (long)count * FeatureDimension, nameof(rows), $"{count} feature rows (destination's length)");
        var pointsT = PointsByComponent();
        int dim = FeatureDimension;
        fixed (float* pRows = rows)
        fixed (double* pOut = destination)
        {
            nint rowsAddress = (nint)pRows, outAddress = (nint)pOut;
            Parallel.For(0, count,
                () => (Z: new double[ComponentCount], D: new double[PointCount]),
                (i, _, s) =>
                {
                    var row = new ReadOnlySpan<float>((float*)rowsAddress + (long)i * dim, dim);
                    ((double*)outAddress)[i] = LogDensity(row, s.Z, s.D, pointsT);
                    return s;
                },
                _ => { });
        }
    }

    /// <summary>
    /// R-KDE's anomaly probability for a log-density: 1 / (1 + exp(0.05 · (logDensity − 12))), evaluated without
    /// overflow (→ 1 for very negative log-densities, → 0 for very positive ones).
    /// </summary>
    public static double Probability(double logDensity)
    {
        double t = 0.05 * (logDensity - 12);
        if (t >= 0)
        {
            double e = Math.Exp(-t);
            return e / (1 + e);
        }
        return 1 / (1 + Math.Exp(t));
    }

    /// <summary>Maps a feature row to the kernel space: z = scale((x − Mean)·Components)·L.</summary>
    internal void Transform(ReadOnlySpan<float> row, Span<double> z)
    {
        int k = ComponentCount;
        Span<double> y = k <= 64 ? stackalloc double[k] : new double[k];
        y.Clear();
        for (int d = 0; d < FeatureDimension; d++)
        {
            double x = (double)row[d] - Mean[d];
            var c = Components.AsSpan(d * k, k);
            for (int j = 0; j < k; j++) y[j] += x * c[j];
        }
        if (Scaling == FeatureScalingMethod.Scale)
        {
            if (MaxLength > 0) TensorPrimitives.Divide(y, MaxLength, y);
        }
        else
        {
            double norm = TensorPrimitives.Norm(y);
            if (norm > 0) TensorPrimitives.Divide(y, norm, y);
        }
        z.Clear();
        for (int i = 0; i < k; i++)
        {
            var l = BandwidthTransform.AsSpan(i * k, k);
            for (int j = 0; j <= i; j++) z[j] += y[i] * l[j];
        }
    }

    private double LogDensity(ReadOnlySpan<float> row, double[] z, double[] distances, double[] pointsT)
    {
        Transform(row, z);
        SquaredDistances(z, pointsT, distances);
        // log Σ exp(−½ d²) = −½ min d² + log Σ exp(−½ (d² − min d²)).
        double min = TensorPrimitives.Min(distances);
        TensorPrimitives.Subtract(distances, min, distances);
        TensorPrimitives.Multiply(distances, -0.5, distances);
        TensorPrimitives.Exp(distances, distances);
        return LogNormaliser - 0.5 * min + Math.Log(TensorPrimitives.Sum(distances));
    }

    /// <summary>distances[i] = ‖z − Points_i‖², over the transposed points.</summary>
    private unsafe void SquaredDistances(double[] z, double[] pointsT, double[] distances)
    {
        int n = PointCount, k = ComponentCount;
        fixed (double* p = pointsT)
        fixed (double* dist = distances)
        {
            int i = 0;
            for (; i <= n - 4; i += 4)
            {
                var acc = Vector256<double>.Zero;
                for (int j = 0; j < k; j++)
                {
                    var diff = Vector256.Load(p + (long)j * n + i) - Vector256.Create(z[j]);
                    acc = Vector256.FusedMultiplyAdd(diff, diff, acc);
                }
                acc.Store(dist + i);
            }
            for (; i < n; i++)
            {
                double s = 0;
                for (int j = 0; j < k; j++)
                {
                    double diff = p[(long)j * n + i] - z[j];
                    s += diff * diff;
                }
                dist[i] = s;
            }
        }
    }

    private double[] PointsByComponent()
    {
        if (_pointsByComponent is { } cached) return cached;
        int n = PointCount, k = ComponentCount;
        var t = new double[Points.Length];
        for (int i = 0; i < n; i++)
        for (int j = 0; j < k; j++) t[(long)j * n + i] = Points[(long)i * k + j];
        return _pointsByComponent = t;
    }

    private static void CheckLength(long actual, long expected, string name, string what)
    {
        if (actual != expected)
        {
            throw new ArgumentException(string.Create(CultureInfo.InvariantCulture,
                $"{name} holds {actual} values but {what} needs {expected}."), name);
        }
    }
}
