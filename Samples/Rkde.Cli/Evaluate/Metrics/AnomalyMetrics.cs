namespace Rkde.Cli.Evaluate.Metrics;

/// <summary>One point of a ROC curve: predicting "anomalous" for scores ≥ <see cref="Threshold"/>.</summary>
public readonly record struct RocPoint(double FalsePositiveRate, double TruePositiveRate, float Threshold);

/// <summary>A decision threshold (anomalous when score ≥ <see cref="Threshold"/>) and its quality on the data it was chosen on.</summary>
public readonly record struct ThresholdChoice(float Threshold, double F1, double Precision, double Recall);

/// <summary>
/// Image-level metrics for anomaly scores (higher = more anomalous): AUROC, ROC curve, F1-optimal and percentile
/// thresholds. Labels are <c>true</c> for anomalous. Every metric treats tied scores as one operating point, so
/// results never depend on the order of the inputs.
/// </summary>
public static class AnomalyMetrics
{
    /// <summary>
    /// Area under the ROC curve: the probability that a random anomalous sample scores higher than a random normal
    /// one, ties counting one half (the Mann–Whitney statistic).
    /// </summary>
    /// <exception cref="ArgumentException">Lengths differ, a score is NaN, or a class is missing.</exception>
    public static double Auroc(ReadOnlySpan<float> scores, ReadOnlySpan<bool> isAnomalous)
    {
        var counts = new ScoreCounts();
        Check(scores, isAnomalous);
        for (int i = 0; i < scores.Length; i++)
        {
            counts.Add(scores[i], isAnomalous[i], 1);
        }
        return counts.Auroc();
    }

    /// <summary>The ROC curve from (0, 0) to (1, 1), one point per distinct score, thresholds descending.</summary>
    public static RocPoint[] RocCurve(ReadOnlySpan<float> scores, ReadOnlySpan<bool> isAnomalous)
    {
        Check(scores, isAnomalous);
        var groups = Groups(scores, isAnomalous);
        long positives = groups.Sum(g => g.Positives), negatives = groups.Sum(g => g.Negatives);
        var points = new List<RocPoint> { new(0, 0, float.PositiveInfinity) };
        long tp = 0, fp = 0;
        foreach (var g in groups)
        {
            tp += g.Positives;
            fp += g.Negatives;
            points.Add(new RocPoint((double)fp / negatives, (double)tp / positives, g.Score));
        }
        return points.ToArray();
    }

    /// <summary>
    /// The threshold among the observed scores that maximises F1 of the anomalous class (the highest such
    /// threshold when several tie).
    /// </summary>
    public static ThresholdChoice F1OptimalThreshold(ReadOnlySpan<float> scores, ReadOnlySpan<bool> isAnomalous)
    {
        Check(scores, isAnomalous);
        var groups = Groups(scores, isAnomalous);
        long positives = groups.Sum(g => g.Positives);
        var best = new ThresholdChoice(groups[0].Score, -1, 0, 0);
        long tp = 0, predicted = 0;
        foreach (var g in groups)
        {
            tp += g.Positives;
            predicted += g.Positives + g.Negatives;
            double precision = (double)tp / predicted, recall = (double)tp / positives;
            double f1 = tp == 0 ? 0 : 2 * precision * recall / (precision + recall);
            if (f1 > best.F1)
            {
                best = new ThresholdChoice(g.Score, f1, precision, recall);
            }
        }
        return best;
    }

    /// <summary>
    /// The <paramref name="percentile"/>-th percentile (0–100) of <paramref name="scores"/>, interpolating linearly
    /// between order statistics (numpy's default): e.g. the 99th percentile of normal training-image scores as a
    /// threshold that flags about 1 % of normal images.
    /// </summary>
    public static float Percentile(ReadOnlySpan<float> scores, double percentile)
    {
        double[] values = new double[scores.Length];
        for (int i = 0; i < values.Length; i++)
        {
            values[i] = scores[i];
        }
        return (float)Percentile(values, percentile);
    }

    /// <summary>The <paramref name="percentile"/>-th percentile (0–100) of <paramref name="values"/>, as the float overload.</summary>
    public static double Percentile(ReadOnlySpan<double> values, double percentile)
    {
        if (values.IsEmpty)
        {
            throw new ArgumentException("Percentile needs at least one score.", nameof(values));
        }
        if (!(percentile >= 0 && percentile <= 100))
        {
            throw new ArgumentOutOfRangeException(nameof(percentile), percentile, "Use a percentile between 0 and 100.");
        }
        double[] sorted = values.ToArray();
        if (sorted.Any(double.IsNaN))
        {
            throw new ArgumentException("Scores contain NaN.", nameof(values));
        }
        Array.Sort(sorted);
        double rank = percentile / 100 * (sorted.Length - 1);
        int lo = (int)Math.Floor(rank), hi = Math.Min(lo + 1, sorted.Length - 1);
        return sorted[lo] + (rank - lo) * (sorted[hi] - sorted[lo]);
    }

    internal readonly record struct Group(float Score, long Positives, long Negatives);

    /// <summary>Distinct scores, highest first, with how many positives and negatives carry each.</summary>
    internal static List<Group> Groups(ReadOnlySpan<float> scores, ReadOnlySpan<bool> isAnomalous)
    {
        var counts = new ScoreCounts();
        for (int i = 0; i < scores.Length; i++)
        {
            counts.Add(scores[i], isAnomalous[i], 1);
        }
        counts.RequireBothClasses();
        return counts.Descending();
    }

    private static void Check(ReadOnlySpan<float> scores, ReadOnlySpan<bool> isAnomalous)
    {
        if (scores.Length != isAnomalous.Length)
        {
            throw new ArgumentException($"{scores.Length} scores but {isAnomalous.Length} labels; give one label per score.", nameof(isAnomalous));
        }
        foreach (float s in scores)
        {
            if (float.IsNaN(s))
            {
                throw new ArgumentException("Scores contain NaN; every sample needs a comparable score.", nameof(scores));
            }
        }
    }
}

/// <summary>Counts of positives and negatives per distinct score: exact AUROC on millions of pixels in little memory.</summary>
internal sealed class ScoreCounts
{
    private readonly Dictionary<float, (long Positives, long Negatives)> _counts = [];

    public long Positives { get; private set; }
    public long Negatives { get; private set; }

    public void Add(float score, bool positive, long count)
    {
        if (float.IsNaN(score))
        {
            throw new ArgumentException("Scores contain NaN; every sample needs a comparable score.", nameof(score));
        }
        score = score == 0f ? 0f : score; // fold −0 into +0
        _counts.TryGetValue(score, out var c);
        _counts[score] = positive ? (c.Positives + count, c.Negatives) : (c.Positives, c.Negatives + count);
        if (positive) Positives += count; else Negatives += count;
    }

    /// <summary>Adds every count of <paramref name="other"/>, <paramref name="times"/> times.</summary>
    public void Add(ScoreCounts other, long times)
    {
        foreach (var (score, c) in other._counts)
        {
            _counts.TryGetValue(score, out var mine);
            _counts[score] = (mine.Positives + times * c.Positives, mine.Negatives + times * c.Negatives);
        }
        Positives += times * other.Positives;
        Negatives += times * other.Negatives;
    }

    public void RequireBothClasses()
    {
        if (Positives == 0 || Negatives == 0)
        {
            throw new ArgumentException(
                $"The labels hold {Positives} anomalous and {Negatives} normal samples; ROC-based metrics need at least one of each.");
        }
    }

    public List<AnomalyMetrics.Group> Descending() =>
        _counts.OrderByDescending(kv => kv.Key).Select(kv => new AnomalyMetrics.Group(kv.Key, kv.Value.Positives, kv.Value.Negatives)).ToList();

    public double Auroc()
    {
        RequireBothClasses();
        double wins = 0;
        long negativesBelow = 0;
        foreach (var kv in _counts.OrderBy(kv => kv.Key))
        {
            wins += kv.Value.Positives * (negativesBelow + 0.5 * kv.Value.Negatives);
            negativesBelow += kv.Value.Negatives;
        }
        return wins / ((double)Positives * Negatives);
    }
}
