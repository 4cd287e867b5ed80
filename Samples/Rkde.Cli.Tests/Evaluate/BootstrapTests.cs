using Rkde.Cli.Evaluate.Metrics;

namespace Rkde.Cli.Tests.Evaluate;

[TestClass]
public sealed class BootstrapTests
{
    /// <summary>Scores of <paramref name="normal"/> normal and <paramref name="anomalous"/> anomalous images: two overlapping normal distributions (seeded).</summary>
    private static (float[] Scores, bool[] Labels) Overlapping(int normal, int anomalous, int seed)
    {
        var random = new Random(seed);
        float Gaussian() => (float)(Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble()));
        var scores = Enumerable.Range(0, normal).Select(_ => Gaussian()).Concat(Enumerable.Range(0, anomalous).Select(_ => 1 + Gaussian())).ToArray();
        return (scores, Enumerable.Range(0, normal + anomalous).Select(i => i >= normal).ToArray());
    }

    private static double[] AurocReplicates(float[] scores, bool[] labels, int replicates, int seed) =>
        Bootstrap.Replicates(labels, replicates, seed, times => Bootstrap.ImageAuroc(times, scores, labels))[0];

    [TestMethod]
    public void EveryDrawKeepsTheClassCountsAndTheSameSeedTheSameDraws()
    {
        bool[] labels = [false, false, false, true, true];
        var counts = new List<(int Normal, int Anomalous)>();
        var first = Bootstrap.Replicates(labels, 50, 7, times =>
        {
            counts.Add((times[0] + times[1] + times[2], times[3] + times[4]));
            return times.Select((t, i) => t * Math.Pow(10, i)).Sum();
        })[0];
        Assert.IsTrue(counts.All(c => c == (3, 2)), string.Join(", ", counts));
        static double Code(IReadOnlyList<int> times) => times.Select((t, i) => t * Math.Pow(10, i)).Sum();
        CollectionAssert.AreEqual(first, Bootstrap.Replicates(labels, 50, 7, Code)[0]);
        CollectionAssert.AreNotEqual(first, Bootstrap.Replicates(labels, 50, 8, Code)[0]);
        Assert.IsGreaterThan(10, first.Distinct().Count());
    }

    [TestMethod]
    public void PerfectlySeparatedScoresHaveAPointInterval()
    {
        float[] scores = [0.1f, 0.2f, 0.3f, 0.8f, 0.9f];
        bool[] labels = [false, false, false, true, true];
        var interval = Bootstrap.PercentileInterval(AurocReplicates(scores, labels, 200, 0));
        Assert.AreEqual(new Interval(1, 1), interval);
    }

    [TestMethod]
    public void TheIntervalCoversTheEstimateAndNarrowsWithMoreImages()
    {
        // AUROC of N(1, 1) against N(0, 1) is Φ(1/√2) ≈ 0.760. Its standard error falls with √n: about 0.084 at 30 + 30
        // images, 0.027 at 300 + 300, so the 95 % interval is about 0.33 and 0.10 wide.
        var (smallScores, smallLabels) = Overlapping(30, 30, 1);
        var (largeScores, largeLabels) = Overlapping(300, 300, 1);
        var small = Bootstrap.PercentileInterval(AurocReplicates(smallScores, smallLabels, 500, 0));
        var large = Bootstrap.PercentileInterval(AurocReplicates(largeScores, largeLabels, 500, 0));
        double estimate = AnomalyMetrics.Auroc(largeScores, largeLabels);
        Assert.IsTrue(large.Low < estimate && estimate < large.High, $"{large} vs {estimate}");
        Assert.IsTrue(large.Low < 0.760 && 0.760 < large.High, large.ToString());
        Assert.IsTrue(small.High - small.Low is > 0.2 and < 0.45, small.ToString());
        Assert.IsTrue(large.High - large.Low is > 0.06 and < 0.14, large.ToString());
    }

    [TestMethod]
    public void PercentileIntervalInterpolatesBetweenReplicates()
    {
        double[] values = Enumerable.Range(0, 101).Select(i => (double)i).Reverse().ToArray();
        var ninety = Bootstrap.PercentileInterval(values, 0.9);
        var ninetyFive = Bootstrap.PercentileInterval(values);
        Assert.AreEqual(5, ninety.Low, 1e-9);
        Assert.AreEqual(95, ninety.High, 1e-9);
        Assert.AreEqual(2.5, ninetyFive.Low, 1e-9);
        Assert.AreEqual(97.5, ninetyFive.High, 1e-9);
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => Bootstrap.PercentileInterval(values, 1));
    }

    [TestMethod]
    public void ReplicatesNeedBothClasses()
    {
        var e = Assert.ThrowsExactly<ArgumentException>(() => Bootstrap.Replicates([false, false], 10, 0, _ => 0));
        StringAssert.Contains(e.Message, "2 normal and 0 anomalous");
    }

    [TestMethod]
    public void BoxApOfADrawEqualsTheApOfTheImagesRepeated()
    {
        // Three images: a hit, a miss ranked above the other image's hit, a normal image with a false alarm.
        var a = new ImageBoxes([new Detection(new BoundingBox(0, 0, 10, 10), 0.9f), new Detection(new BoundingBox(50, 50, 60, 60), 0.4f)], [new BoundingBox(0, 0, 10, 10)]);
        var b = new ImageBoxes([new Detection(new BoundingBox(20, 20, 30, 30), 0.7f), new Detection(new BoundingBox(0, 0, 12, 10), 0.3f)], [new BoundingBox(0, 0, 10, 10)]);
        var c = new ImageBoxes([new Detection(new BoundingBox(5, 5, 15, 15), 0.8f)], []);
        ImageBoxes[] images = [a, b, c];
        var matched = BoxAveragePrecision.Match(images, 0.3);
        Assert.AreEqual(BoxAveragePrecision.Compute(images, 0.3), matched.Compute(), 1e-15);
        foreach (int[] times in new[] { new[] { 2, 1, 0 }, [0, 3, 1], [1, 1, 4], [1, 0, 0] })
        {
            var repeated = images.SelectMany((image, i) => Enumerable.Repeat(image, times[i])).ToList();
            Assert.AreEqual(BoxAveragePrecision.Compute(repeated, 0.3), matched.Compute(times), 1e-12, string.Join(",", times));
        }
        Assert.ThrowsExactly<ArgumentException>(() => matched.Compute([0, 0, 2]));
    }

    [TestMethod]
    public void PixelCountsAddedTwiceEqualTheImageAddedTwice()
    {
        float[] map = [0.1f, 0.5f, 0.5f, 0.9f, 0.2f, 0.2f];
        byte[] mask = [0, 0, 255, 255, 0, 0];
        float[] other = [0.3f, 0.3f, 0.1f, 0.4f, 0.6f, 0.0f];
        byte[] otherMask = [0, 255, 0, 0, 0, 0];
        var image = new PixelAuroc();
        image.Add(map, mask);
        var merged = new PixelAuroc();
        merged.Add(image, 2);
        merged.Add(other, otherMask);
        var direct = new PixelAuroc();
        direct.Add(map, mask);
        direct.Add(map, mask);
        direct.Add(other, otherMask);
        Assert.AreEqual(direct.Compute(), merged.Compute(), 1e-15);
        Assert.AreEqual(direct.AnomalousPixels, merged.AnomalousPixels);
        Assert.AreEqual(direct.NormalPixels, merged.NormalPixels);
    }
}
