namespace Rkde.Cli.Evaluate.Metrics;

/// <summary>A two-sided confidence interval.</summary>
public readonly record struct Interval(double Low, double High);

/// <summary>
/// Stratified bootstrap over test images: each replicate draws, with replacement, as many normal images from the normal
/// ones and as many anomalous images from the anomalous ones as the test set holds, and recomputes every metric on that
/// draw (the same draw for all metrics, so they stay comparable). Stratifying keeps both classes in every replicate, so
/// AUROC and AP are always defined. The percentile interval of the replicates says how much a metric would move on
/// another test set of the same size from the same source.
/// </summary>
public static class Bootstrap
{
    /// <summary>
    /// <paramref name="replicates"/> values of each metric. A metric receives the draw as how many times each image (index into
    /// <paramref name="isAnomalous"/>) was drawn, 0 for images left out. Deterministic for a <paramref name="seed"/>.
    /// </summary>
    /// <returns>One array of <paramref name="replicates"/> values per metric, in the order given.</returns>
    public static double[][] Replicates(ReadOnlySpan<bool> isAnomalous, int replicates, int seed,
        params IReadOnlyList<Func<IReadOnlyList<int>, double>> metrics)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(replicates, 1);
        int[] normal = Indices(isAnomalous, false), anomalous = Indices(isAnomalous, true);
        if (normal.Length == 0 || anomalous.Length == 0)
        {
            throw new ArgumentException(
                $"The bootstrap needs normal and anomalous images; got {normal.Length} normal and {anomalous.Length} anomalous.", nameof(isAnomalous));
        }
        var random = new Random(seed);
        var results = metrics.Select(_ => new double[replicates]).ToArray();
        int[] times = new int[isAnomalous.Length];
        for (int r = 0; r < replicates; r++)
        {
            Array.Clear(times);
            foreach (int[] stratum in new[] { normal, anomalous })
            {
                for (int k = 0; k < stratum.Length; k++)
                {
                    times[stratum[random.Next(stratum.Length)]]++;
                }
            }
            for (int m = 0; m < metrics.Count; m++)
            {
                results[m][r] = metrics[m](times);
            }
        }
        return results;
    }

    /// <summary>The central <paramref name="level"/> (e.g. 0.95) percentile interval of <paramref name="replicates"/>.</summary>
    public static Interval PercentileInterval(ReadOnlySpan<double> replicates, double level = 0.95)
    {
        if (!(level > 0 && level < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(level), level, "Use a confidence level in (0, 1), e.g. 0.95.");
        }
        double tail = (1 - level) / 2 * 100;
        return new Interval(AnomalyMetrics.Percentile(replicates, tail), AnomalyMetrics.Percentile(replicates, 100 - tail));
    }

    /// <summary>Image AUROC of a draw: every drawn image's score, as often as it was drawn.</summary>
    public static double ImageAuroc(IReadOnlyList<int> times, IReadOnlyList<float> scores, IReadOnlyList<bool> isAnomalous)
    {
        var counts = new ScoreCounts();
        for (int i = 0; i < times.Count; i++)
        {
            if (times[i] > 0)
            {
                counts.Add(scores[i], isAnomalous[i], times[i]);
            }
        }
        return counts.Auroc();
    }

    /// <summary>Pixel AUROC of a draw: every drawn image's pixel counts, as often as it was drawn.</summary>
    public static double PixelAuroc(IReadOnlyList<int> times, IReadOnlyList<PixelAuroc> images)
    {
        var total = new PixelAuroc();
        for (int i = 0; i < times.Count; i++)
        {
            if (times[i] > 0)
            {
                total.Add(images[i], times[i]);
            }
        }
        return total.Compute();
    }

    private static int[] Indices(ReadOnlySpan<bool> isAnomalous, bool value)
    {
        var list = new List<int>();
        for (int i = 0; i < isAnomalous.Length; i++)
        {
            if (isAnomalous[i] == value)
            {
                list.Add(i);
            }
        }
        return list.ToArray();
    }
}
