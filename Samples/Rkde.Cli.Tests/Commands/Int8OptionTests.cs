using Rkde.Cli.Scoring;

namespace Rkde.Cli.Tests.Commands;

/// <summary><c>fit --int8</c>: reaches FitSettings.QuantizeBackbone, and is refused with --proposer.</summary>
[TestClass]
public sealed class Int8OptionTests
{
    [TestMethod]
    public void Int8ReachesTheFitSettings()
    {
        string folder = TestData.TempFolder();
        TestData.WritePng(Path.Combine(folder, "a.png"), 64, 48, SkiaSharp.SKColors.Gray);
        var engine = new SettingsEngine();
        var r = CliRunner.Run(engine, "fit", "--train", folder, "--model", Path.Combine(folder, "m.zip"), "--int8");
        Assert.AreEqual(0, r.Code, r.Err);
        Assert.IsTrue(engine.Settings?.QuantizeBackbone);
        CliRunner.Run(engine, "fit", "--train", folder, "--model", Path.Combine(folder, "m.zip"));
        Assert.IsFalse(engine.Settings?.QuantizeBackbone);
    }

    [TestMethod]
    public void Int8WithOwnProposerIsRefused()
    {
        string folder = TestData.TempFolder();
        TestData.WritePng(Path.Combine(folder, "a.png"), 64, 48, SkiaSharp.SKColors.Gray);
        string proposer = Path.Combine(folder, "p.onnx");
        File.WriteAllBytes(proposer, [1]);
        CliRunner.AssertOneLineError(CliRunner.Run("fit", "--train", folder, "--model", Path.Combine(folder, "m.zip"), "--int8", "--proposer", proposer), "--int8");
    }
}
