using Rkde.MLNet.Density;
using Rkde.MLNet.Regions;
using Rkde.MLNet.DefaultModel;

namespace Rkde.MLNet.Tests;

[TestClass]
public sealed class OptionsTests
{
    [TestMethod]
    public void DefaultsAreAnomalibs()
    {
        var r = new RegionFilterOptions();
        var d = new RkdeDensityOptions();
        Assert.AreEqual(0.001f, r.RoiScoreThreshold);
        Assert.AreEqual(25f, r.MinBoxSize);
        Assert.AreEqual(0.3f, r.IouThreshold);
        Assert.AreEqual(100, r.MaxDetectionsPerImage);
        Assert.AreEqual(16, d.PcaComponents);
        Assert.AreEqual(FeatureScalingMethod.Scale, d.FeatureScaling);
        Assert.AreEqual(40_000, d.MaxTrainingPoints);
        r.Validate();
        d.Validate();
    }

    [TestMethod]
    public void PcaComponentsDefaultDependsOnTheFeatureModel()
    {
        Assert.AreEqual(DefaultModels.PcaComponents, new RkdeOptions().ResolvedPcaComponents);
        Assert.AreEqual(RkdeDensityOptions.AnomalibPcaComponents, new RkdeOptions { FeatureModelPath = "mine.onnx" }.ResolvedPcaComponents);
        Assert.AreEqual(RkdeDensityOptions.AnomalibPcaComponents, new RkdeOptions { FeatureModelBytes = [1] }.ResolvedPcaComponents);
        Assert.AreEqual(8, new RkdeOptions { PcaComponents = 8 }.ResolvedPcaComponents);
        var e = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new RkdeOptions { PcaComponents = 0 }.Validate());
        StringAssert.Contains(e.Message, "PcaComponents = 0");
    }

    [TestMethod]
    [DataRow(0f)]
    [DataRow(1.5f)]
    [DataRow(float.NaN)]
    public void IouOutsideRangeNamesTheOption(float iou)
    {
        var e = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new RegionFilterOptions { IouThreshold = iou }.Validate());
        StringAssert.Contains(e.Message, "IouThreshold");
        StringAssert.Contains(e.Message, "(0, 1]");
    }

    [TestMethod]
    public void InvalidDensityOptionsNameTheOptionAndRange()
    {
        var e = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new RkdeDensityOptions { PcaComponents = 0 }.Validate());
        StringAssert.Contains(e.Message, "PcaComponents = 0");
        e = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new RkdeDensityOptions { MaxTrainingPoints = 8 }.Validate());
        StringAssert.Contains(e.Message, "MaxTrainingPoints = 8");
        StringAssert.Contains(e.Message, "at least 16");
        e = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new RegionFilterOptions { MinBoxSize = -1 }.Validate());
        StringAssert.Contains(e.Message, "MinBoxSize = -1");
        e = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new RegionFilterOptions { MaxDetectionsPerImage = 0 }.Validate());
        StringAssert.Contains(e.Message, "MaxDetectionsPerImage");
    }
}
