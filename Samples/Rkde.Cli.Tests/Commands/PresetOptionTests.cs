using Rkde.Cli.Scoring;
using Rkde.MLNet;
using Rkde.MLNet.Density;

namespace Rkde.Cli.Tests.Commands;

/// <summary><c>--preset</c>: the defaults of every option not given, which options given on the command line override.</summary>
[TestClass]
public sealed class PresetOptionTests
{
    private static FitSettings Fit(params string[] extra)
    {
        string folder = TestData.TempFolder();
        TestData.WritePng(Path.Combine(folder, "a.png"), 64, 48, SkiaSharp.SKColors.Gray);
        var engine = new SettingsEngine();
        var r = CliRunner.Run(engine, ["fit", "--train", folder, "--model", Path.Combine(folder, "m.zip"), .. extra]);
        Assert.AreEqual(0, r.Code, r.Err);
        return engine.Settings!;
    }

    [TestMethod]
    public void WithoutAPresetTheSettingsAreTheTunedDefaults() =>
        Assert.AreEqual(FitSettings.From(new RkdeOptions()), Fit());

    [TestMethod]
    public void AnomalibPresetGivesTheReferenceDefaults()
    {
        var settings = Fit("--preset", "anomalib");
        Assert.AreEqual(FitSettings.From(RkdeOptions.Anomalib()), settings);
        Assert.AreEqual(RkdeDensityOptions.AnomalibPcaComponents, settings.PcaComponents);
        Assert.AreNotEqual(Fit().PcaComponents, settings.PcaComponents);
    }

    [TestMethod]
    public void OptionsGivenOverrideThePreset()
    {
        var settings = Fit("--preset", "anomalib", "--pca-components", "32", "--max-detections", "20");
        Assert.AreEqual(32, settings.PcaComponents);
        Assert.AreEqual(20, settings.MaxDetectionsPerImage);
        Assert.AreEqual(RkdeOptions.Anomalib().IouThreshold, settings.IouThreshold);
        // Given with the value the preset has anyway, an option still wins over a preset that differs.
        Assert.AreEqual(100, Fit("--max-detections", "100", "--preset", "anomalib").MaxDetectionsPerImage);
    }

    [TestMethod]
    public void TrainingRegionOptionsReachTheSettings()
    {
        var settings = Fit("--training-iou-threshold", "1", "--max-training-detections", "250");
        Assert.AreEqual(1f, settings.TrainingIouThreshold);
        Assert.AreEqual(250, settings.MaxTrainingDetectionsPerImage);
        var anomalib = Fit("--preset", "anomalib");
        Assert.IsNull(anomalib.TrainingIouThreshold, "anomalib fits on the regions it scores");
        Assert.IsNull(anomalib.MaxTrainingDetectionsPerImage);
    }

    [TestMethod]
    public void KdeBandwidthReachesTheSettings()
    {
        Assert.AreEqual(KdeBandwidth.Isotropic, Fit().Bandwidth);
        Assert.AreEqual(KdeBandwidth.Covariance, Fit("--preset", "anomalib").Bandwidth, "anomalib's kernel is the data covariance");
        Assert.AreEqual(KdeBandwidth.Covariance, Fit("--kde-bandwidth", "covariance").Bandwidth);
        Assert.AreEqual(KdeBandwidth.Isotropic, Fit("--preset", "anomalib", "--kde-bandwidth", "isotropic").Bandwidth);
    }

    [TestMethod]
    public void AnUnknownPresetIsOneLine() =>
        CliRunner.AssertOneLineError(CliRunner.Run("fit", "--train", TestData.TempFolder(), "--model", "m.zip", "--preset", "fast"), "--preset");
}
