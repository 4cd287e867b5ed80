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
        Assert.AreEqual(KdeBandwidth.Covariance, d.Bandwidth);
        Assert.AreEqual(40_000, d.MaxTrainingPoints);
        r.Validate();
        d.Validate();
    }

    [TestMethod]
    public void AnomalibPresetHoldsTheReferenceDefaults()
    {
        // The stage options hold anomalib's defaults (DefaultsAreAnomalibs); the preset passes them on whatever RkdeOptions' own defaults are.
        var a = RkdeOptions.Anomalib();
        var (region, density) = (new RegionFilterOptions(), new RkdeDensityOptions());
        Assert.AreEqual((region.RoiScoreThreshold, region.MinBoxSize, region.IouThreshold, region.MaxDetectionsPerImage),
            (a.RoiScoreThreshold, a.MinBoxSize, a.IouThreshold, a.MaxDetectionsPerImage));
        Assert.AreEqual((density.PcaComponents, density.FeatureScaling, density.Bandwidth, density.MaxTrainingPoints),
            (a.ResolvedPcaComponents, a.FeatureScaling, a.Bandwidth, a.MaxTrainingPoints));
        Assert.AreEqual(RoiStage.Rcnn, a.RoiStage);
        Assert.IsFalse(a.TrainsOnOtherRegions, "anomalib fits the density on the regions it scores");
        a.Validate();
        // The tuned default differs from it with the embedded models, and each call is a fresh instance.
        Assert.AreNotEqual(a.ResolvedPcaComponents, new RkdeOptions().ResolvedPcaComponents);
        Assert.AreEqual(KdeBandwidth.Isotropic, new RkdeOptions().Bandwidth);
        a.PcaComponents = 8;
        Assert.AreEqual(16, RkdeOptions.Anomalib().PcaComponents);
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
        e = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new RkdeDensityOptions { Bandwidth = (KdeBandwidth)7 }.Validate());
        StringAssert.Contains(e.Message, "Bandwidth = 7");
        StringAssert.Contains(e.Message, "Covariance or Isotropic");
        e = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new RkdeOptions { Bandwidth = (KdeBandwidth)7 }.Validate());
        StringAssert.Contains(e.Message, "Bandwidth = 7");
        e = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new RegionFilterOptions { MinBoxSize = -1 }.Validate());
        StringAssert.Contains(e.Message, "MinBoxSize = -1");
        e = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new RegionFilterOptions { MaxDetectionsPerImage = 0 }.Validate());
        StringAssert.Contains(e.Message, "MaxDetectionsPerImage");
    }
}
