using System.Globalization;
using Microsoft.ML.OnnxRuntime;
using Rkde.MLNet.Onnx;

namespace Rkde.MLNet.Density;

/// <summary>
/// The decision threshold on image scores stored with a fitted model: an image is anomalous when its score is at least
/// <see cref="Value"/>. Chosen so that at most <see cref="FalsePositiveRate"/> of the training images' held-out scores
/// (<see cref="HeldOutScores"/>) reach it.
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
    public static readonly string Method = string.Create(CultureInfo.InvariantCulture,
        $"held out: the training images dealt into {HeldOutScores.Folds} seeded folds, each fold's images scored by a density model (PCA and KDE) fitted on the other folds' regions");

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
/// Held-out scores of the training images, the honest estimate of how new normal images score. Scoring a training image with
/// the model fitted on it is optimistic (its own regions are kernels at distance zero), and so, measured on the demo set, is
/// leaving only its regions out of the KDE: the PCA, fitted with that image, keeps the directions in which it is unusual, so
/// its scores came out 2–4 times those of the same image under a model refitted without it. Here the images are dealt into
/// seeded folds, and each fold's images are scored by a whole density model (PCA, scaling, KDE) fitted on the other folds'
/// regions, as a new image is scored by a model that never saw it, and through the graph that model emits, as a saved model
/// scores.
/// </summary>
internal static class HeldOutScores
{
    /// <summary>How many folds the training images are dealt into.</summary>
    public const int Folds = 5;

    /// <summary>
    /// The score of each image (0 … <paramref name="imageCount"/> − 1) under the density model fitted on the other folds' rows of
    /// <paramref name="rows"/> (<paramref name="imageOfRow"/>: each row's image), 0 for an image without regions, as the
    /// fitted graph scores it: the highest box probability. Empty when there are fewer than two images, or when a fold's
    /// complement holds fewer rows than the components the density needs. The rows are a sample once the regions exceed
    /// MaxTrainingPoints; an image is then scored on the regions the sample kept, a lower bound of its score.
    /// </summary>
    public static List<float> Scores(FeatureRows rows, IReadOnlyList<int> imageOfRow, int imageCount, RkdeDensityOptions options, int seed,
        IProgress<string>? progress)
    {
        int n = rows.Count, d = rows.Dimension;
        if (imageOfRow.Count != n)
            throw new ArgumentException(string.Create(CultureInfo.InvariantCulture,
                $"{n} rows but {imageOfRow.Count} image indices: give each row's image."), nameof(imageOfRow));
        int folds = Math.Min(Folds, imageCount);
        if (folds < 2)
            return [];
        var order = Enumerable.Range(0, imageCount).ToArray();
        new Random(seed).Shuffle(order);
        var foldOf = new int[imageCount];
        for (int i = 0; i < imageCount; i++) foldOf[order[i]] = i % folds;

        var scores = new float[imageCount];
        for (int fold = 0; fold < folds; fold++)
        {
            var training = Enumerable.Range(0, n).Where(r => foldOf[imageOfRow[r]] != fold).ToArray();
            var held = Enumerable.Range(0, n).Where(r => foldOf[imageOfRow[r]] == fold).ToArray();
            if (training.Length < options.PcaComponents)
                return [];
            if (held.Length == 0)
                continue;
            var model = KdeDensityModel.Fit(rows.Subset(training), options, seed, null);
            Score(model, rows, held, imageOfRow, scores);
            progress?.Report(string.Create(CultureInfo.InvariantCulture,
                $"R-KDE threshold: fold {fold + 1} of {folds} scored ({held.Length} regions held out, model fitted on {training.Length})"));
        }
        return [.. scores];
    }

    /// <summary>Regions scored per run of the density graph (its kernel matrix is regions × points floats).</summary>
    private const int Chunk = 256;

    /// <summary>
    /// Raises each image's score to its held rows' box scores under <paramref name="model"/>, computed by the density graph it
    /// emits (what a saved model runs) in chunks of <see cref="Chunk"/> regions.
    /// </summary>
    private static void Score(KdeDensityModel model, FeatureRows rows, int[] held, IReadOnlyList<int> imageOfRow, float[] scores)
    {
        int d = rows.Dimension;
        var names = new DensityGraphNames();
        using var options = OnnxSessions.NonSpinning();
        using var session = new InferenceSession(DensityGraph.Build(model, names), options);
        var features = new float[Chunk * d];
        for (int start = 0; start < held.Length; start += Chunk)
        {
            int count = Math.Min(Chunk, held.Length - start);
            for (int i = 0; i < count; i++)
                Copy(rows, held[start + i], features.AsSpan(i * d, d));
            using var input = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, features.AsMemory(0, count * d), [1, count, d]);
            using var run = new RunOptions();
            using var output = session.Run(run, [names.Features], [input], [names.BoxScores]);
            var boxScores = output[0].GetTensorDataAsSpan<float>();
            for (int i = 0; i < count; i++)
            {
                int image = imageOfRow[held[start + i]];
                scores[image] = MathF.Max(scores[image], boxScores[i]);
            }
        }
    }

    private static unsafe void Copy(FeatureRows rows, int row, Span<float> destination) =>
        new ReadOnlySpan<float>(rows.Row(row), rows.Dimension).CopyTo(destination);
}
