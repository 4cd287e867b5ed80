using System.Text.Json;
using Rkde.Cli.Scoring;

namespace Rkde.Cli.Tests.Scoring;

/// <summary>fit, score, update, score --watch and evaluate end to end on the real pipeline with its embedded default models.</summary>
[TestClass]
public sealed class MlNetEngineTests
{
    /// <summary>The model input size and component count for the small scenes.</summary>
    private static readonly string[] Small = ["--width", "192", "--height", "128", "--pca-components", "4"];

    /// <summary>A small FashionScenes set (plain backgrounds, 192 × 128) in MVTec layout; returns its root.</summary>
    private static string Scenes(int train, int testGood, int testAnomalous)
    {
        string root = TestData.TempFolder();
        var scenes = CliRunner.Run("make-scenes", "--out", root, "--fashion-mnist", TestData.FakeFashionMnist(), "--background", "plain",
            "--train", $"{train}", "--test-good", $"{testGood}", "--test-anomalous", $"{testAnomalous}", "--width", "192", "--height", "128",
            "--item-size", "40-64");
        Assert.AreEqual(0, scenes.Code, scenes.Err);
        return root;
    }

    [TestMethod]
    public void FitScoreUpdateWatchAndEvaluateRunOnAnUnseenMvtecFolder()
    {
        string root = Scenes(train: 6, testGood: 2, testAnomalous: 2);
        var engine = new MlNetEngine();

        string model = Path.Combine(root, "out", "model.zip");
        var fit = CliRunner.Run(engine, ["fit", "--train", root, "--model", model, .. Small]);
        Assert.AreEqual(0, fit.Code, fit.Err);
        Assert.IsTrue(File.Exists(model));

        string results = Path.Combine(root, "out", "results.jsonl");
        var score = CliRunner.Run(engine, "score", "--model", model, "--images", Path.Combine(root, "test"), "--out", results);
        Assert.AreEqual(0, score.Code, score.Err);
        var lines = File.ReadAllLines(results).Select(ResultLine.Parse).ToList();
        Assert.HasCount(4, lines);
        foreach (var line in lines)
        {
            Assert.IsNotNull(line.Result, line.Error);
            Assert.IsTrue(line.Result.Score is >= 0 and <= 1, $"{line.Image}: {line.Result.Score}");
            Assert.AreEqual(line.Result.Boxes.Count == 0 ? 0 : line.Result.Boxes[0].Score, line.Result.Score, 1e-6f);
            Assert.IsTrue(line.Result.Boxes.Zip(line.Result.Boxes.Skip(1)).All(p => p.First.Score >= p.Second.Score), "boxes highest first");
            Assert.IsTrue(line.Result.Boxes.All(b => b.Box.X1 >= 0 && b.Box.X2 <= 192.01f && b.Box.Y1 >= 0 && b.Box.Y2 <= 128.01f), "boxes in image pixels");
        }

        // update: the test/good scenes join the model, so they score lower with the updated model; --out replaces it whole.
        string good = Path.Combine(root, "test", "good");
        var before = lines.Where(l => l.Image.StartsWith("good/", StringComparison.Ordinal)).ToDictionary(l => l.Image[5..], l => l.Result!.Score);
        string updated = Path.Combine(root, "out", "updated.zip");
        var update = CliRunner.Run(engine, "update", "--model", model, "--train", good, "--out", updated);
        Assert.AreEqual(0, update.Code, update.Err);
        StringAssert.Contains(update.Out, "Added 2 images");
        string goodResults = Path.Combine(root, "out", "good.jsonl");
        Assert.AreEqual(0, CliRunner.Run(engine, "score", "--model", updated, "--images", good, "--out", goodResults).Code);
        foreach (var line in File.ReadAllLines(goodResults).Select(ResultLine.Parse))
            Assert.IsLessThan(before[line.Image], line.Result!.Score, $"{line.Image} after the update");
        var twice = CliRunner.Run(engine, "update", "--model", updated, "--train", good, "--out", updated, "--mode", "window");
        Assert.AreEqual(0, twice.Code, twice.Err);
        Assert.AreEqual(0, CliRunner.Run(engine, "score", "--model", updated, "--images", good, "--out", goodResults).Code, "the model replaced in place loads");
        CliRunner.AssertOneLineError(CliRunner.Run(engine, "update", "--model", Path.Combine(root, "out", "results.jsonl"), "--train", good, "--out", updated),
            "--model could not be loaded");

        // score --watch with the real engine: an image renamed into the folder gets its line.
        string drop = Path.Combine(root, "drop");
        Directory.CreateDirectory(drop);
        string watched = Path.Combine(root, "out", "watched.jsonl");
        var watch = CliRunner.Start(engine, CancellationToken.None, "score", "--model", model, "--watch", drop, "--out", watched, "--max-images", "1");
        watch.WaitForErr("Watching", TimeSpan.FromMinutes(1));
        string first = Directory.GetFiles(good).Order(StringComparer.Ordinal).First();
        File.Copy(first, Path.Combine(drop, "frame.png.tmp"));
        File.Move(Path.Combine(drop, "frame.png.tmp"), Path.Combine(drop, "frame.png"));
        Assert.IsTrue(watch.Task.Wait(TimeSpan.FromMinutes(2)), "the watch did not score the image");
        Assert.AreEqual(0, watch.Task.Result.Code, watch.Task.Result.Err);
        var frame = ResultLine.Parse(File.ReadAllLines(watched).Single());
        Assert.AreEqual("frame.png", frame.Image);
        Assert.AreEqual(before[Path.GetFileName(first)], frame.Result!.Score, 1e-6f, "the same score as rkde score gives");

        string report = Path.Combine(root, "report");
        var evaluate = CliRunner.Run(engine, ["evaluate", "--data", root, "--model", model, "--out", report, .. Small]);
        Assert.AreEqual(0, evaluate.Code, evaluate.Err);
        using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(report, "report.json")));
        double auroc = json.RootElement.GetProperty("imageAuroc").GetDouble();
        Assert.IsTrue(auroc is >= 0 and <= 1);
        Assert.IsTrue(File.Exists(Path.Combine(report, "roc.png")));
    }

    /// <summary>
    /// fit on the real engine: an unreadable training image is skipped with one warning line naming it, the summary counts
    /// the images fitted on, and --strict stops at it with one error line naming it.
    /// </summary>
    [TestMethod]
    public void FitSkipsAnUnreadableTrainingImageWithAWarningOrStopsAtItWithStrict()
    {
        string folder = Path.Combine(Scenes(train: 4, testGood: 1, testAnomalous: 1), "train", "good");
        File.WriteAllText(Path.Combine(folder, "broken.png"), "not an image");
        var engine = new MlNetEngine();

        var fit = CliRunner.Run(engine, ["fit", "--train", folder, "--model", Path.Combine(folder, "m.zip"), .. Small]);
        Assert.AreEqual(0, fit.Code, fit.Err);
        var warnings = fit.Err.Split('\n').Where(l => l.Contains(MlNetEngine.SkipWarningPrefix)).ToList();
        Assert.HasCount(1, warnings, fit.Err);
        StringAssert.Contains(warnings[0], "broken.png");
        StringAssert.Contains(fit.Out, "Fitted on 4 images");

        CliRunner.AssertOneLineError(CliRunner.Run(engine, ["fit", "--train", folder, "--model", Path.Combine(folder, "s.zip"), "--strict", .. Small]), "broken.png");
        Assert.IsFalse(File.Exists(Path.Combine(folder, "s.zip")));
    }

    [TestMethod]
    public void ACorruptModelIsOneLine()
    {
        string folder = TestData.TempFolder();
        TestData.WritePng(Path.Combine(folder, "a.png"), 40, 30, SkiaSharp.SKColors.Gray);
        File.WriteAllText(Path.Combine(folder, "m.zip"), "not a zip");
        CliRunner.AssertOneLineError(
            CliRunner.Run(new MlNetEngine(), "score", "--model", Path.Combine(folder, "m.zip"), "--images", folder, "--out", Path.Combine(folder, "r.jsonl")),
            $"--model could not be loaded: Model '{Path.Combine(folder, "m.zip")}' is not a complete model .zip");
    }
}
