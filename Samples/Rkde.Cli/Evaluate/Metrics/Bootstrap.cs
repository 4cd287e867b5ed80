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
    /// <paramref name="replicates"/> values of each metric. A metric receives the drawn images as (image index, times drawn)
    /// pairs, indices into <paramref name="isAnomalous"/>. Deterministic for a <paramref name="seed"/>.
    /// </summary>
    /// <returns>One array of <paramref name="replicates"/> values per metric, in the order given.</returns>
    public static double[][] Replicates(ReadOnlySpan<bool> isAnomalous, int replicates, int seed,
        params IReadOnlyList<Func<IReadOnlyList<(int Image, int Times)>, double>> metrics)
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
        var draw = new List<(int, int)>(isAnomalous.Length);
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
            draw.Clear();
            for (int i = 0; i < times.Length; i++)
            {
                if (times[i] > 0)
                {
                    draw.Add((i, times[i]));
                }
            }
            for (int m = 0; m < metrics.Count; m++)
            {
                results[m][r] = metrics[m](draw);
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
    public static double ImageAuroc(IReadOnlyList<(int Image, int Times)> draw, IReadOnlyList<float> scores, IReadOnlyList<bool> isAnomalous)
    {
        var counts = new ScoreCounts();
        foreach (var (image, times) in draw)
        {
            counts.Add(scores[image], isAnomalous[image], times);
        }
        return counts.Auroc();
    }

    /// <summary>The images of a draw, each as often as it was drawn (for metrics over image lists such as box AP).</summary>
    public static List<T> Expand<T>(IReadOnlyList<(int Image, int Times)> draw, IReadOnlyList<T> items)
    {
        var list = new List<T>();
        foreach (var (image, times) in draw)
        {
            for (int t = 0; t < times; t++)
            {
                list.Add(items[image]);
            }
        }
        return list;
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
