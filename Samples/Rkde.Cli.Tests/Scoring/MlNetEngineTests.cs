using System.Text.Json;
using Rkde.Cli.Scoring;
using Rkde.MLNet;

namespace Rkde.Cli.Tests.Scoring;

/// <summary>fit, score, update, score --watch and evaluate end to end on the real pipeline with its embedded default models.</summary>
[TestClass]
public sealed class MlNetEngineTests
{
    private static string s_root = "";
    private static string s_model = "";

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

    [ClassInitialize]
    public static void MakeScenesAndFit(TestContext _)
    {
        s_root = Scenes(train: 6, testGood: 2, testAnomalous: 2);
        s_model = Path.Combine(s_root, "out", "model.zip");
        var fit = CliRunner.Run(new MlNetEngine(), ["fit", "--train", s_root, "--model", s_model, .. Small]);
        Assert.AreEqual(0, fit.Code, fit.Err);
        Assert.IsTrue(File.Exists(s_model));
    }

    private static List<ResultLine> Score(string name, params string[] extra)
    {
        string results = Path.Combine(s_root, "out", name);
        var score = CliRunner.Run(new MlNetEngine(), ["score", "--model", s_model, "--images", Path.Combine(s_root, "test"), "--out", results, .. extra]);
        Assert.AreEqual(0, score.Code, score.Err);
        StringAssert.Contains(score.Out, extra.Contains("--threshold") ? "at or above threshold 0;" : "(chosen for a false-positive rate of 1%)");
        return File.ReadAllLines(results).Select(ResultLine.Parse).ToList();
    }

    [TestMethod]
    public void UpdateAndWatchRunOnTheFittedModel()
    {
        // update: the test/good scenes join the model, so they score lower with the updated model; --out replaces it whole.
        var engine = new MlNetEngine();
        var lines = Score("before-update.jsonl");
        string good = Path.Combine(s_root, "test", "good");
        var before = lines.Where(l => l.Image.StartsWith("good/", StringComparison.Ordinal)).ToDictionary(l => l.Image[5..], l => l.Result!.Score);
        string updated = Path.Combine(s_root, "out", "updated.zip");
        var update = CliRunner.Run(engine, "update", "--model", s_model, "--train", good, "--out", updated);
        Assert.AreEqual(0, update.Code, update.Err);
        StringAssert.Contains(update.Out, "Added 2 images");
        string goodResults = Path.Combine(s_root, "out", "good.jsonl");
        Assert.AreEqual(0, CliRunner.Run(engine, "score", "--model", updated, "--images", good, "--out", goodResults).Code);
        foreach (var line in File.ReadAllLines(goodResults).Select(ResultLine.Parse))
            Assert.IsLessThan(before[line.Image], line.Result!.Score, $"{line.Image} after the update");
        var twice = CliRunner.Run(engine, "update", "--model", updated, "--train", good, "--out", updated, "--mode", "window");
        Assert.AreEqual(0, twice.Code, twice.Err);
        Assert.AreEqual(0, CliRunner.Run(engine, "score", "--model", updated, "--images", good, "--out", goodResults).Code, "the model replaced in place loads");
        CliRunner.AssertOneLineError(CliRunner.Run(engine, "update", "--model", Path.Combine(s_root, "out", "before-update.jsonl"), "--train", good, "--out", updated),
            "--model could not be loaded");

        // score --watch with the real engine: an image renamed into the folder gets its line.
        string drop = Path.Combine(s_root, "drop");
        Directory.CreateDirectory(drop);
        string watched = Path.Combine(s_root, "out", "watched.jsonl");
        var watch = CliRunner.Start(engine, CancellationToken.None, "score", "--model", s_model, "--watch", drop, "--out", watched, "--max-images", "1");
        watch.WaitForErr("Watching", TimeSpan.FromMinutes(1));
        string first = Directory.GetFiles(good).Order(StringComparer.Ordinal).First();
        File.Copy(first, Path.Combine(drop, "frame.png.tmp"));
        File.Move(Path.Combine(drop, "frame.png.tmp"), Path.Combine(drop, "frame.png"));
        Assert.IsTrue(watch.Task.Wait(TimeSpan.FromMinutes(2)), "the watch did not score the image");
        Assert.AreEqual(0, watch.Task.Result.Code, watch.Task.Result.Err);
        var frame = ResultLine.Parse(File.ReadAllLines(watched).Single());
        Assert.AreEqual("frame.png", frame.Image);
        Assert.AreEqual(before[Path.GetFileName(first)], frame.Result!.Score, 1e-6f, "the same score as rkde score gives");
    }

    [TestMethod]
    public void ScoreAndEvaluateRunOnAnUnseenMvtecFolder()
    {
        var lines = Score("results.jsonl");
        Assert.HasCount(4, lines);
        foreach (var line in lines)
        {
            Assert.IsNotNull(line.Result, line.Error);
            Assert.IsTrue(line.Result.Score is >= 0 and <= 1, $"{line.Image}: {line.Result.Score}");
            Assert.AreEqual(line.Result.Boxes.Count == 0 ? 0 : line.Result.Boxes[0].Score, line.Result.Score, 1e-6f);
            Assert.IsTrue(line.Result.Boxes.Zip(line.Result.Boxes.Skip(1)).All(p => p.First.Score >= p.Second.Score), "boxes highest first");
            Assert.IsTrue(line.Result.Boxes.All(b => b.Box.X1 >= 0 && b.Box.X2 <= 192.01f && b.Box.Y1 >= 0 && b.Box.Y2 <= 128.01f), "boxes in image pixels");
        }
        var info = new Microsoft.ML.MLContext().Model.ReadRkdeModelInfo(s_model);
        foreach (var (line, text) in lines.Zip(File.ReadAllLines(Path.Combine(s_root, "out", "results.jsonl"))))
            StringAssert.Contains(text, $"\"anomalous\":{(line.Result!.Score >= info.Threshold ? "true" : "false")}", "the model's own threshold decides");
        var overridden = Score("override.jsonl", "--threshold", "0");
        Assert.IsTrue(File.ReadAllLines(Path.Combine(s_root, "out", "override.jsonl")).All(l => l.Contains("\"anomalous\":true")));
        Assert.HasCount(4, overridden);

        string report = Path.Combine(s_root, "report");
        var evaluate = CliRunner.Run(new MlNetEngine(), ["evaluate", "--data", s_root, "--model", s_model, "--out", report, .. Small]);
        Assert.AreEqual(0, evaluate.Code, evaluate.Err);
        StringAssert.Contains(evaluate.Out, "Model threshold");
        using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(report, "report.json")));
        var root = json.RootElement;
        Assert.IsTrue(root.GetProperty("imageAuroc").GetDouble() is >= 0 and <= 1);
        Assert.AreEqual(info.Threshold, root.GetProperty("modelThreshold").GetSingle());
        Assert.AreEqual(0.01, root.GetProperty("nominalFalsePositiveRate").GetDouble());
        var good = lines.Where(l => l.Image.StartsWith("good/", StringComparison.Ordinal)).ToList();
        Assert.AreEqual(good.Count(l => l.Result!.Score >= info.Threshold) / (double)good.Count, root.GetProperty("testGoodFalsePositiveRate").GetDouble());
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

        var strict = CliRunner.Run(engine, ["fit", "--train", folder, "--model", Path.Combine(folder, "s.zip"), "--strict", .. Small]);
        CliRunner.AssertOneLineError(strict, "broken.png");
        CliRunner.AssertOneLineError(strict, "Leave out --strict");
        Assert.DoesNotContain("SkipUnreadableImages", strict.Err, "the CLI's fix, not the library option");
        Assert.IsFalse(File.Exists(Path.Combine(folder, "s.zip")));
    }

    [TestMethod]
    public void ExportWritesAnOnnxFileAndBatchedScoringThroughItAgreesWithTheZip()
    {
        string onnx = Path.Combine(s_root, "out", "model.onnx");
        var export = CliRunner.Run(new MlNetEngine(), "export", "--model", s_model, "--out", onnx);
        Assert.AreEqual(0, export.Code, export.Err);
        StringAssert.Contains(export.Out, $"Exported {s_model} to {onnx}");
        using (var session = new Microsoft.ML.OnnxRuntime.InferenceSession(onnx))
            Assert.AreEqual("192x128", session.ModelMetadata.CustomMetadataMap["rkde_input_size"]);
        Assert.AreEqual(0, CliRunner.Run(new MlNetEngine(), "export", "--model", s_model, "--out", onnx + ".b", "--batch").Code);

        var zip = Score("zip.jsonl");
        foreach (int batch in new[] { 1, 3 })
        {
            var exported = Score($"batch{batch}.jsonl", "--batch", batch.ToString(System.Globalization.CultureInfo.InvariantCulture));
            Assert.HasCount(zip.Count, exported);
            for (int i = 0; i < zip.Count; i++)
            {
                Assert.AreEqual(zip[i].Image, exported[i].Image);
                Assert.AreEqual(zip[i].Result!.Score, exported[i].Result!.Score, 1e-5f, $"{zip[i].Image}, batch {batch}");
                Assert.HasCount(zip[i].Result!.Boxes.Count, exported[i].Result!.Boxes, $"{zip[i].Image}, batch {batch}");
                for (int b = 0; b < zip[i].Result!.Boxes.Count; b++)
                {
                    var (x, y) = (zip[i].Result!.Boxes[b], exported[i].Result!.Boxes[b]);
                    Assert.AreEqual(x.Score, y.Score, 1e-5f);
                    Assert.AreEqual(x.Box.X1, y.Box.X1, 0.01f);
                    Assert.AreEqual(x.Box.Y2, y.Box.Y2, 0.01f);
                }
            }
        }
        CliRunner.AssertOneLineError(CliRunner.Run(new MlNetEngine(), "score", "--model", s_model, "--images", s_root, "--out", onnx + ".jsonl", "--batch", "0"),
            "--batch must be at least 1");
    }

    [TestMethod]
    public void ExportOfAFileThatIsNoRkdeModelIsOneLine()
    {
        string folder = TestData.TempFolder();
        string notZip = Path.Combine(folder, "m.zip");
        File.WriteAllText(notZip, "not a zip");
        CliRunner.AssertOneLineError(CliRunner.Run(new MlNetEngine(), "export", "--model", notZip, "--out", Path.Combine(folder, "m.onnx")),
            $"--model could not be loaded: Model '{notZip}' is not a complete model .zip");
        CliRunner.AssertOneLineError(CliRunner.Run(new MlNetEngine(), "export", "--model", Path.Combine(folder, "none.zip"), "--out", Path.Combine(folder, "m.onnx")),
            "does not exist");
        Assert.IsFalse(File.Exists(Path.Combine(folder, "m.onnx")));
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
