using Rkde.MLNet.Density;
using SkiaSharp;

namespace Rkde.Cli.Tests.Commands;

/// <summary><c>rkde update</c>'s plumbing on the fake engine: the arguments reach the engine, the summary is one line, bad input one error line.</summary>
[TestClass]
public sealed class UpdateCommandTests
{
    private static (string Folder, string Model) Setup()
    {
        string folder = TestData.TempFolder();
        TestData.WritePng(Path.Combine(folder, "new", "a.png"), 40, 30, SKColors.Gray);
        TestData.WritePng(Path.Combine(folder, "new", "sub", "b.png"), 40, 30, SKColors.Gray);
        string model = Path.Combine(folder, "m.zip");
        File.WriteAllLines(model, ["fitted"]);
        return (folder, model);
    }

    [TestMethod]
    public void UpdatePassesTheImagesAndModeToTheEngineAndSummarises()
    {
        var (folder, model) = Setup();
        var engine = FakeEngine.Constant(0.5f);
        string updated = Path.Combine(folder, "out", "m2.zip");
        var r = CliRunner.Run(engine, "update", "--model", model, "--train", Path.Combine(folder, "new"), "--out", updated, "--mode", "window");
        Assert.AreEqual(0, r.Code, r.Err);
        var call = engine.Updates.Single();
        Assert.AreEqual(model, call.Model);
        Assert.AreEqual(updated, call.Out);
        Assert.AreEqual(UpdateSampling.Window, call.Settings.Sampling);
        Assert.IsFalse(call.Settings.Strict);
        CollectionAssert.AreEqual(new[] { "a.png", "b.png" }, call.Images.Select(Path.GetFileName).ToArray());
        StringAssert.Contains(r.Out, "Added 2 images (10 regions)");
        StringAssert.Contains(r.Out, "window: the model keeps 15 of 15 regions seen");
        StringAssert.Contains(r.Out, "explains 50.0 % of the new regions' variance (training regions: 75.0 %)");
        StringAssert.Contains(r.Out, $"model saved to {updated}");

        var strict = CliRunner.Run(engine, "update", "--model", model, "--train", Path.Combine(folder, "new"), "--out", updated, "--strict");
        Assert.AreEqual(0, strict.Code, strict.Err);
        Assert.AreEqual(UpdateSampling.Reservoir, engine.Updates[1].Settings.Sampling);
        Assert.IsTrue(engine.Updates[1].Settings.Strict);
    }

    [TestMethod]
    public void BadUpdateArgumentsEndWithOneLine()
    {
        var (folder, model) = Setup();
        string target = Path.Combine(folder, "m2.zip");
        CliRunner.AssertOneLineError(CliRunner.Run("update", "--model", model, "--train", folder), "--out");
        CliRunner.AssertOneLineError(CliRunner.Run("update", "--model", "/no/m.zip", "--train", folder, "--out", target), "--model '/no/m.zip' does not exist");
        CliRunner.AssertOneLineError(CliRunner.Run("update", "--model", model, "--train", "/no/dir", "--out", target), "'/no/dir' does not exist");
        CliRunner.AssertOneLineError(CliRunner.Run("update", "--model", model, "--train", folder, "--out", target, "--mode", "fifo"), "fifo");
        Assert.IsFalse(File.Exists(target));
    }
}
