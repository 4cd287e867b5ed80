using System.Buffers.Binary;
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
    /// <summary>The held-out scores the threshold was chosen from, oldest first; kept with the model so an update can pool them with its new images' scores.</summary>
    public IReadOnlyList<float> Scores { get; init; } = [];

    /// <summary>How the scores were obtained (the <see cref="MethodKey"/> value).</summary>
    public string How { get; init; } = Method;

    /// <summary>The most held-out scores a model keeps (the newest): enough to place a threshold for any rate of 1/1,000 or more.</summary>
    public const int MaxScores = 10_000;

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
        return new ImageThreshold(value, falsePositiveRate, m, reached) { Scores = [.. scores.Skip(Math.Max(0, m - MaxScores))] };
    }

    /// <summary>
    /// The threshold after an update: the kept scores and <paramref name="newScores"/> (the new normal images' scores under the
    /// model before it absorbed them, so held out too) pooled, the newest <see cref="MaxScores"/> kept, the same rate.
    /// </summary>
    public ImageThreshold Pooled(IEnumerable<float> newScores)
    {
        var pooled = Scores.Concat(newScores).ToList();
        if (pooled.Count > MaxScores)
            pooled.RemoveRange(0, pooled.Count - MaxScores);
        return FromScores(pooled, FalsePositiveRate) with { How = Method + UpdatedMethod };
    }

    /// <summary>The threshold a density graph's metadata describes, or null when it carries none.</summary>
    /// <exception cref="InvalidDataException">An entry is missing or unreadable; the message completes "its density graph …".</exception>
    public static ImageThreshold? Read(IReadOnlyDictionary<string, string> metadata)
    {
        if (!metadata.TryGetValue(ValueKey, out var value))
            return null;
        string Entry(string key) => metadata.TryGetValue(key, out var text) ? text
            : throw new InvalidDataException($"its density graph has a threshold but no metadata '{key}'");
        double Number(string key) => double.Parse(Entry(key), NumberStyles.Float, CultureInfo.InvariantCulture);
        var bytes = Convert.FromBase64String(metadata.GetValueOrDefault(ScoresKey) ?? "");
        var scores = new float[bytes.Length / sizeof(float)];
        for (int i = 0; i < scores.Length; i++)
            scores[i] = BinaryPrimitives.ReadSingleLittleEndian(bytes.AsSpan(i * sizeof(float)));
        int images = (int)Number(ImagesKey);
        return new ImageThreshold((float)double.Parse(value, NumberStyles.Float, CultureInfo.InvariantCulture), Number(FalsePositiveRateKey), images,
            (int)Math.Round(Number(TrainingFalsePositiveRateKey) * images))
        { Scores = scores, How = metadata.GetValueOrDefault(MethodKey) ?? Method };
    }

    /// <summary>Metadata keys under which a density graph carries its threshold.</summary>
    public const string ValueKey = "rkde_threshold";
    public const string FalsePositiveRateKey = "rkde_threshold_false_positive_rate";
    public const string ImagesKey = "rkde_threshold_images";
    public const string TrainingFalsePositiveRateKey = "rkde_threshold_training_false_positive_rate";
    public const string MethodKey = "rkde_threshold_method";

    /// <summary>The held-out scores (<see cref="Scores"/>): float32 little-endian, base64.</summary>
    public const string ScoresKey = "rkde_threshold_scores";

    private const string UpdatedMethod = "; updates pool those with their new images' scores under the model before it absorbed them (the newest 10,000 scores kept)";

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
        (MethodKey, How),
        (ScoresKey, Convert.ToBase64String(ScoreBytes())),
    ];

    private byte[] ScoreBytes()
    {
        var bytes = new byte[Scores.Count * sizeof(float)];
        for (int i = 0; i < Scores.Count; i++)
            BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(i * sizeof(float)), Scores[i]);
        return bytes;
    }
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
    /// MaxTrainingPoints; an image is then scored on the regions the sample kept, a lower bound of its score. With
    /// <paramref name="scoredRow"/>, only the rows it marks count towards their image's score (every row still fits the
    /// other folds' models): the regions the fitted graph's scoring filter keeps, when the density was fitted on more.
    /// <paramref name="near"/>: the components of the model fitted on all the rows; each fold's PCA starts from them and
    /// stops at <see cref="FoldPcaTolerance"/>.
    /// </summary>
    public static List<float> Scores(FeatureRows rows, IReadOnlyList<int> imageOfRow, int imageCount, RkdeDensityOptions options, int seed,
        IProgress<string>? progress, IReadOnlyList<bool>? scoredRow = null, float[]? near = null)
    {
        if (scoredRow is not null && scoredRow.Count != rows.Count)
            throw new ArgumentException(string.Create(CultureInfo.InvariantCulture,
                $"{rows.Count} rows but {scoredRow.Count} scored flags: give one per row."), nameof(scoredRow));
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
            var held = Enumerable.Range(0, n).Where(r => foldOf[imageOfRow[r]] == fold && (scoredRow is null || scoredRow[r])).ToArray();
            if (training.Length < options.PcaComponents)
                return [];
            if (held.Length == 0)
                continue;
            var model = KdeDensityModel.Fit(rows.Subset(training), options, seed, null, near: near,
                pcaTolerance: near is null ? Lobpcg.ErrorTolerance : FoldPcaTolerance);
            Score(model, rows, held, imageOfRow, scores);
            progress?.Report(string.Create(CultureInfo.InvariantCulture,
                $"R-KDE threshold: fold {fold + 1} of {folds} scored ({held.Length} regions held out, model fitted on {training.Length})"));
        }
        return [.. scores];
    }

    /// <summary>
    /// Where a fold model's iterative PCA stops when it starts from the whole fit's components. A held-out score feeds a
    /// quantile of image scores, whose own sampling error is far larger than scores within about this share of their value;
    /// it takes about half the passes of a model's own fit (1e-6; docs/export.md).
    /// </summary>
    public const double FoldPcaTolerance = 1e-2;

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

/// <summary>
/// Scores images through a density graph as a saved model does (the highest box probability, 0 without regions): for the
/// held-out scores of an update's new images under the model before it absorbs them.
/// </summary>
internal sealed class DensityImageScorer : IDisposable
{
    private readonly InferenceSession _session;
    private readonly SessionOptions _options;
    private readonly string _input;
    private readonly int _dimension;

    /// <summary>A session over <paramref name="densityGraph"/> (input [1, N, D] features, output "image_score").</summary>
    public DensityImageScorer(byte[] densityGraph, int dimension)
    {
        _options = OnnxSessions.NonSpinning();
        _session = new InferenceSession(densityGraph, _options);
        _input = _session.InputNames.Single();
        _dimension = dimension;
    }

    /// <summary>The image score of one image's <paramref name="count"/> regions (row-major, D values each).</summary>
    public float Score(ReadOnlySpan<float> regions, int count)
    {
        if (count == 0) return 0;
        var features = regions[..(count * _dimension)].ToArray();
        using var input = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, features.AsMemory(), [1, count, _dimension]);
        using var run = new RunOptions();
        using var output = _session.Run(run, [_input], [input], [new DensityGraphNames().ImageScore]);
        return output[0].GetTensorDataAsSpan<float>()[0];
    }

    public void Dispose()
    {
        _session.Dispose();
        _options.Dispose();
    }
}
