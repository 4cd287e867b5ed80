using Rkde.Cli.Evaluate.Metrics;

namespace Rkde.Cli.Tests.Evaluate;

[TestClass]
public sealed class BoxMetricsTests
{
    private static BoundingBox B(float x1, float y1, float x2, float y2) => new(x1, y1, x2, y2);
    private static Detection D(float x1, float y1, float x2, float y2, float score) => new(B(x1, y1, x2, y2), score);

    [TestMethod]
    public void IntersectionOverUnionOfKnownBoxes()
    {
        Assert.AreEqual(1.0, B(0, 0, 10, 10).IntersectionOverUnion(B(0, 0, 10, 10)), 1e-12);
        Assert.AreEqual(0.5, B(0, 0, 10, 10).IntersectionOverUnion(B(0, 0, 10, 5)), 1e-12);
        Assert.AreEqual(25.0 / 175, B(0, 0, 10, 10).IntersectionOverUnion(B(5, 5, 15, 15)), 1e-12);
        Assert.AreEqual(0.0, B(0, 0, 10, 10).IntersectionOverUnion(B(10, 0, 20, 10)), 1e-12); // touching edges
    }

    [TestMethod]
    public void AveragePrecisionWithAMissAndAFalsePositive()
    {
        // 3 ground-truth boxes. Ranked: 0.9 TP, 0.8 FP, 0.7 TP; one box never found.
        // Recall ⅓ ⅓ ⅔, precision 1 ½ ⅔ → interpolated 1, ⅔ → AP = ⅓·1 + ⅓·⅔ = 5/9.
        var images = new[]
        {
            new ImageBoxes([D(0, 0, 10, 10, 0.9f)], [B(0, 0, 10, 10)]),
            new ImageBoxes([D(50, 50, 60, 60, 0.8f), D(21, 20, 31, 30, 0.7f)], [B(0, 0, 10, 10), B(20, 20, 30, 30)]),
        };
        Assert.AreEqual(5.0 / 9, BoxAveragePrecision.Compute(images, 0.5), 1e-12);
    }

    [TestMethod]
    public void AveragePrecisionCountsADuplicateDetectionAsFalsePositive()
    {
        // Both boxes hit the one ground truth: 0.9 TP (R 1, P 1), 0.8 duplicate FP (R 1, P ½) → AP 1.
        var images = new[] { new ImageBoxes([D(0, 0, 10, 10, 0.9f), D(0, 0, 10, 9, 0.8f)], [B(0, 0, 10, 10)]) };
        Assert.AreEqual(1.0, BoxAveragePrecision.Compute(images, 0.5), 1e-12);
        // Reversed scores: the worse box still matches first → still AP 1 at IoU 0.5.
        images = [new ImageBoxes([D(0, 0, 10, 10, 0.8f), D(0, 0, 10, 9, 0.9f)], [B(0, 0, 10, 10)])];
        Assert.AreEqual(1.0, BoxAveragePrecision.Compute(images, 0.5), 1e-12);
    }

    [TestMethod]
    public void AveragePrecisionTreatsTiedScoresAsOneOperatingPoint()
    {
        // One TP and one FP at the same score: a single point (R 1, P ½) whichever comes first.
        var tpFirst = new[] { new ImageBoxes([D(0, 0, 10, 10, 0.5f), D(40, 40, 50, 50, 0.5f)], [B(0, 0, 10, 10)]) };
        var fpFirst = new[] { new ImageBoxes([D(40, 40, 50, 50, 0.5f), D(0, 0, 10, 10, 0.5f)], [B(0, 0, 10, 10)]) };
        Assert.AreEqual(0.5, BoxAveragePrecision.Compute(tpFirst, 0.5), 1e-12);
        Assert.AreEqual(0.5, BoxAveragePrecision.Compute(fpFirst, 0.5), 1e-12);
    }

    [TestMethod]
    public void AveragePrecisionHonoursTheIouThreshold()
    {
        // IoU exactly 0.5: a hit at 0.5 and 0.3, a miss at 0.6.
        var images = new[] { new ImageBoxes([D(0, 0, 10, 5, 1f)], [B(0, 0, 10, 10)]) };
        Assert.AreEqual(1.0, BoxAveragePrecision.Compute(images, 0.5), 1e-12);
        Assert.AreEqual(1.0, BoxAveragePrecision.Compute(images, 0.3), 1e-12);
        Assert.AreEqual(0.0, BoxAveragePrecision.Compute(images, 0.6), 1e-12);
    }

    [TestMethod]
    public void AveragePrecisionCountsGroundTruthInImagesWithoutDetections()
    {
        // Two ground-truth boxes, one found first-ranked: R ½, P 1 → AP ½.
        var images = new[]
        {
            new ImageBoxes([D(0, 0, 10, 10, 0.9f)], [B(0, 0, 10, 10)]),
            new ImageBoxes([], [B(0, 0, 10, 10)]),
        };
        Assert.AreEqual(0.5, BoxAveragePrecision.Compute(images, 0.5), 1e-12);
    }

    [TestMethod]
    public void AveragePrecisionNeedsGroundTruth()
    {
        var e = Assert.ThrowsExactly<ArgumentException>(() => BoxAveragePrecision.Compute([new ImageBoxes([D(0, 0, 1, 1, 1f)], [])], 0.5));
        StringAssert.Contains(e.Message, "No ground-truth boxes");
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => BoxAveragePrecision.Compute([new ImageBoxes([], [B(0, 0, 1, 1)])], 0));
    }

    [TestMethod]
    public void AnomalyMapTakesTheHighestCoveringScore()
    {
        // 4×3 image; box A covers columns 0–1 of rows 0–1 (score 0.2), box B columns 1–3 of row 1–2 (score 0.7).
        float[] map = AnomalyMap.FromBoxes(4, 3, [D(0, 0, 2, 2, 0.2f), D(1, 1, 4, 3, 0.7f)]);
        CollectionAssert.AreEqual(new[]
        {
            0.2f, 0.2f, 0f, 0f,
            0.2f, 0.7f, 0.7f, 0.7f,
            0f, 0.7f, 0.7f, 0.7f,
        }, map);
    }

    [TestMethod]
    public void AnomalyMapUsesPixelCentresAndClipsToTheImage()
    {
        // [0.6, 2.4) holds the centres 1.5 only; the box beyond the right edge is clipped.
        float[] map = AnomalyMap.FromBoxes(3, 1, [D(0.6f, 0, 2.4f, 1, 1f), D(2.5f, -5, 99, 5, 0.5f)]);
        CollectionAssert.AreEqual(new[] { 0f, 1f, 0.5f }, map);
    }

    [TestMethod]
    public void PixelAurocCountsTiesAcrossImages()
    {
        var auroc = new PixelAuroc();
        // Image 1: anomalous pixels score 1 and 0; normal pixels 0, 0.
        auroc.Add([1f, 0f, 0f, 0f], [255, 255, 0, 0]);
        // Image 2 (normal): pixels 1, 0.
        auroc.AddNormal([1f, 0f]);
        // Anomalous {1, 0} vs normal {0, 0, 1, 0}: score 1 beats three zeros, ties one 1 → 3.5; score 0 ties three zeros → 1.5.
        Assert.AreEqual(2L, auroc.AnomalousPixels);
        Assert.AreEqual(4L, auroc.NormalPixels);
        Assert.AreEqual(5.0 / 8, auroc.Compute(), 1e-12);
    }

    [TestMethod]
    public void PixelAurocRejectsMismatchedMask() =>
        Assert.ThrowsExactly<ArgumentException>(() => new PixelAuroc().Add([0f, 1f], [0]));
}

[TestClass]
public sealed class BoxRecallTests
{
    private static BoundingBox B(float x1, float y1, float x2, float y2) => new(x1, y1, x2, y2);

    [TestMethod]
    public void CountsGroundTruthCoveredByAnyBoxRegardlessOfScore()
    {
        var images = new[]
        {
            // Covered at IoU 1 by a low-scoring box; the second truth only at IoU 0.5.
            new ImageBoxes([new Detection(B(0, 0, 10, 10), 0.01f), new Detection(B(20, 20, 30, 25), 0.9f)], [B(0, 0, 10, 10), B(20, 20, 30, 30)]),
            // Not covered: no boxes.
            new ImageBoxes([], [B(0, 0, 10, 10)]),
        };
        Assert.AreEqual(2.0 / 3, BoxRecall.Compute(images, 0.5), 1e-12);
        Assert.AreEqual(1.0 / 3, BoxRecall.Compute(images, 0.6), 1e-12);
        Assert.ThrowsExactly<ArgumentException>(() => BoxRecall.Compute([new ImageBoxes([], [])], 0.5));
    }
}
