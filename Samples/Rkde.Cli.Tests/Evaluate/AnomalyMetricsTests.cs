using Rkde.Cli.Evaluate.Metrics;

namespace Rkde.Cli.Tests.Evaluate;

[TestClass]
public sealed class AnomalyMetricsTests
{
    [TestMethod]
    public void AurocCountsPairsCorrectlyOrdered()
    {
        // Pairs (anomalous, normal): 0.35>0.1, 0.35<0.4, 0.8>0.1, 0.8>0.4 → 3 of 4.
        Assert.AreEqual(0.75, AnomalyMetrics.Auroc([0.1f, 0.4f, 0.35f, 0.8f], [false, false, true, true]), 1e-12);
    }

    [TestMethod]
    public void AurocCountsTiesAsOneHalf()
    {
        // Anomalous 2 vs normal 1: win, vs normal 2: tie; anomalous 3 wins both → (1 + ½ + 2) / 4.
        Assert.AreEqual(0.875, AnomalyMetrics.Auroc([1f, 2f, 2f, 3f], [false, false, true, true]), 1e-12);
        Assert.AreEqual(0.5, AnomalyMetrics.Auroc([5f, 5f, 5f, 5f], [true, false, true, false]), 1e-12);
        // Order of tied inputs does not matter.
        Assert.AreEqual(0.875, AnomalyMetrics.Auroc([2f, 3f, 1f, 2f], [true, true, false, false]), 1e-12);
    }

    [TestMethod]
    public void AurocIsZeroForPerfectlyInvertedScores() =>
        Assert.AreEqual(0.0, AnomalyMetrics.Auroc([0.9f, 0.8f, 0.1f], [false, false, true]), 1e-12);

    [TestMethod]
    public void AurocRejectsOneClassAndMismatchedLengths()
    {
        var one = Assert.ThrowsExactly<ArgumentException>(() => AnomalyMetrics.Auroc([1f, 2f], [false, false]));
        StringAssert.Contains(one.Message, "0 anomalous and 2 normal");
        var lengths = Assert.ThrowsExactly<ArgumentException>(() => AnomalyMetrics.Auroc([1f, 2f], [true]));
        StringAssert.Contains(lengths.Message, "2 scores but 1 labels");
        Assert.ThrowsExactly<ArgumentException>(() => AnomalyMetrics.Auroc([float.NaN, 2f], [true, false]));
    }

    [TestMethod]
    public void RocCurveHasOnePointPerDistinctScore()
    {
        var roc = AnomalyMetrics.RocCurve([1f, 2f, 2f, 3f], [false, false, true, true]);
        CollectionAssert.AreEqual(
            new[] { new RocPoint(0, 0, float.PositiveInfinity), new RocPoint(0, 0.5, 3f), new RocPoint(0.5, 1, 2f), new RocPoint(1, 1, 1f) },
            roc);
    }

    [TestMethod]
    public void F1OptimalThresholdPicksTheBestOperatingPoint()
    {
        // ≥3: P 1, R ½, F1 ⅔; ≥2: P ⅔, R 1, F1 0.8; ≥1: P ½, R 1, F1 ⅔.
        var t = AnomalyMetrics.F1OptimalThreshold([1f, 2f, 2f, 3f], [false, false, true, true]);
        Assert.AreEqual(2f, t.Threshold);
        Assert.AreEqual(0.8, t.F1, 1e-12);
        Assert.AreEqual(2.0 / 3, t.Precision, 1e-12);
        Assert.AreEqual(1.0, t.Recall, 1e-12);
    }

    [TestMethod]
    public void F1OptimalThresholdPrefersTheHighestAmongEqualF1()
    {
        // ≥4: P 1, R ½, F1 ⅔; ≥3: P ½, R ½, F1 ½; ≥2: P ⅔, R 1, F1 0.8; ≥1: P ½, R 1, F1 ⅔ → 2.
        var t = AnomalyMetrics.F1OptimalThreshold([4f, 3f, 2f, 1f], [true, false, true, false]);
        Assert.AreEqual(2f, t.Threshold);
        // Separable scores: every threshold between the classes gives F1 1; the highest is the lowest anomalous score.
        Assert.AreEqual(5f, AnomalyMetrics.F1OptimalThreshold([1f, 2f, 5f, 6f], [false, false, true, true]).Threshold);
    }

    [TestMethod]
    public void PercentileInterpolatesLinearly()
    {
        Assert.AreEqual(2.5f, AnomalyMetrics.Percentile([4f, 1f, 3f, 2f], 50));
        Assert.AreEqual(3.97f, AnomalyMetrics.Percentile([4f, 1f, 3f, 2f], 99), 1e-6f);
        Assert.AreEqual(4f, AnomalyMetrics.Percentile([4f, 1f, 3f, 2f], 100));
        Assert.AreEqual(1f, AnomalyMetrics.Percentile([4f, 1f, 3f, 2f], 0));
        Assert.AreEqual(7f, AnomalyMetrics.Percentile([7f], 99));
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => AnomalyMetrics.Percentile([1f], 101));
        Assert.ThrowsExactly<ArgumentException>(() => AnomalyMetrics.Percentile(Array.Empty<float>(), 50));
    }
}
