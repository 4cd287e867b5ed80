using Rkde.MLNet.Regions;

namespace Rkde.MLNet.Tests.Regions;

[TestClass]
public sealed class RegionFilterGraphTests
{
    public static IEnumerable<object[]> RegionFixtures => Fixtures.Files("regions");

    private sealed record Kept(long[] Indices, float[] Boxes, float[] Scores, float[] Normalized, long[] BoxShape);

    private static Kept Filter(RegionFilterOptions o, int width, int height, float[] boxes, float[] scores)
    {
        using var run = new OnnxRun(RegionFilterGraph.Build(o, width, height));
        var r = run.Run(("boxes", boxes, [1, scores.Length, 4]), ("scores", scores, [1, scores.Length]));
        return new Kept((long[])r["kept_indices"].Data, (float[])r["kept_boxes"].Data, (float[])r["kept_scores"].Data,
            (float[])r["kept_boxes_normalized"].Data, r["kept_boxes"].Shape);
    }

    private static int[] Reference(float[] boxes, float[] scores, RegionFilterOptions o) => RegionFilter.Select(boxes, scores, o);

    [TestMethod]
    [DynamicData(nameof(RegionFixtures))]
    public void GoldenFixturesPassThroughTheGraph(string file)
    {
        var f = Fixtures.Load("regions", file);
        var o = new RegionFilterOptions
        {
            RoiScoreThreshold = f.GetProperty("score_threshold").GetSingle(),
            MinBoxSize = f.GetProperty("min_box_size").GetSingle(),
            IouThreshold = f.GetProperty("iou_threshold").GetSingle(),
            MaxDetectionsPerImage = f.GetProperty("max_detections_per_image").GetInt32(),
        };
        int width = f.GetProperty("image_width").GetInt32(), height = f.GetProperty("image_height").GetInt32();
        float[] boxes = Fixtures.Flat(f.GetProperty("boxes"));
        float[] scores = Fixtures.Flat(f.GetProperty("scores"));
        var expected = f.GetProperty("expected");
        long[] expectedIndices = expected.GetProperty("kept_indices").EnumerateArray().Select(v => v.GetInt64()).ToArray();

        var kept = Filter(o, width, height, boxes, scores);
        CollectionAssert.AreEqual(expectedIndices, kept.Indices, $"{file}: kept indices");
        CollectionAssert.AreEqual(Fixtures.Flat(expected.GetProperty("boxes")), kept.Boxes, $"{file}: boxes");
        CollectionAssert.AreEqual(Fixtures.Flat(expected.GetProperty("scores")), kept.Scores, $"{file}: scores");
        CollectionAssert.AreEqual(expectedIndices.Select(i => (int)i).ToArray(), Reference(boxes, scores, o), $"{file}: RegionFilter.Select");
    }

    [TestMethod]
    [DataRow(1, 0.3f, 25f, 100)]
    [DataRow(2, 0.5f, 10f, 7)]
    [DataRow(3, 0.05f, 0f, 1000)]
    [DataRow(4, 1f, 5f, 50)]
    public void RandomOverlappingBoxesMatchTheReference(int seed, float iou, float minSize, int maxDetections)
    {
        var random = new Random(seed);
        const int width = 120, height = 80;
        var o = new RegionFilterOptions { IouThreshold = iou, MinBoxSize = minSize, MaxDetectionsPerImage = maxDetections, RoiScoreThreshold = 0.2f };
        for (int trial = 0; trial < 20; trial++)
        {
            int n = random.Next(0, 300);
            var boxes = new float[4 * n];
            var scores = new float[n];
            for (int i = 0; i < n; i++)
            {
                // Boxes crowd a small area (many overlaps), some hang off the image; scores are coarse (many ties).
                float x = random.Next(-10, 60), y = random.Next(-10, 40);
                boxes[4 * i] = x;
                boxes[4 * i + 1] = y;
                boxes[4 * i + 2] = x + random.Next(0, 70) + (float)random.NextDouble();
                boxes[4 * i + 3] = y + random.Next(0, 50);
                scores[i] = random.Next(0, 12) / 10f;
            }
            var kept = Filter(o, width, height, boxes, scores);
            int[] expected = Reference(boxes, scores, o);
            CollectionAssert.AreEqual(expected.Select(i => (long)i).ToArray(), kept.Indices, $"trial {trial}, n {n}");
            CollectionAssert.AreEqual(expected.Select(i => scores[i]).ToArray(), kept.Scores);
            CollectionAssert.AreEqual(new long[] { 1, expected.Length, 4 }, kept.BoxShape);
            for (int k = 0; k < expected.Length; k++)
            {
                for (int c = 0; c < 4; c++)
                {
                    float limit = c % 2 == 0 ? width : height;
                    float clipped = Math.Clamp(boxes[4 * expected[k] + c], 0, limit);
                    Assert.AreEqual(clipped, kept.Boxes[4 * k + c]);
                    Assert.AreEqual(clipped / limit, kept.Normalized[4 * k + c]);
                }
            }
        }
    }

    [TestMethod]
    public void NoBoxesAndAllFilteredGiveEmptyOutputs()
    {
        var o = new RegionFilterOptions();
        foreach (var (boxes, scores) in new[]
        {
            (new float[0], new float[0]),
            (new float[] { 0, 0, 100, 100, 0, 0, 10, 10, 5, 5, float.NaN, 50 }, new float[] { 0.001f, 0.9f, 0.9f }),
        })
        {
            var kept = Filter(o, 360, 240, boxes, scores);
            Assert.IsEmpty(kept.Indices);
            Assert.IsEmpty(kept.Boxes);
            Assert.IsEmpty(kept.Scores);
            Assert.IsEmpty(kept.Normalized);
            CollectionAssert.AreEqual(new long[] { 1, 0, 4 }, kept.BoxShape);
        }
    }

    [TestMethod]
    public void EqualScoresKeepInputOrderAndIouAtTheThresholdIsKept()
    {
        // Boxes 0 and 1 overlap with IoU exactly 0.5 (not suppressed at threshold 0.5); 2 duplicates 1 (suppressed).
        float[] boxes = [0, 0, 30, 30, 10, 0, 40, 30, 10, 0, 40, 30, 100, 100, 130, 130];
        float[] scores = [0.5f, 0.5f, 0.5f, 0.5f];
        var o = new RegionFilterOptions { IouThreshold = 0.5f };
        CollectionAssert.AreEqual(new long[] { 0, 1, 3 }, Filter(o, 360, 240, boxes, scores).Indices);
    }

    [TestMethod]
    public void GraphCarriesFormatMetadataAndRejectsBadSizes()
    {
        using var run = new OnnxRun(RegionFilterGraph.Build(new RegionFilterOptions(), 360, 240));
        Assert.AreEqual("3", run.Metadata.CustomMetadataMap["rkde_format_version"]);
        Assert.AreEqual("regions", run.Metadata.CustomMetadataMap["rkde_stage"]);
        var e = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => RegionFilterGraph.Build(new RegionFilterOptions(), 0, 240));
        StringAssert.Contains(e.Message, "width = 0");
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => RegionFilterGraph.Build(new RegionFilterOptions { IouThreshold = 0 }, 360, 240));
    }
}
