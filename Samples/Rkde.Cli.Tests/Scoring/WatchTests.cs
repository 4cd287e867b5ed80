using System.Collections.Concurrent;
using System.Diagnostics;
using Rkde.Cli.Scoring;
using Rkde.MLNet.Density;
using SkiaSharp;

namespace Rkde.Cli.Tests.Scoring;

/// <summary>
/// <c>rkde score --watch</c> on the fake engine: each image that lands is scored once, only when complete (delivered by
/// rename, or written in place and then left alone), its line written at once; --learn-below adds the images scoring below
/// the value every N images and scores on with the learned model.
/// </summary>
[TestClass]
public sealed class WatchTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    /// <summary>A PNG of noise (so that it does not compress to a few bytes), as bytes.</summary>
    private static byte[] Png(int seed)
    {
        var random = new Random(seed);
        using var bitmap = new SKBitmap(120, 80);
        for (int y = 0; y < 80; y++)
        for (int x = 0; x < 120; x++) bitmap.SetPixel(x, y, new SKColor((byte)random.Next(256), (byte)random.Next(256), (byte)random.Next(256)));
        using var data = bitmap.Encode(SKEncodedImageFormat.Png, 100);
        return data.ToArray();
    }

    /// <summary>An engine whose scorer records the size each image had when it was scored, and scores it by name.</summary>
    private sealed class Recorder
    {
        public ConcurrentDictionary<string, long> SizeWhenScored { get; } = new();

        public FakeEngine Engine { get; }

        public Recorder(Func<string, float>? score = null) => Engine = new FakeEngine((path, w, h) =>
        {
            SizeWhenScored[Path.GetFileName(path)] = new FileInfo(path).Length;
            float s = score?.Invoke(Path.GetFileName(path)) ?? 0.3f;
            return new ImageScore(s, [new(new(0, 0, w, h), s)]);
        });
    }

    private static string[] Lines(string results)
    {
        if (!File.Exists(results))
            return [];
        using var reader = new StreamReader(new FileStream(results, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete));
        return reader.ReadToEnd().Split('\n', StringSplitOptions.RemoveEmptyEntries);
    }

    private static string[] WaitForLines(string results, int count, CliRunner.Running running)
    {
        var clock = Stopwatch.StartNew();
        while (Lines(results).Length < count)
        {
            Assert.IsFalse(running.Task.IsCompleted, "the watch ended early: " + running.Err);
            Assert.IsLessThan(Patience, clock.Elapsed, $"waited for {count} lines; have: {string.Join(" | ", Lines(results))}");
            Thread.Sleep(20);
        }
        return Lines(results);
    }

    private static (int Code, string Out, string Err) Stop(CancellationTokenSource stop, CliRunner.Running running)
    {
        stop.Cancel();
        Assert.IsTrue(running.Task.Wait(Patience), "the watch did not stop");
        return running.Task.Result;
    }

    private static (string Folder, string Drop, string Model, string Results) Setup()
    {
        string folder = TestData.TempFolder();
        string drop = Path.Combine(folder, "drop");
        Directory.CreateDirectory(drop);
        string model = Path.Combine(folder, "m.zip");
        File.WriteAllLines(model, ["fitted"]);
        return (folder, drop, model, Path.Combine(folder, "results.jsonl"));
    }

    [TestMethod]
    public void AnImageRenamedIntoPlaceIsScoredOnceWhenComplete()
    {
        var (_, drop, model, results) = Setup();
        File.WriteAllBytes(Path.Combine(drop, "old.png"), Png(1));
        var recorder = new Recorder();
        using var stop = new CancellationTokenSource();
        var running = CliRunner.Start(recorder.Engine, stop.Token, "score", "--model", model, "--watch", drop, "--out", results, "--settle-ms", "150");
        running.WaitForErr("Watching", Patience); // the watch has listed the folder

        byte[] a = Png(2);
        string part = Path.Combine(drop, "a.png.part");
        using (var file = File.Create(part))
        {
            file.Write(a.AsSpan(0, a.Length / 2));
            file.Flush();
            Thread.Sleep(400); // a slow writer: longer than the settle time
            file.Write(a.AsSpan(a.Length / 2));
        }
        File.WriteAllBytes(Path.Combine(drop, ".hidden.png"), Png(3));
        File.Move(part, Path.Combine(drop, "a.png"));
        Directory.CreateDirectory(Path.Combine(drop, "sub"));
        File.WriteAllBytes(Path.Combine(drop, "sub", "b.tmp"), Png(4));
        File.Move(Path.Combine(drop, "sub", "b.tmp"), Path.Combine(drop, "sub", "b.png"));

        var lines = WaitForLines(results, 2, running).Select(ResultLine.Parse).ToArray();
        var r = Stop(stop, running);
        Assert.AreEqual(0, r.Code, r.Err);
        CollectionAssert.AreEqual(new[] { "a.png", "sub/b.png" }, lines.Select(l => l.Image).ToArray());
        Assert.IsTrue(lines.All(l => l.Error is null), string.Join(" | ", lines.Select(l => l.Error)));
        Assert.AreEqual(a.Length, recorder.SizeWhenScored["a.png"], "scored complete");
        Assert.HasCount(2, Lines(results), "old.png, .hidden.png and the .part/.tmp names are not scored");
        StringAssert.Contains(r.Out, "Scored 2 of 2 images that landed in");
    }

    [TestMethod]
    public void AnImageWrittenInPlaceIsScoredOnlyWhenItHasStoppedChanging()
    {
        var (_, drop, model, results) = Setup();
        var recorder = new Recorder();
        using var stop = new CancellationTokenSource();
        var running = CliRunner.Start(recorder.Engine, stop.Token, "score", "--model", model, "--watch", drop, "--out", results, "--settle-ms", "150");
        running.WaitForErr("Watching", Patience);

        byte[] c = Png(5);
        using (var file = new FileStream(Path.Combine(drop, "c.png"), FileMode.CreateNew, FileAccess.Write, FileShare.ReadWrite))
        {
            file.Write(c.AsSpan(0, c.Length / 3));
            file.Flush();
            Thread.Sleep(500); // the half-written file sits still for longer than the settle time
            file.Write(c.AsSpan(c.Length / 3));
        }

        var lines = WaitForLines(results, 1, running);
        Thread.Sleep(500); // no second line for the same file
        var r = Stop(stop, running);
        Assert.AreEqual(0, r.Code, r.Err);
        Assert.HasCount(1, Lines(results));
        var line = ResultLine.Parse(lines[0]);
        Assert.AreEqual("c.png", line.Image);
        Assert.IsNull(line.Error, line.Error);
        Assert.AreEqual(c.Length, recorder.SizeWhenScored["c.png"], "scored complete");
    }

    [TestMethod]
    public void LearnBelowAddsTheLowScoringImagesEveryNImagesAndScoresOnWithTheLearnedModel()
    {
        var (folder, drop, model, results) = Setup();
        var recorder = new Recorder(name => name.StartsWith("odd", StringComparison.Ordinal) ? 0.9f : 0.1f);
        string learned = Path.Combine(folder, "learned.zip");
        using var stop = new CancellationTokenSource();
        var running = CliRunner.Start(recorder.Engine, stop.Token, "score", "--model", model, "--watch", drop, "--out", results,
            "--learn-below", "0.5", "--learn-every", "2", "--learned-model", learned, "--learn-mode", "window");
        running.WaitForErr("Watching", Patience);
        string[] names = ["n1.png", "odd1.png", "n2.png", "n3.png", "n4.png"];
        for (int i = 0; i < names.Length; i++)
        {
            File.WriteAllBytes(Path.Combine(drop, names[i] + ".tmp"), Png(10 + i));
            File.Move(Path.Combine(drop, names[i] + ".tmp"), Path.Combine(drop, names[i]));
            WaitForLines(results, i + 1, running);
        }
        var r = Stop(stop, running);
        Assert.AreEqual(0, r.Code, r.Err);

        var updates = recorder.Engine.Updates;
        Assert.HasCount(3, updates, r.Err);
        Assert.AreEqual((model, learned), (updates[0].Model, updates[0].Out));
        CollectionAssert.AreEqual(new[] { "n1.png" }, updates[0].Images.Select(Path.GetFileName).ToArray());
        CollectionAssert.AreEqual(new[] { "n2.png", "n3.png" }, updates[1].Images.Select(Path.GetFileName).ToArray());
        CollectionAssert.AreEqual(new[] { "n4.png" }, updates[2].Images.Select(Path.GetFileName).ToArray(), "what is left is learned when the watch stops");
        Assert.IsTrue(updates.All(u => u.Settings.Sampling == UpdateSampling.Window && u.Out == learned));
        Assert.AreEqual(learned, updates[1].Model);
        CollectionAssert.AreEqual(new[] { model, learned, learned }, recorder.Engine.Loaded, "reloaded after each update while watching");
        StringAssert.Contains(r.Err, $"rkde: learned 1 images scoring below 0.5");
        StringAssert.Contains(r.Out, $"4 images learned into {learned}");
        CollectionAssert.AreEqual(new[] { "fitted", Path.Combine(drop, "n1.png"), Path.Combine(drop, "n2.png"), Path.Combine(drop, "n3.png"), Path.Combine(drop, "n4.png") },
            File.ReadAllLines(learned));
    }

    [TestMethod]
    public void BadWatchArgumentsEndWithOneLine()
    {
        var (_, drop, model, results) = Setup();
        CliRunner.AssertOneLineError(CliRunner.Run("score", "--model", model, "--out", results), "give either --images DIR");
        CliRunner.AssertOneLineError(CliRunner.Run("score", "--model", model, "--images", drop, "--watch", drop, "--out", results), "give either --images DIR");
        CliRunner.AssertOneLineError(CliRunner.Run("score", "--model", model, "--watch", "/no/dir", "--out", results), "--watch: folder '/no/dir' does not exist");
        File.WriteAllBytes(Path.Combine(drop, "a.png"), Png(1));
        CliRunner.AssertOneLineError(CliRunner.Run("score", "--model", model, "--images", drop, "--out", results, "--learn-below", "0.2"), "use it with --watch");
        CliRunner.AssertOneLineError(CliRunner.Run("score", "--model", model, "--watch", drop, "--out", results, "--learn-below", "2"), "--learn-below must be in (0, 1]");
        CliRunner.AssertOneLineError(CliRunner.Run("score", "--model", model, "--watch", drop, "--out", results, "--max-images", "0"), "--max-images at least 1");
    }

    [TestMethod]
    public void MaxImagesEndsTheWatch()
    {
        var (_, drop, model, results) = Setup();
        var running = CliRunner.Start(new Recorder().Engine, CancellationToken.None, "score", "--model", model, "--watch", drop, "--out", results, "--max-images", "1");
        running.WaitForErr("Watching", Patience);
        File.WriteAllBytes(Path.Combine(drop, "x.tmp"), Png(7));
        File.Move(Path.Combine(drop, "x.tmp"), Path.Combine(drop, "x.png"));
        Assert.IsTrue(running.Task.Wait(Patience), "the watch did not end after one image");
        Assert.AreEqual(0, running.Task.Result.Code, running.Task.Result.Err);
        Assert.HasCount(1, Lines(results));
    }
}
