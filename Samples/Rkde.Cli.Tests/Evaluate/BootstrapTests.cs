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
        Bootstrap.Replicates(labels, replicates, seed, draw => Bootstrap.ImageAuroc(draw, scores, labels))[0];

    [TestMethod]
    public void EveryDrawKeepsTheClassCountsAndTheSameSeedTheSameDraws()
    {
        bool[] labels = [false, false, false, true, true];
        var counts = new List<(int Normal, int Anomalous)>();
        var first = Bootstrap.Replicates(labels, 50, 7, draw =>
        {
            counts.Add((draw.Where(d => !labels[d.Image]).Sum(d => d.Times), draw.Where(d => labels[d.Image]).Sum(d => d.Times)));
            return draw.Sum(d => d.Image * 10 + d.Times);
        })[0];
        Assert.IsTrue(counts.All(c => c == (3, 2)), string.Join(", ", counts));
        CollectionAssert.AreEqual(first, Bootstrap.Replicates(labels, 50, 7, draw => draw.Sum(d => d.Image * 10 + d.Times))[0]);
        CollectionAssert.AreNotEqual(first, Bootstrap.Replicates(labels, 50, 8, draw => draw.Sum(d => d.Image * 10 + d.Times))[0]);
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
    public void ExpandRepeatsEachImageAsOftenAsDrawn() =>
        CollectionAssert.AreEqual(new[] { "a", "c", "c", "c" }, Bootstrap.Expand([(0, 1), (2, 3)], ["a", "b", "c"]));

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
