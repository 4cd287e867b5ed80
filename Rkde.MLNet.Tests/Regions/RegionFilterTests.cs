using Rkde.MLNet.Regions;

namespace Rkde.MLNet.Tests.Regions;

[TestClass]
public sealed class RegionFilterTests
{
    [TestMethod]
    public void FiltersSmallAndLowScoredBoxesThenSuppressesOverlapsHighestFirst()
    {
        float[] boxes =
        [
            0, 0, 100, 100,   // 0: kept (IoU with 2 ≈ 0.22)
            45, 45, 145, 145, // 1: IoU with 2 ≈ 0.82 → suppressed by 2
            40, 40, 140, 140, // 2: highest eligible score
            0, 0, 20, 100,    // 3: narrower than 25
            200, 0, 300, 100, // 4: score at the threshold
            200, 100, 300, 200, // 5: kept, tie with 6 → lower index first
            0, 150, 100, 250, // 6: kept
        ];
        float[] scores = [0.8f, 0.7f, 0.9f, 0.95f, 0.001f, 0.5f, 0.5f];
        var kept = RegionFilter.Select(boxes, scores, new RegionFilterOptions { IouThreshold = 0.5f });
        CollectionAssert.AreEqual(new[] { 2, 0, 5, 6 }, kept);
        CollectionAssert.AreEqual(new[] { 2, 0 }, RegionFilter.Select(boxes, scores, new RegionFilterOptions { IouThreshold = 0.5f, MaxDetectionsPerImage = 2 }));
    }

    [TestMethod]
    public void MismatchedLengthsNameBothInputs()
    {
        var error = Assert.ThrowsExactly<ArgumentException>(() => RegionFilter.Select(new float[7], new float[2], new RegionFilterOptions()));
        StringAssert.Contains(error.Message, "boxes holds 7 values");
        StringAssert.Contains(error.Message, "scores holds 2");
    }

    [TestMethod]
    public void NoBoxesGiveNoIndices() =>
        Assert.IsEmpty(RegionFilter.Select([], [], new RegionFilterOptions()));
}
