using System.Globalization;
using System.Numerics.Tensors;
using System.Runtime.Intrinsics;

namespace Rkde.MLNet.Density;

internal sealed partial class KdeDensityModel
{
    /// <summary>Points transposed (k × n), for vectorized distances; built on first use.</summary>
    private double[]? _pointsByComponent;

    /// <summary>Points per cache tile when scoring: k × 2,048 doubles (256 KB at k = 16) stay in L2 across rows.</summary>
    private const int PointTile = 2048;

    /// <summary>
    /// Log of the KDE density at a feature row (length <see cref="FeatureDimension"/>), in double with a stable
    /// log-sum-exp, so far-away rows get a finite (very negative) value rather than −∞. A row holding NaN or ±∞ gets −∞
    /// (probability 1, the most anomalous).
    /// </summary>
    public double LogDensity(ReadOnlySpan<float> row)
    {
        CheckLength(row.Length, FeatureDimension, nameof(row), "one feature row");
        var result = new double[1];
        LogDensities(row, result);
        return result[0];
    }

    /// <summary>
    /// Log-densities of <paramref name="rows"/> (row-major, <see cref="FeatureDimension"/> values each) into
    /// <paramref name="destination"/> (one per row, −∞ for a row holding NaN or ±∞), in parallel over rows, streaming
    /// the points tile by tile.
    /// </summary>
    public unsafe void LogDensities(ReadOnlySpan<float> rows, Span<double> destination)
    {
        int count = destination.Length, dim = FeatureDimension, k = ComponentCount;
        CheckLength(rows.Length, (long)count * dim, nameof(rows), $"{count} feature rows (destination's length)");
        var pointsT = PointsByComponent();
        var z = new double[count * k];
        fixed (float* pRows = rows)
        fixed (double* pOut = destination)
        {
            nint rowsAddress = (nint)pRows, outAddress = (nint)pOut;
            int workers = Math.Clamp(count, 1, Environment.ProcessorCount);
            Parallel.For(0, workers, w =>
            {
                int start = count * w / workers, end = count * (w + 1) / workers;
                for (int i = start; i < end; i++)
                    Transform(new ReadOnlySpan<float>((float*)rowsAddress + (long)i * dim, dim), z.AsSpan(i * k, k));
                LogSumExpKernels(z, start, end, pointsT, new Span<double>((double*)outAddress, count));
            });
        }
    }

    /// <summary>
    /// destination[i] = LogNormaliser + log Σ_p exp(−½‖z_i − Points_p‖²) for rows i in [start, end), as a streaming
    /// log-sum-exp over point tiles: per row a running minimum distance m and sum s = Σ exp(−½(d² − m)).
    /// </summary>
    private void LogSumExpKernels(double[] z, int start, int end, double[] pointsT, Span<double> destination)
    {
        int n = PointCount, k = ComponentCount, rows = end - start;
        var minimum = new double[rows];
        var sum = new double[rows];
        Array.Fill(minimum, double.PositiveInfinity);
        var distances = new double[Math.Min(PointTile, n)];
        for (int p0 = 0; p0 < n; p0 += PointTile)
        {
            int width = Math.Min(PointTile, n - p0);
            var tile = distances.AsSpan(0, width);
            for (int r = 0; r < rows; r++)
            {
                SquaredDistances(z.AsSpan((start + r) * k, k), pointsT, p0, tile);
                double tileMin = TensorPrimitives.Min<double>(tile);
                double m = Math.Min(minimum[r], tileMin);
                // Rescale the running sum to the new minimum, then add this tile's terms.
                double s = sum[r] == 0 ? 0 : sum[r] * Math.Exp(-0.5 * (minimum[r] - m));
                TensorPrimitives.Subtract(tile, m, tile);
                TensorPrimitives.Multiply(tile, -0.5, tile);
                TensorPrimitives.Exp(tile, tile);
                sum[r] = s + TensorPrimitives.Sum<double>(tile);
                minimum[r] = m;
            }
        }
        for (int r = 0; r < rows; r++)
        {
            // A non-finite feature makes z non-finite (NaN or ±∞ propagate through the projection): most anomalous.
            destination[start + r] = double.IsFinite(TensorPrimitives.Sum<double>(z.AsSpan((start + r) * k, k)))
                ? LogNormaliser - 0.5 * minimum[r] + Math.Log(sum[r])
                : double.NegativeInfinity;
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
        Project(row, y, new double[FeatureDimension]);
        z.Clear();
        for (int i = 0; i < k; i++)
        {
            var l = BandwidthTransform.AsSpan(i * k, k);
            for (int j = 0; j <= i; j++) z[j] += y[i] * l[j];
        }
    }

    /// <summary>distances[i] = ‖z − Points_{first + i}‖², over the transposed points (k × n).</summary>
    private unsafe void SquaredDistances(ReadOnlySpan<double> z, double[] pointsT, int first, Span<double> distances)
    {
        int n = PointCount, k = ComponentCount, width = distances.Length;
        fixed (double* p = pointsT)
        fixed (double* dist = distances)
        {
            int i = 0;
            for (; i <= width - 4; i += 4)
            {
                var acc = Vector256<double>.Zero;
                double* column = p + first + i;
                for (int j = 0; j < k; j++)
                {
                    var diff = Vector256.Load(column + (long)j * n) - Vector256.Create(z[j]);
                    acc = Vector256.FusedMultiplyAdd(diff, diff, acc);
                }
                acc.Store(dist + i);
            }
            for (; i < width; i++)
            {
                double s = 0;
                for (int j = 0; j < k; j++)
                {
                    double diff = p[(long)j * n + first + i] - z[j];
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
