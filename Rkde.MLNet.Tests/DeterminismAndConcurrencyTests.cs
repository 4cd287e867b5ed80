using System.IO.Compression;
using Microsoft.ML;

namespace Rkde.MLNet.Tests;

/// <summary>
/// The same data and seed give the same saved model, byte for byte in every zip entry, and the same scores; eight
/// threads, each with its own PredictionEngine over one loaded model, give exactly the sequential results.
/// (Microsoft.Extensions.ML's PredictionEnginePool is not on this project's package feed; it pools the same engines.)
/// The engines are created with OwnsTransformer = false: by default disposing an engine disposes the model
/// (dotnet/machinelearning#5945), and the engines still scoring on other threads then crash the process in native
/// code (seen here: "free(): invalid size").
/// </summary>
[TestClass]
public sealed class DeterminismAndConcurrencyTests
{
    private static TestImages s_images = null!;
    private static string s_model = "";
    private static ImageInput[] s_test = [];

    [ClassInitialize]
    public static void FitAndSave(TestContext context)
    {
        s_images = new TestImages();
        s_model = Path.Combine(s_images.Folder, "first.zip");
        DefaultFit.FitAndSave(s_images, s_model);
        s_test = Enumerable.Range(0, 8)
            .Select(i => new ImageInput { ImagePath = Path.Combine(s_images.Folder, s_images.Noise($"test{i}.png", 96 + 8 * i, 64, seed: 100 + i, r: (byte)(30 * i), spread: 60)) })
            .ToArray();
    }

    [ClassCleanup]
    public static void Cleanup() => s_images?.Dispose();

    private static Dictionary<string, byte[]> Entries(string zipPath)
    {
        using var zip = ZipFile.OpenRead(zipPath);
        return zip.Entries.ToDictionary(e => e.FullName, e =>
        {
            using var stream = e.Open();
            var bytes = new MemoryStream();
            stream.CopyTo(bytes);
            return bytes.ToArray();
        });
    }

    private static RkdePrediction[] ScoreSequentially(string modelPath)
    {
        var ml = new MLContext();
        using var engine = ml.Model.CreatePredictionEngine<ImageInput, RkdePrediction>(ml.Model.Load(modelPath, out _));
        return s_test.Select(engine.Predict).ToArray();
    }

    private static void AssertIdentical(RkdePrediction[] expected, RkdePrediction[] actual, string what)
    {
        Assert.HasCount(expected.Length, actual);
        for (int i = 0; i < expected.Length; i++)
        {
            CollectionAssert.AreEqual(expected[i].Boxes, actual[i].Boxes, $"{what}, image {i}");
            CollectionAssert.AreEqual(expected[i].BoxScores, actual[i].BoxScores, $"{what}, image {i}");
            Assert.AreEqual(expected[i].Score, actual[i].Score, $"{what}, image {i}");
        }
    }

    [TestMethod]
    public void SameDataAndSeedGiveTheSameModelBytesAndScores()
    {
        string second = Path.Combine(s_images.Folder, "second.zip");
        DefaultFit.FitAndSave(s_images, second);
        var a = Entries(s_model);
        var b = Entries(second);
        CollectionAssert.AreEquivalent(a.Keys.ToArray(), b.Keys.ToArray());
        Assert.IsTrue(a.Keys.Any(k => k.EndsWith("/OnnxModel")), "the graphs are among the compared entries");
        foreach (var (name, bytes) in a)
            CollectionAssert.AreEqual(bytes, b[name], name);

        var first = ScoreSequentially(s_model);
        Assert.IsTrue(first.All(p => p.BoxCount > 0), "every test image has boxes, so the comparison covers box scores");
        AssertIdentical(first, ScoreSequentially(second), "second fit");
        AssertIdentical(first, ScoreSequentially(s_model), "second run");
    }

    [TestMethod]
    public void EightThreadsWithAnEngineEachGiveExactlyTheSequentialResults()
    {
        var expected = ScoreSequentially(s_model);
        var ml = new MLContext();
        var model = ml.Model.Load(s_model, out _);
        const int threads = 8;
        var results = new RkdePrediction[threads][];
        using var start = new Barrier(threads);
        // LongRunning: a thread each, so all eight reach the barrier on two cores; a failed assertion fails its task.
        var workers = Enumerable.Range(0, threads).Select(t => Task.Factory.StartNew(() =>
        {
            using var engine = ml.Model.CreatePredictionEngine<ImageInput, RkdePrediction>(model, new PredictionEngineOptions { OwnsTransformer = false });
            var mine = new RkdePrediction[s_test.Length];
            start.SignalAndWait();
            // Two to four rounds: threads finish (and dispose their engine) while others still score.
            for (int round = 0; round < 2 + t % 3; round++)
            {
                // Each thread walks the images from its own starting point, so different images are in flight together.
                for (int k = 0; k < s_test.Length; k++)
                {
                    int i = (t + k) % s_test.Length;
                    var p = engine.Predict(s_test[i]);
                    if (round == 0)
                        mine[i] = p;
                    else
                        AssertIdentical([mine[i]], [p], $"thread {t}, round {round}");
                }
            }
            results[t] = mine;
        }, TaskCreationOptions.LongRunning)).ToArray();
        Task.WaitAll(workers);
        for (int t = 0; t < threads; t++)
            AssertIdentical(expected, results[t], $"thread {t}");
    }
}
