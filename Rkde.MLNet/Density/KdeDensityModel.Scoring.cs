using System.Globalization;

namespace Rkde.MLNet.Density;

internal sealed partial class KdeDensityModel
{
    /// <summary>
    /// Log of the KDE density at a feature row (length <see cref="FeatureDimension"/>), in double with a stable
    /// log-sum-exp, so far-away rows get a finite (very negative) value rather than −∞. A row holding NaN or ±∞ gets −∞
    /// (probability 1, the most anomalous).
    /// </summary>
    /// <remarks>
    /// The reference for the density graph (<see cref="DensityGraph"/>), which is what fitted pipelines run: the
    /// model's definition written out in plain loops, for checks and offline analysis rather than speed.
    /// </remarks>
    public double LogDensity(ReadOnlySpan<float> row)
    {
        CheckLength(row.Length, FeatureDimension, nameof(row), "one feature row");
        int dim = FeatureDimension, k = ComponentCount, n = PointCount;

        // y = (x − Mean)·Components, then scaled; a non-finite feature makes y non-finite.
        var y = new double[k];
        for (int d = 0; d < dim; d++)
        {
            double centred = (double)row[d] - Mean[d];
            for (int j = 0; j < k; j++) y[j] += centred * Components[d * k + j];
        }
        double norm = 0;
        foreach (double v in y) norm += v * v;
        if (!double.IsFinite(norm)) return double.NegativeInfinity;
        double divisor = Scaling == FeatureScalingMethod.Scale ? MaxLength : Math.Sqrt(norm);
        if (divisor > 0)
        {
            for (int j = 0; j < k; j++) y[j] /= divisor;
        }

        // z = y·L (L lower triangular), then log Σ_p exp(−½‖z − p‖²) by the nearest point's distance first.
        var z = new double[k];
        for (int i = 0; i < k; i++)
        for (int j = 0; j <= i; j++) z[j] += y[i] * BandwidthTransform[i * k + j];
        var halfDistance = new double[n];
        double nearest = double.PositiveInfinity;
        for (int p = 0; p < n; p++)
        {
            double s = 0;
            for (int j = 0; j < k; j++)
            {
                double difference = z[j] - Points[p * k + j];
                s += difference * difference;
            }
            halfDistance[p] = 0.5 * s;
            nearest = Math.Min(nearest, halfDistance[p]);
        }
        double sum = 0;
        for (int p = 0; p < n; p++) sum += Math.Exp(nearest - halfDistance[p]);
        return LogNormaliser - nearest + Math.Log(sum);
    }

    /// <summary>
    /// <see cref="LogDensity"/> of each of <paramref name="rows"/> (row-major, <see cref="FeatureDimension"/> values
    /// each) into <paramref name="destination"/> (one per row), in parallel over rows.
    /// </summary>
    public void LogDensities(ReadOnlySpan<float> rows, Span<double> destination)
    {
        int count = destination.Length, dim = FeatureDimension;
        CheckLength(rows.Length, (long)count * dim, nameof(rows), $"{count} feature rows (destination's length)");
        var input = rows.ToArray();
        var output = new double[count];
        Parallel.For(0, count, i => output[i] = LogDensity(input.AsSpan(i * dim, dim)));
        output.CopyTo(destination);
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

    private static void CheckLength(long actual, long expected, string name, string what)
    {
        if (actual != expected)
        {
            throw new ArgumentException(string.Create(CultureInfo.InvariantCulture,
                $"{name} holds {actual} values but {what} needs {expected}."), name);
        }
    }
}
