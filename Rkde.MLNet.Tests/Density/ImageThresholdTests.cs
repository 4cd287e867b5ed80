using Rkde.MLNet.Density;

namespace Rkde.MLNet.Tests.Density;

/// <summary>The stored threshold: chosen from leave-one-image-out scores for a false-positive rate, and carried by the density graph.</summary>
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

    /// <summary>Six "images" of seeded 8-d rows around their own centres, and the density model fitted on all of them.</summary>
    private static (float[] Rows, int[] ImageOf, KdeDensityModel Model) Images(int perImage, int seed)
    {
        const int d = 8, images = 6;
        var random = new Random(seed);
        var rows = new float[images * perImage * d];
        var imageOf = new int[images * perImage];
        for (int i = 0; i < images; i++)
        {
            var centre = Enumerable.Range(0, d).Select(_ => (float)random.NextDouble() * 4).ToArray();
            for (int r = 0; r < perImage; r++)
            {
                int row = i * perImage + r;
                imageOf[row] = i;
                for (int c = 0; c < d; c++) rows[row * d + c] = centre[c] + (float)(random.NextDouble() - 0.5);
            }
        }
        var model = KdeDensityModel.Fit(rows, imageOf.Length, d, new DensityOptions { PcaComponents = 3 });
        return (rows, imageOf, model);
    }

    /// <summary>All <paramref name="rows"/> held as the density estimator holds them (a reservoir below its capacity keeps every row in order).</summary>
    private static Reservoir Held(float[] rows, int d)
    {
        var reservoir = new Reservoir(rows.Length / d, d, seed: 0, chunkRows: 5);
        for (int r = 0; r < rows.Length / d; r++)
            Assert.AreEqual(r, reservoir.Add(rows.AsSpan(r * d, d)), "the slot each row lands in");
        return reservoir;
    }

    [TestMethod]
    public void LeaveOneImageOutScoresEachImageWithoutItsOwnPoints()
    {
        var (rows, imageOf, model) = Images(perImage: 7, seed: 3);
        const int d = 8;
        using var held = Held(rows, d);
        var scores = LeaveOneImageOut.Scores(model, held.Rows(), imageOf, 6, maxQueryRows: 1000, seed: 0);
        Assert.HasCount(6, scores);

        // The same scores, written out plainly: the KDE's sum over the other images' points, renormalised to their count.
        int n = model.PointCount, k = model.ComponentCount;
        var expected = new List<double>();
        var order = Enumerable.Range(0, 6).ToArray();
        new Random(0).Shuffle(order);
        foreach (int image in order)
        {
            double best = 0;
            for (int row = 0; row < imageOf.Length; row++)
            {
                if (imageOf[row] != image) continue;
                var z = new double[k];
                model.Transform(rows.AsSpan(row * d, d), z);
                double sum = 0;
                int others = 0;
                for (int p = 0; p < n; p++)
                {
                    if (imageOf[p] == image) continue;
                    others++;
                    double squared = 0;
                    for (int c = 0; c < k; c++) squared += Math.Pow(z[c] - model.Points[p * k + c], 2);
                    sum += Math.Exp(-0.5 * squared);
                }
                double logDensity = model.LogNormaliser + Math.Log(n) - Math.Log(others) + Math.Log(sum);
                best = Math.Max(best, KdeDensityModel.Probability(logDensity));
            }
            expected.Add(best);
        }
        for (int i = 0; i < 6; i++)
            Assert.AreEqual(expected[i], scores[i], 1e-6, $"image {order[i]}");

        // Each image scored against the KDE with its own points looks more normal than left out.
        var inSample = order.Select(image => Enumerable.Range(0, imageOf.Length).Where(r => imageOf[r] == image)
            .Max(r => KdeDensityModel.Probability(model.LogDensity(rows.AsSpan(r * d, d))))).ToArray();
        for (int i = 0; i < 6; i++)
            Assert.IsGreaterThan(inSample[i], scores[i], $"image {order[i]}: left out {scores[i]}, in sample {inSample[i]}");
    }

    [TestMethod]
    public void BeyondTheQueryBoundASeededSampleOfImagesIsScored()
    {
        var (rows, imageOf, model) = Images(perImage: 5, seed: 4);
        using var held = Held(rows, 8);
        var all = LeaveOneImageOut.Scores(model, held.Rows(), imageOf, 6, maxQueryRows: 1000, seed: 1);
        var some = LeaveOneImageOut.Scores(model, held.Rows(), imageOf, 6, maxQueryRows: 12, seed: 1);
        Assert.HasCount(6, all);
        Assert.HasCount(2, some, "12 query rows hold two images of five rows");
        CollectionAssert.AreEqual(all.Take(2).ToArray(), some.ToArray(), "the same seeded order, cut at the bound");
    }

    [TestMethod]
    public void TheDensityGraphOutputsWhetherTheImageScoreReachesTheThreshold()
    {
        var (rows, _, model) = Images(perImage: 4, seed: 5);
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
        StringAssert.StartsWith(meta["rkde_threshold_method"], "leave-one-image-out");
        CollectionAssert.AreEqual(new[] { false, true },
            boxes.Select(b => ((bool[])run.Run(("features", b, [1, 1, 8]))["is_anomaly"].Data)[0]).ToArray());
    }
}
