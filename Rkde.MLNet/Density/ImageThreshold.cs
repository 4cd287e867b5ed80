using System.Globalization;
using System.Runtime.Intrinsics;

namespace Rkde.MLNet.Density;

/// <summary>
/// The decision threshold on image scores stored with a fitted model: an image is anomalous when its score is at least
/// <see cref="Value"/>. Chosen so that at most <see cref="FalsePositiveRate"/> of the training images' leave-one-image-out
/// scores reach it.
/// </summary>
/// <param name="Value">The threshold on the image score.</param>
/// <param name="FalsePositiveRate">The false-positive rate it was chosen for (the nominal rate).</param>
/// <param name="Images">How many training images' scores it was chosen from.</param>
/// <param name="FalsePositives">How many of those reach it (their share is at most <paramref name="FalsePositiveRate"/>).</param>
internal sealed record ImageThreshold(float Value, double FalsePositiveRate, int Images, int FalsePositives)
{
    /// <summary>The share of the training images' scores at or above the threshold.</summary>
    public double TrainingFalsePositiveRate => Images == 0 ? 0 : (double)FalsePositives / Images;

    /// <summary>
    /// The threshold for <paramref name="falsePositiveRate"/> over <paramref name="scores"/> (one per normal image): with
    /// k = ⌊rate · m⌋ of the m scores allowed to reach it, halfway between the (k+1)-th highest score and the next higher
    /// distinct one (just above the highest when k = 0 or all are tied). With no scores it is +∞ (nothing is anomalous).
    /// </summary>
    public static ImageThreshold FromScores(IReadOnlyList<float> scores, double falsePositiveRate)
    {
        ArgumentNullException.ThrowIfNull(scores);
        if (!(falsePositiveRate > 0 && falsePositiveRate < 1))
            throw new ArgumentOutOfRangeException(nameof(falsePositiveRate), falsePositiveRate, "The false-positive rate must lie strictly between 0 and 1.");
        int m = scores.Count;
        if (m == 0)
            return new ImageThreshold(float.PositiveInfinity, falsePositiveRate, 0, 0);
        var sorted = scores.OrderByDescending(s => s).ToArray();
        int allowed = (int)Math.Floor(falsePositiveRate * m + 1e-9);
        float below = sorted[Math.Min(allowed, m - 1)];
        float? above = sorted.Take(Math.Min(allowed, m)).Where(s => s > below).Select(s => (float?)s).LastOrDefault();
        float value = above is float a ? (float)((below + (double)a) / 2) : MathF.BitIncrement(below);
        if (value <= below)
            value = MathF.BitIncrement(below);
        int reached = sorted.Count(s => s >= value);
        return new ImageThreshold(value, falsePositiveRate, m, reached);
    }

    /// <summary>Metadata keys under which a density graph carries its threshold.</summary>
    public const string ValueKey = "rkde_threshold";
    public const string FalsePositiveRateKey = "rkde_threshold_false_positive_rate";
    public const string ImagesKey = "rkde_threshold_images";
    public const string TrainingFalsePositiveRateKey = "rkde_threshold_training_false_positive_rate";
    public const string MethodKey = "rkde_threshold_method";

    /// <summary>How the scores behind the threshold were obtained (the <see cref="MethodKey"/> value).</summary>
    public const string Method = "leave-one-image-out: each training image scored against the KDE without its own regions (PCA and bandwidth of the full fit)";

    /// <summary>The metadata entries describing this threshold.</summary>
    public IEnumerable<(string Key, string Value)> Metadata() =>
    [
        (ValueKey, ((double)Value).ToString("R", CultureInfo.InvariantCulture)),
        (FalsePositiveRateKey, FalsePositiveRate.ToString("R", CultureInfo.InvariantCulture)),
        (ImagesKey, Images.ToString(CultureInfo.InvariantCulture)),
        (TrainingFalsePositiveRateKey, TrainingFalsePositiveRate.ToString("R", CultureInfo.InvariantCulture)),
        (MethodKey, Method),
    ];
}

/// <summary>
/// Leave-one-image-out image scores of the training images, the honest estimate of how normal images score: scoring a
/// training region against a KDE that holds that very region gives it a kernel at distance 0, so its own image would look
/// more normal than any new image. Each image's regions are scored against the KDE without the points of that image
/// (the KDE's sum simply skips them and its normaliser counts the rest); the PCA and the bandwidth stay those of the full fit.
/// </summary>
internal static class LeaveOneImageOut
{
    /// <summary>
    /// The scores of the images (0 … <paramref name="imageCount"/> − 1) whose regions are held in <paramref name="rows"/>,
    /// the model's training points in the same order (<paramref name="imageOfRow"/>: each row's image), plus 0 for each image
    /// without regions, as the fitted graph scores it. An image whose regions are all the KDE holds gets no score. When the rows
    /// of all images exceed <paramref name="maxQueryRows"/>, a seeded sample of the images is scored (regions ≤ that bound).
    /// </summary>
    public static List<float> Scores(KdeDensityModel model, FeatureRows rows, IReadOnlyList<int> imageOfRow, int imageCount,
        int maxQueryRows, int seed)
    {
        int n = rows.Count, k = model.ComponentCount;
        if (imageOfRow.Count != n || model.PointCount != n)
            throw new ArgumentException(string.Create(CultureInfo.InvariantCulture,
                $"{n} rows, {imageOfRow.Count} image indices and {model.PointCount} KDE points: they must be the same rows."), nameof(imageOfRow));
        var rowsOfImage = new List<int>[imageCount];
        for (int i = 0; i < imageCount; i++) rowsOfImage[i] = [];
        for (int r = 0; r < n; r++) rowsOfImage[imageOfRow[r]].Add(r);

        // Images in a seeded order, taken while their regions fit the bound (images without regions cost nothing).
        var order = Enumerable.Range(0, imageCount).ToArray();
        new Random(seed).Shuffle(order);
        var chosen = new List<int>();
        long queryRows = 0;
        foreach (int image in order)
        {
            if (queryRows + rowsOfImage[image].Count > maxQueryRows && chosen.Count > 0 && n > maxQueryRows)
                continue;
            chosen.Add(image);
            queryRows += rowsOfImage[image].Count;
        }

        var queries = chosen.SelectMany(i => rowsOfImage[i]).ToArray();
        var probability = new float[queries.Length];
        var pointsT = new double[(long)k * n];
        for (int p = 0; p < n; p++)
            for (int c = 0; c < k; c++) pointsT[(long)c * n + p] = model.Points[(long)p * k + c];
        var counts = rowsOfImage.Select(r => r.Count).ToArray();
        var self = rows;
        Parallel.For(0, Math.Clamp(queries.Length, 1, Environment.ProcessorCount), () => (new double[k], new double[n]), (w, _, buffers) =>
        {
            int workers = Math.Clamp(queries.Length, 1, Environment.ProcessorCount);
            int start = (int)((long)queries.Length * w / workers), end = (int)((long)queries.Length * (w + 1) / workers);
            var (z, distances) = buffers;
            for (int q = start; q < end; q++)
            {
                int row = queries[q], image = imageOfRow[row], others = n - counts[image];
                unsafe
                {
                    model.Transform(new ReadOnlySpan<float>(self.Row(row), self.Dimension), z);
                }
                SquaredDistances(z, pointsT, n, distances);
                double minimum = double.PositiveInfinity;
                for (int p = 0; p < n; p++)
                {
                    if (imageOfRow[p] != image && distances[p] < minimum) minimum = distances[p];
                }
                double sum = 0;
                for (int p = 0; p < n; p++)
                {
                    if (imageOfRow[p] != image) sum += Math.Exp(-0.5 * (distances[p] - minimum));
                }
                double logDensity = model.LogNormaliser + Math.Log(n) - Math.Log(others) - 0.5 * minimum + Math.Log(sum);
                probability[q] = (float)KdeDensityModel.Probability(logDensity);
            }
            return buffers;
        }, _ => { });

        var scores = new List<float>(chosen.Count);
        int next = 0;
        foreach (int image in chosen)
        {
            int count = rowsOfImage[image].Count;
            if (count == n)
            {
                next += count;
                continue;
            }
            float score = 0;
            for (int i = 0; i < count; i++) score = MathF.Max(score, probability[next + i]);
            next += count;
            scores.Add(score);
        }
        return scores;
    }

    /// <summary>distances[p] = ‖z − P_p‖² over the transposed points (k × n).</summary>
    private static unsafe void SquaredDistances(double[] z, double[] pointsT, int n, double[] distances)
    {
        int k = z.Length;
        fixed (double* p = pointsT)
        fixed (double* d = distances)
        {
            int i = 0;
            for (; i <= n - 4; i += 4)
            {
                var acc = Vector256<double>.Zero;
                for (int c = 0; c < k; c++)
                {
                    var diff = Vector256.Load(p + (long)c * n + i) - Vector256.Create(z[c]);
                    acc = Vector256.FusedMultiplyAdd(diff, diff, acc);
                }
                acc.Store(d + i);
            }
            for (; i < n; i++)
            {
                double s = 0;
                for (int c = 0; c < k; c++)
                {
                    double diff = p[(long)c * n + i] - z[c];
                    s += diff * diff;
                }
                d[i] = s;
            }
        }
    }
}
