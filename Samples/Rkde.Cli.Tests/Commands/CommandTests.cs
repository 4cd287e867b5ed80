using System.Text.Json;
using Rkde.Cli.Scenes;
using Rkde.Cli.Scoring;
using Rkde.Cli.Evaluate.Metrics;
using SkiaSharp;

namespace Rkde.Cli.Tests.Commands;

[TestClass]
public sealed class CommandTests
{
    private static string _scenes = "";

    [ClassInitialize]
    public static void MakeScenes(TestContext _)
    {
        _scenes = TestData.TempFolder();
        var r = CliRunner.Run("make-scenes", "--out", _scenes, "--fashion-mnist", TestData.FakeFashionMnist(), "--background", "plain",
            "--train", "6", "--test-good", "6", "--test-anomalous", "6", "--width", "160", "--height", "120", "--item-size", "32-48");
        Assert.AreEqual(0, r.Code, r.Err);
    }

    /// <summary>Scores each scene by its true items: anomalous items 0.9 (or <paramref name="anomalyScore"/>), normal items 0.2.</summary>
    private static FakeEngine Oracle(float anomalyScore = 0.9f)
    {
        var truth = SceneBoxes.Load(Path.Combine(_scenes, "boxes.json")).Images.ToDictionary(i => i.Image);
        return new FakeEngine((path, _, _) =>
        {
            var image = truth[Path.GetRelativePath(_scenes, path).Replace('\\', '/')];
            var boxes = image.Objects
                .Select(o => new Detection(new BoundingBox(o.Box[0], o.Box[1], o.Box[2], o.Box[3]), o.Anomalous ? anomalyScore : 0.2f))
                .OrderByDescending(d => d.Score).ToList();
            return new ImageScore(boxes.Max(b => b.Score), boxes);
        });
    }

    [TestMethod]
    public void HelpWorksOnEveryCommand()
    {
        foreach (string command in new[] { "fit", "update", "score", "evaluate", "export", "make-scenes" })
        {
            var r = CliRunner.Run(command, "--help");
            Assert.AreEqual(0, r.Code, command);
            StringAssert.Contains(r.Out, "--", command);
        }
        StringAssert.Contains(CliRunner.Run("--help").Out, "make-scenes");
    }

    [TestMethod]
    public void FitUsesTrainGoodOfAnMvtecRootAndSavesTheModel()
    {
        var engine = FakeEngine.Constant(0.5f);
        string model = Path.Combine(TestData.TempFolder(), "m", "model.zip");
        var r = CliRunner.Run(engine, "fit", "--train", _scenes, "--model", model, "--pca-components", "8");
        Assert.AreEqual(0, r.Code, r.Err);
        Assert.HasCount(6, engine.FittedOn);
        Assert.IsTrue(engine.FittedOn.All(f => f.Contains(Path.Combine("train", "good"))));
        Assert.IsTrue(File.Exists(model));
        StringAssert.Contains(r.Out, "Fitted on 6 images");
    }

    /// <summary>
    /// fit leaves the checking of training images to the engine (which decodes each once): every file goes to it, with
    /// skipping on, or off under --strict. MlNetEngineTests shows the warnings and the --strict error of the real engine.
    /// </summary>
    [TestMethod]
    public void FitHandsEveryImageToTheEngineWhichSkipsUnreadableOnesUnlessStrict()
    {
        string folder = TestData.TempFolder();
        TestData.WritePng(Path.Combine(folder, "a.png"), 40, 30, SKColors.Gray);
        File.WriteAllText(Path.Combine(folder, "b.png"), "not an image");
        var engine = FakeEngine.Constant(0.5f);
        var r = CliRunner.Run(engine, "fit", "--train", folder, "--model", Path.Combine(folder, "m.zip"));
        Assert.AreEqual(0, r.Code, r.Err);
        Assert.HasCount(2, engine.FittedOn);
        Assert.IsTrue(engine.Settings?.SkipUnreadableImages);
        var strict = new FakeEngine((_, _, _) => new ImageScore(0, []));
        Assert.AreEqual(0, CliRunner.Run(strict, "fit", "--train", folder, "--model", Path.Combine(folder, "m.zip"), "--strict").Code);
        Assert.IsFalse(strict.Settings?.SkipUnreadableImages);
    }

    [TestMethod]
    public void ScoreWritesOneLinePerImageRecursivelyAndGoesOnAfterABadImage()
    {
        string folder = TestData.TempFolder();
        TestData.WritePng(Path.Combine(folder, "a.png"), 40, 30, SKColors.Gray);
        TestData.WritePng(Path.Combine(folder, "sub", "c.png"), 80, 60, SKColors.Gray);
        File.WriteAllText(Path.Combine(folder, "b.png"), "not an image");
        File.WriteAllBytes(Path.Combine(folder, "empty.jpg"), []);
        File.WriteAllText(Path.Combine(folder, "notes.txt"), "ignored");
        byte[] png = File.ReadAllBytes(Path.Combine(folder, "sub", "c.png"));
        File.WriteAllBytes(Path.Combine(folder, "sub", "d.png"), png[..(png.Length * 2 / 3)]);
        string model = Path.Combine(folder, "model.zip");
        File.WriteAllText(model, "");
        string results = Path.Combine(folder, "out", "results.jsonl");
        string overlays = Path.Combine(folder, "overlays");

        var r = CliRunner.Run(FakeEngine.Constant(0.7f), "score", "--model", model, "--images", folder, "--out", results, "--overlays", overlays, "--threshold", "0.6");
        Assert.AreEqual(0, r.Code, r.Err);
        string[] lines = File.ReadAllLines(results);
        CollectionAssert.AreEqual(new[] { "a.png", "b.png", "empty.jpg", "sub/c.png", "sub/d.png" }, lines.Select(l => ResultLine.Parse(l).Image).ToArray());
        var c = ResultLine.Parse(lines[3]);
        Assert.AreEqual(0.7f, c.Result!.Score);
        Assert.AreEqual(new BoundingBox(1, 2, 40, 30), c.Result.Boxes[0].Box); // the original image's pixels
        StringAssert.Contains(lines[0], "\"anomalous\":true");
        StringAssert.Contains(ResultLine.Parse(lines[1]).Error, "b.png' is not an image in a format SkiaSharp decodes");
        StringAssert.Contains(ResultLine.Parse(lines[4]).Error, "d.png' is truncated");
        StringAssert.Contains(ResultLine.Parse(lines[2]).Error, "empty.jpg' is an empty file (0 bytes)");
        Assert.IsTrue(File.Exists(Path.Combine(overlays, "sub", "c.png")));
        using var overlay = SKBitmap.Decode(Path.Combine(overlays, "a.png"));
        Assert.AreEqual(40, overlay.Width);
        StringAssert.Contains(r.Out, "Scored 2 of 5 images");
        StringAssert.Contains(r.Err, "3 image(s) could not be scored");
    }

    [TestMethod]
    public void ScoreInBatchesKeepsTheOrderAndPutsAFailureOnItsOwnLine()
    {
        string folder = TestData.TempFolder();
        foreach (var name in new[] { "a.png", "b.png", "c.png", "d.png", "e.png" })
            TestData.WritePng(Path.Combine(folder, name), 40, 30, SKColors.Gray);
        File.WriteAllText(Path.Combine(folder, "f.png"), "not an image");
        File.WriteAllText(Path.Combine(folder, "m.zip"), "");
        var engine = new FakeEngine((path, w, h) => path.EndsWith("b.png") ? throw new InvalidOperationException("model exploded")
            : new ImageScore(path.EndsWith("e.png") ? 0.9f : 0.1f, []));
        var r = CliRunner.Run(engine, "score", "--model", Path.Combine(folder, "m.zip"), "--images", folder, "--out", Path.Combine(folder, "r.jsonl"), "--batch", "3");
        Assert.AreEqual(0, r.Code, r.Err);
        var lines = File.ReadAllLines(Path.Combine(folder, "r.jsonl")).Select(ResultLine.Parse).ToList();
        CollectionAssert.AreEqual(new[] { "a.png", "b.png", "c.png", "d.png", "e.png", "f.png" }, lines.Select(l => l.Image).ToArray());
        Assert.AreEqual("model exploded", lines[1].Error, "the failed batch is scored image by image");
        Assert.AreEqual(0.1f, lines[0].Result!.Score);
        Assert.AreEqual(0.1f, lines[2].Result!.Score);
        Assert.AreEqual(0.9f, lines[4].Result!.Score);
        StringAssert.Contains(lines[5].Error, "not an image");
        CollectionAssert.AreEqual(new[] { 3, 2 }, engine.BatchCalls, "a, b, c in one call (it fails), then d and e (f is unreadable)");
    }

    [TestMethod]
    public void ScoreReportsAScorerFailureInTheImagesLine()
    {
        string folder = TestData.TempFolder();
        TestData.WritePng(Path.Combine(folder, "a.png"), 40, 30, SKColors.Gray);
        TestData.WritePng(Path.Combine(folder, "b.png"), 40, 30, SKColors.Gray);
        File.WriteAllText(Path.Combine(folder, "m.zip"), "");
        var engine = new FakeEngine((path, w, h) => path.EndsWith("a.png") ? throw new InvalidOperationException("model exploded\n  at somewhere") : new ImageScore(0.1f, []));
        var r = CliRunner.Run(engine, "score", "--model", Path.Combine(folder, "m.zip"), "--images", folder, "--out", Path.Combine(folder, "r.jsonl"));
        Assert.AreEqual(0, r.Code);
        string[] lines = File.ReadAllLines(Path.Combine(folder, "r.jsonl"));
        Assert.AreEqual("model exploded   at somewhere", ResultLine.Parse(lines[0]).Error);
        Assert.AreEqual("""{"image":"b.png","score":0.1,"boxes":[]}""", lines[1]);
    }

    [TestMethod]
    public void BadArgumentsAndInputsEndWithOneLine()
    {
        string folder = TestData.TempFolder();
        CliRunner.AssertOneLineError(CliRunner.Run("fit", "--model", "m.zip"), "--train");
        CliRunner.AssertOneLineError(CliRunner.Run("fit", "--train", "/nonexistent/dir", "--model", "m.zip"), "'/nonexistent/dir' does not exist");
        CliRunner.AssertOneLineError(CliRunner.Run("fit", "--train", folder, "--model", "m.zip"), "no images");
        CliRunner.AssertOneLineError(CliRunner.Run("fit", "--train", _scenes, "--model", "m.zip", "--stage", "yolo"), "yolo");
        CliRunner.AssertOneLineError(CliRunner.Run("fit", "--train", _scenes, "--model", "m.zip", "--pca-components", "many"), "many");
        CliRunner.AssertOneLineError(CliRunner.Run("fit", "--train", _scenes, "--model", "m.zip", "--proposer", "/no/p.onnx"), "--proposer");
        CliRunner.AssertOneLineError(CliRunner.Run("score", "--model", "/no/model.zip", "--images", _scenes, "--out", Path.Combine(folder, "r.jsonl")), "--model '/no/model.zip' does not exist");
        CliRunner.AssertOneLineError(CliRunner.Run("evaluate", "--data", folder, "--out", Path.Combine(folder, "rep")), "no test/ folder");
        CliRunner.AssertOneLineError(CliRunner.Run("evaluate", "--data", _scenes, "--model", "/no/m.zip", "--out", Path.Combine(folder, "rep")), "does not exist");
        CliRunner.AssertOneLineError(CliRunner.Run("frobnicate"), "frobnicate");
        CliRunner.AssertOneLineError(CliRunner.Run(new ThrowingEngine(), "fit", "--train", _scenes, "--model", Path.Combine(folder, "m.zip")), "too few regions");
    }

    private sealed class ThrowingEngine : IRkdeEngine
    {
        public int Fit(IReadOnlyList<string> images, FitSettings settings, string modelPath, IProgress<string> progress) =>
            throw new InvalidOperationException("Fit found too few regions: 3 < 16 PCA components.\nUse more images.");
        public IImageScorer Load(string modelPath) => throw new NotSupportedException();
        public UpdateSummary Update(string modelPath, IReadOnlyList<string> images, UpdateSettings settings, string outPath, IProgress<string> progress) =>
            throw new NotSupportedException();
    }

    [TestMethod]
    public void EvaluateWithPerfectBoxesReportsPerfectMetrics()
    {
        string report = Path.Combine(TestData.TempFolder(), "report");
        var r = CliRunner.Run(Oracle(), "evaluate", "--data", _scenes, "--out", report);
        Assert.AreEqual(0, r.Code, r.Err);
        using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(report, "report.json")));
        var root = json.RootElement;
        Assert.AreEqual(1.0, root.GetProperty("imageAuroc").GetDouble(), 1e-12);
        Assert.AreEqual(1.0, root.GetProperty("boxApIou30").GetDouble(), 1e-12);
        Assert.AreEqual(1.0, root.GetProperty("boxApIou50").GetDouble(), 1e-12);
        // Box maps cover the items' whole boxes, so background pixels inside anomalous boxes rank with the anomaly.
        Assert.IsGreaterThan(0.95, root.GetProperty("pixelAuroc").GetDouble());
        Assert.AreEqual("boxes.json", root.GetProperty("groundTruthBoxes").GetString());
        Assert.AreEqual(1.0, root.GetProperty("anomalousItemRecallIou50").GetDouble(), 1e-12);
        Assert.AreEqual(1.0, root.GetProperty("itemRecallIou50").GetDouble(), 1e-12);
        Assert.AreEqual(6, root.GetProperty("trainImages").GetInt32());
        Assert.AreEqual(0.9f, root.GetProperty("f1OptimalThreshold").GetProperty("threshold").GetSingle());
        Assert.AreEqual(0.2f, root.GetProperty("trainPercentile99Threshold").GetSingle());
        Assert.IsTrue(File.Exists(Path.Combine(report, "roc.png")));
        Assert.IsTrue(File.Exists(Path.Combine(report, "model.zip")));
        Assert.HasCount(12, File.ReadAllLines(Path.Combine(report, "results.jsonl")));
        Assert.HasCount(12, Directory.GetFiles(Path.Combine(report, "overlays"), "*.png", SearchOption.AllDirectories));
        StringAssert.Contains(r.Out, "Image AUROC");
        StringAssert.Contains(r.Out, "1.000");
    }

    [TestMethod]
    public void EvaluateBootstrapsIntervalsAndMetricsOnlySkipsTheExtras()
    {
        // Scores that rank one normal scene above every anomalous one: AUROC 1 − 1/6 · 1/6 … an interval of some width.
        var truth = SceneBoxes.Load(Path.Combine(_scenes, "boxes.json")).Images.ToDictionary(i => i.Image);
        var engine = new FakeEngine((path, _, _) =>
        {
            string image = Path.GetRelativePath(_scenes, path).Replace('\\', '/');
            var objects = truth[image].Objects;
            var boxes = objects.Select((o, k) => new Detection(new BoundingBox(o.Box[0], o.Box[1], o.Box[2], o.Box[3]),
                o.Anomalous ? 0.5f + 0.05f * k : image.EndsWith("good/000.png") ? 0.95f : 0.1f + 0.01f * k)).OrderByDescending(d => d.Score).ToList();
            return new ImageScore(boxes.Max(b => b.Score), boxes);
        });
        string report = Path.Combine(TestData.TempFolder(), "report");
        var r = CliRunner.Run(engine, "evaluate", "--data", _scenes, "--out", report, "--bootstrap", "300", "--metrics-only");
        Assert.AreEqual(0, r.Code, r.Err);
        using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(report, "report.json")));
        var root = json.RootElement;
        double auroc = root.GetProperty("imageAuroc").GetDouble();
        Assert.AreEqual(1 - 1.0 / 6, auroc, 1e-12);
        var intervals = root.GetProperty("intervals");
        Assert.AreEqual(300, intervals.GetProperty("replicates").GetInt32());
        foreach (var (metric, estimate) in new[] { ("imageAuroc", auroc), ("boxApIou30", root.GetProperty("boxApIou30").GetDouble()), ("pixelAuroc", root.GetProperty("pixelAuroc").GetDouble()) })
        {
            double low = intervals.GetProperty(metric)[0].GetDouble(), high = intervals.GetProperty(metric)[1].GetDouble();
            Assert.IsTrue(low <= estimate && estimate <= high && low < high, $"{metric}: {estimate} outside [{low}, {high}]");
        }
        using var replicates = JsonDocument.Parse(File.ReadAllText(Path.Combine(report, "bootstrap.json")));
        Assert.AreEqual(300, replicates.RootElement.GetProperty("imageAuroc").GetArrayLength());
        Assert.AreEqual(300, replicates.RootElement.GetProperty("pixelAuroc").GetArrayLength());
        StringAssert.Contains(r.Out, "bootstrap interval");

        Assert.IsFalse(Directory.Exists(Path.Combine(report, "overlays")));
        Assert.IsFalse(File.Exists(Path.Combine(report, "roc.png")));
        Assert.AreEqual(JsonValueKind.Null, root.GetProperty("trainPercentile99Threshold").ValueKind);
        CliRunner.AssertOneLineError(CliRunner.Run(engine, "evaluate", "--data", _scenes, "--out", report, "--bootstrap", "-1"), "--bootstrap -1");
    }

    [TestMethod]
    public void EvaluateFindsBoxesFromMasksWithoutBoxesJson()
    {
        // Copy the data set without boxes.json: ground-truth boxes become the masks' connected regions.
        string copy = CopyScenes(withBoxesJson: false);
        string model = Path.Combine(copy, "m.zip");
        File.WriteAllText(model, "");
        string report = Path.Combine(copy, "report");
        var r = CliRunner.Run(OracleOn(copy), "evaluate", "--data", copy, "--model", model, "--out", report);
        Assert.AreEqual(0, r.Code, r.Err);
        using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(report, "report.json")));
        Assert.AreEqual("mask regions", json.RootElement.GetProperty("groundTruthBoxes").GetString());
        Assert.IsGreaterThan(0.9, json.RootElement.GetProperty("boxApIou50").GetDouble());
        Assert.AreEqual(JsonValueKind.Null, json.RootElement.GetProperty("trainPercentile99Threshold").ValueKind);
        Assert.AreEqual(JsonValueKind.Null, json.RootElement.GetProperty("itemRecallIou50").ValueKind);
    }

    [TestMethod]
    public void EvaluateReportsUnreadableTestImagesAndGoesOn()
    {
        string copy = CopyScenes(withBoxesJson: true);
        File.WriteAllText(Path.Combine(copy, "test", "good", "broken.png"), "not an image");
        byte[] png = File.ReadAllBytes(Directory.GetFiles(Path.Combine(copy, "test", "good"), "*.png").Order(StringComparer.Ordinal).First());
        File.WriteAllBytes(Path.Combine(copy, "test", "good", "cut.png"), png[..(png.Length / 2)]);
        string model = Path.Combine(copy, "m.zip");
        File.WriteAllText(model, "");
        string report = Path.Combine(copy, "report");

        var r = CliRunner.Run(OracleOn(copy), "evaluate", "--data", copy, "--model", model, "--out", report);
        Assert.AreEqual(0, r.Code, r.Err);
        var lines = File.ReadAllLines(Path.Combine(report, "results.jsonl")).Select(ResultLine.Parse).ToList();
        Assert.HasCount(14, lines);
        StringAssert.Contains(lines.Single(l => l.Image == "good/broken.png").Error, "is not an image in a format SkiaSharp decodes");
        StringAssert.Contains(lines.Single(l => l.Image == "good/cut.png").Error, "is truncated");
        Assert.AreEqual(12, lines.Count(l => l.Result is not null));
        using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(report, "report.json")));
        Assert.AreEqual(2, json.RootElement.GetProperty("failedImages").GetInt32());
        Assert.AreEqual(1.0, json.RootElement.GetProperty("imageAuroc").GetDouble(), 1e-12);
        StringAssert.Contains(r.Out, "Test images that failed to score");
    }

    /// <summary>A copy of the scenes folder, with or without boxes.json.</summary>
    private static string CopyScenes(bool withBoxesJson)
    {
        string copy = TestData.TempFolder();
        foreach (string f in Directory.GetFiles(_scenes, "*", SearchOption.AllDirectories).Where(f => withBoxesJson || !f.EndsWith("boxes.json")))
        {
            string target = Path.Combine(copy, Path.GetRelativePath(_scenes, f));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(f, target);
        }
        return copy;
    }

    /// <summary>Scores the images of a copy of the scenes folder by their true items: anomalous 0.9, normal 0.2.</summary>
    private static FakeEngine OracleOn(string copy)
    {
        var truth = SceneBoxes.Load(Path.Combine(_scenes, "boxes.json")).Images.ToDictionary(i => i.Image);
        return new FakeEngine((path, _, _) =>
        {
            var image = truth[Path.GetRelativePath(copy, path).Replace('\\', '/')];
            var boxes = image.Objects.Select(o => new Detection(new BoundingBox(o.Box[0], o.Box[1], o.Box[2], o.Box[3]), o.Anomalous ? 0.9f : 0.2f)).ToList();
            return new ImageScore(boxes.Max(b => b.Score), boxes);
        });
    }
}
