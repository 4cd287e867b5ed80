using Rkde.MLNet.Density;

namespace Rkde.MLNet.Tests.Density;

/// <summary>The stored threshold: chosen from held-out training scores for a false-positive rate, and carried by the density graph.</summary>
[TestClass]
public sealed class ImageThresholdTests
{
    [TestMethod]
    public void AtMostTheRateOfScoresReachTheThreshold()
    {
        var scores = Enumerable.Range(0, 200).Select(i => i / 200f).ToArray();
        var t = ImageThreshold.FromScores(scores, 0.01);
        Assert.AreEqual(2, t.FalsePositives);
        Assert.AreEqual(2, scores.Count(s => s >= t.Value));
        Assert.IsGreaterThan(197 / 200f, t.Value, "above the third highest score");
        Assert.IsLessThan(198 / 200f, t.Value, "below the second highest, halfway");
        Assert.AreEqual(0.01, t.TrainingFalsePositiveRate, 1e-12);
        Assert.AreEqual(200, t.Images);
    }

    [TestMethod]
    public void TooFewImagesPutTheThresholdJustAboveTheHighest()
    {
        var t = ImageThreshold.FromScores([0.2f, 0.5f, 0.3f], 0.01);
        Assert.AreEqual(MathF.BitIncrement(0.5f), t.Value);
        Assert.AreEqual(0, t.FalsePositives);
    }

    [TestMethod]
    public void TiedScoresAreNeverSplit()
    {
        // 10 % of 20 allows 2; the top 3 are tied, so none of them may reach the threshold.
        var scores = new[] { 0.9f, 0.9f, 0.9f }.Concat(Enumerable.Repeat(0.1f, 17)).ToArray();
        var t = ImageThreshold.FromScores(scores, 0.1);
        Assert.AreEqual(MathF.BitIncrement(0.9f), t.Value);
        Assert.AreEqual(0, t.FalsePositives);
        Assert.AreEqual(float.PositiveInfinity, ImageThreshold.FromScores([], 0.01).Value);
        Assert.Throws<ArgumentOutOfRangeException>(() => ImageThreshold.FromScores(scores, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => ImageThreshold.FromScores(scores, 1));
    }

    /// <summary>Ten "images" of seeded 8-d rows around their own centres (image 0 far from the rest when asked).</summary>
    private static (float[] Rows, int[] ImageOf) Images(int perImage, int seed, bool firstApart = false)
    {
        const int d = 8, images = 10;
        var random = new Random(seed);
        var rows = new float[images * perImage * d];
        var imageOf = new int[images * perImage];
        for (int i = 0; i < images; i++)
        {
            var centre = Enumerable.Range(0, d).Select(_ => (float)random.NextDouble() * 4 + (firstApart && i == 0 ? 40 : 0)).ToArray();
            for (int r = 0; r < perImage; r++)
            {
                int row = i * perImage + r;
                imageOf[row] = i;
                for (int c = 0; c < d; c++) rows[row * d + c] = centre[c] + (float)(random.NextDouble() - 0.5);
            }
        }
        return (rows, imageOf);
    }

    private static readonly RkdeDensityOptions Options = new() { PcaComponents = 3 };

    /// <summary>All <paramref name="rows"/> held as the density estimator holds them (a reservoir below its capacity keeps every row in order).</summary>
    private static Reservoir Held(float[] rows, int d)
    {
        var reservoir = new Reservoir(rows.Length / d, d, seed: 0, chunkRows: 5);
        for (int r = 0; r < rows.Length / d; r++)
            Assert.AreEqual(r, reservoir.Add(rows.AsSpan(r * d, d)), "the slot each row lands in");
        return reservoir;
    }

    [TestMethod]
    public void EachImageIsScoredByAModelFittedWithoutItsFold()
    {
        const int d = 8, perImage = 6;
        var (rows, imageOf) = Images(perImage, seed: 3);
        using var held = Held(rows, d);
        var scores = HeldOutScores.Scores(held.Rows(), imageOf, 10, Options, seed: 2, progress: null);
        Assert.HasCount(10, scores);

        // The same, written out: images dealt into 5 seeded folds, each fold scored by a model fitted on the others' rows.
        var order = Enumerable.Range(0, 10).ToArray();
        new Random(2).Shuffle(order);
        var foldOf = new int[10];
        for (int i = 0; i < 10; i++) foldOf[order[i]] = i % HeldOutScores.Folds;
        for (int image = 0; image < 10; image++)
        {
            var others = Enumerable.Range(0, rows.Length / d).Where(r => foldOf[imageOf[r]] != foldOf[image]).ToArray();
            var model = KdeDensityModel.Fit(others.SelectMany(r => rows.Skip(r * d).Take(d)).ToArray(), others.Length, d, Options, seed: 2);
            double expected = Enumerable.Range(image * perImage, perImage)
                .Max(r => KdeDensityModel.Probability(model.LogDensity(rows.AsSpan(r * d, d))));
            Assert.AreEqual((float)expected, scores[image], 1e-6f, $"image {image}");
        }
    }

    [TestMethod]
    public void OnlyTheScoredRowsRaiseTheirImagesScore()
    {
        // Image 0's first row lies far from everything: a region the scoring filter drops (the density was fitted on more).
        const int d = 8, perImage = 6;
        var (rows, imageOf) = Images(perImage, seed: 3);
        for (int c = 0; c < d; c++) rows[c] += 40;
        using var held = Held(rows, d);
        var all = HeldOutScores.Scores(held.Rows(), imageOf, 10, Options, seed: 2, progress: null);
        var scored = Enumerable.Range(0, imageOf.Length).Select(r => r != 0).ToArray();
        var some = HeldOutScores.Scores(held.Rows(), imageOf, 10, Options, seed: 2, progress: null, scored);

        Assert.IsGreaterThan(0.99f, all[0], "counted, the far row makes its image the most anomalous");
        // Written out: image 0 under its fold's model (fitted on every row of the other folds), its rows 1.. only.
        var order = Enumerable.Range(0, 10).ToArray();
        new Random(2).Shuffle(order);
        var foldOf = new int[10];
        for (int i = 0; i < 10; i++) foldOf[order[i]] = i % HeldOutScores.Folds;
        var others = Enumerable.Range(0, rows.Length / d).Where(r => foldOf[imageOf[r]] != foldOf[0]).ToArray();
        var model = KdeDensityModel.Fit(others.SelectMany(r => rows.Skip(r * d).Take(d)).ToArray(), others.Length, d, Options, seed: 2);
        double expected = Enumerable.Range(1, perImage - 1).Max(r => KdeDensityModel.Probability(model.LogDensity(rows.AsSpan(r * d, d))));
        Assert.AreEqual((float)expected, some[0], 1e-6f);
        Assert.IsLessThan(all[0] - 0.2f, some[0]);
        CollectionAssert.AreEqual(all.Skip(1).ToArray(), some.Skip(1).ToArray(), "every row still fits the other folds' models");
        Assert.ThrowsExactly<ArgumentException>(() => HeldOutScores.Scores(held.Rows(), imageOf, 10, Options, 2, null, scored.Skip(1).ToArray()));
    }

    [TestMethod]
    public void FoldModelsStartedFromTheWholeFitScoreAsFoldModelsFittedFromScratch()
    {
        // 300-d, 600 rows, 3 components: the iterative PCA (LOBPCG), where the start and tolerance matter.
        const int d = 300, images = 10, perImage = 60;
        var random = new Random(11);
        var basis = Enumerable.Range(0, 6 * d).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();
        var rows = new float[images * perImage * d];
        var imageOf = new int[images * perImage];
        for (int r = 0; r < imageOf.Length; r++)
        {
            imageOf[r] = r / perImage;
            for (int j = 0; j < 6; j++)
            {
                float c = (float)((random.NextDouble() * 2 - 1) * Math.Pow(j + 1, -0.5));
                for (int x = 0; x < d; x++) rows[r * d + x] += c * basis[j * d + x];
            }
            for (int x = 0; x < d; x++) rows[r * d + x] += (float)(0.05 * (random.NextDouble() - 0.5));
        }
        using var held = Held(rows, d);
        var options = new RkdeDensityOptions { PcaComponents = 3 };
        var whole = KdeDensityModel.Fit(rows, imageOf.Length, d, options, seed: 1);
        var scratch = HeldOutScores.Scores(held.Rows(), imageOf, images, options, seed: 1, progress: null);
        var near = HeldOutScores.Scores(held.Rows(), imageOf, images, options, seed: 1, progress: null, near: whole.Components);
        // Within the fold tolerance (1e-2: log-densities within about that, relatively), and the same ranking's top image.
        for (int i = 0; i < images; i++)
            Assert.AreEqual(scratch[i], near[i], HeldOutScores.FoldPcaTolerance * scratch[i], $"image {i}: {string.Join(", ", scratch)} vs {string.Join(", ", near)}");
        Assert.AreEqual(Array.IndexOf([.. scratch], scratch.Max()), Array.IndexOf([.. near], near.Max()));
    }

    [TestMethod]
    public void AnImageUnlikeTheOthersIsAnomalousOnlyWhenHeldOut()
    {
        const int d = 8, perImage = 5;
        var (rows, imageOf) = Images(perImage, seed: 4, firstApart: true);
        using var held = Held(rows, d);
        var scores = HeldOutScores.Scores(held.Rows(), imageOf, 10, Options, seed: 0, progress: null);
        var full = KdeDensityModel.Fit(rows, imageOf.Length, d, Options);
        double inSample = Enumerable.Range(0, perImage).Max(r => KdeDensityModel.Probability(full.LogDensity(rows.AsSpan(r * d, d))));
        Assert.IsGreaterThan(0.99f, scores[0], "held out, the far image is the most anomalous there is");
        Assert.IsLessThan(scores[0] - 0.2, inSample, "scored by the model fitted on it, it looks far more normal");
        Assert.IsTrue(scores.Skip(1).All(s => s < scores[0]));
    }

    [TestMethod]
    public void TooFewImagesOrRowsGiveNoScores()
    {
        var (rows, imageOf) = Images(perImage: 2, seed: 5);
        using var held = Held(rows, 8);
        Assert.IsEmpty(HeldOutScores.Scores(held.Rows(), imageOf.Select(_ => 0).ToArray(), 1, Options, 0, null), "one image");
        Assert.IsEmpty(HeldOutScores.Scores(held.Rows(), imageOf, 10, new RkdeDensityOptions { PcaComponents = 17 }, 0, null),
            "16 rows outside a fold cannot fit 17 components");
    }

    [TestMethod]
    public void TheDensityGraphOutputsWhetherTheImageScoreReachesTheThreshold()
    {
        var (rows, imageOf) = Images(perImage: 4, seed: 5);
        var model = KdeDensityModel.Fit(rows, imageOf.Length, 8, Options);
        var boxes = new[] { rows[..8], Enumerable.Repeat(1e3f, 8).ToArray() };
        float[] scores;
        using (var plain = new OnnxRun(DensityGraph.Build(model)))
        {
            Assert.IsFalse(plain.Metadata.CustomMetadataMap.ContainsKey("rkde_threshold"));
            Assert.IsFalse(plain.Run(("features", boxes[0], [1, 1, 8])).ContainsKey("is_anomaly"));
            scores = boxes.Select(b => ((float[])plain.Run(("features", b, [1, 1, 8]))["image_score"].Data)[0]).ToArray();
        }
        Assert.IsLessThan(scores[1], scores[0]);
        var threshold = ImageThreshold.FromScores(scores, 0.5); // halfway between the two
        using var run = new OnnxRun(DensityGraph.Build(model, threshold: threshold));
        var meta = run.Metadata.CustomMetadataMap;
        Assert.AreEqual(((double)threshold.Value).ToString("R", System.Globalization.CultureInfo.InvariantCulture), meta["rkde_threshold"]);
        Assert.AreEqual("0.5", meta["rkde_threshold_false_positive_rate"]);
        Assert.AreEqual("2", meta["rkde_threshold_images"]);
        StringAssert.StartsWith(meta["rkde_threshold_method"], "held out");
        CollectionAssert.AreEqual(new[] { false, true },
            boxes.Select(b => ((bool[])run.Run(("features", b, [1, 1, 8]))["is_anomaly"].Data)[0]).ToArray());
    }
}
