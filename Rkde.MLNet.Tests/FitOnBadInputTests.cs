using Microsoft.ML;
using SkiaSharp;

namespace Rkde.MLNet.Tests;

/// <summary>
/// Fit on bad training input (tiny ONNX models, so each fit takes a moment): unreadable images are skipped with a
/// warning or stop the fit; no regions, too few regions and non-finite features fail with the counts.
/// </summary>
[TestClass]
public sealed class FitOnBadInputTests
{
    private static TestImages s_images = null!;
    private static ImageInput[] s_good = [];
    private static ImageInput[] s_test = [];

    [ClassInitialize]
    public static void WriteImages(TestContext _)
    {
        s_images = new TestImages();
        s_good = Enumerable.Range(0, 8).Select(i => new ImageInput { ImagePath = s_images.Noise($"train{i}.png", 40, 30, seed: i) }).ToArray();
        s_test = Enumerable.Range(0, 3).Select(i => new ImageInput { ImagePath = s_images.Noise($"test{i}.png", 40, 30, seed: 50 + i, r: (byte)(60 * i)) }).ToArray();
        File.WriteAllText(Path.Combine(s_images.Folder, "text.png"), "not an image");
        byte[] png = File.ReadAllBytes(Path.Combine(s_images.Folder, "train0.png"));
        File.WriteAllBytes(Path.Combine(s_images.Folder, "half.png"), png[..(png.Length / 2)]);
    }

    [ClassCleanup]
    public static void Cleanup() => s_images?.Dispose();

    private static readonly ImageInput[] Bad = [new() { ImagePath = "missing.png" }, new() { ImagePath = "text.png" }, new() { ImagePath = "half.png" }];

    private static RkdePrediction[] Score(ITransformer model)
    {
        var ml = new MLContext();
        return ml.Data.CreateEnumerable<RkdePrediction>(model.Transform(ml.Data.LoadFromEnumerable(s_test)), reuseRowObject: false).ToArray();
    }

    [TestMethod]
    public void UnreadableTrainingImagesAreSkippedWithAWarningAndLeaveTheModelAsWithoutThem()
    {
        var ml = new MLContext(seed: 1);
        var messages = new List<string>();
        var options = RkdeAnomalyTests.Options(s_images.Folder);
        options.Progress = new SynchronousProgress(messages.Add);
        ImageInput[] mixed = [s_good[0], Bad[0], .. s_good[1..5], Bad[1], Bad[2], .. s_good[5..]];
        var withBad = ml.Transforms.RkdeAnomaly(options).Fit(ml.Data.LoadFromEnumerable(mixed));

        string log = string.Join("\n", messages);
        StringAssert.Contains(log, $"skipping training image at row 1: Image '{Path.Combine(s_images.Folder, "missing.png")}' does not exist");
        StringAssert.Contains(log, "row 6: '" + Path.Combine(s_images.Folder, "text.png") + "' is not an image");
        StringAssert.Contains(log, $"row 7: Image '{Path.Combine(s_images.Folder, "half.png")}' is truncated");
        StringAssert.Contains(log, "fitting on 8 of 11 training images; 3 skipped");
        StringAssert.Contains(log, "regions from 8 images");

        var clean = new MLContext(seed: 1).Transforms.RkdeAnomaly(RkdeAnomalyTests.Options(s_images.Folder)).Fit(new MLContext().Data.LoadFromEnumerable(s_good));
        var expected = Score(clean);
        var actual = Score(withBad);
        for (int i = 0; i < expected.Length; i++)
        {
            CollectionAssert.AreEqual(expected[i].Boxes, actual[i].Boxes);
            CollectionAssert.AreEqual(expected[i].BoxScores, actual[i].BoxScores);
            Assert.AreEqual(expected[i].Score, actual[i].Score);
        }
    }

    [TestMethod]
    public void WithoutSkippingTheFirstUnreadableImageStopsTheFitNamingItsRow()
    {
        var options = RkdeAnomalyTests.Options(s_images.Folder);
        options.SkipUnreadableImages = false;
        var e = FitFails([.. s_good[..3], Bad[2], Bad[0]], options);
        StringAssert.Contains(e.Message, $"Training image at row 3 is unreadable: Image '{Path.Combine(s_images.Folder, "half.png")}' is truncated");
        StringAssert.Contains(e.Message, "SkipUnreadableImages = true");
    }

    [TestMethod]
    public void NoReadableTrainingImageIsAnError()
    {
        var e = FitFails(Bad);
        StringAssert.Contains(e.Message, "None of the 3 training images is readable (row 0: Image '");
        StringAssert.Contains(e.Message, "missing.png' does not exist");
    }

    [TestMethod]
    public void TrainingImagesWithoutRegionsFailNamingTheCount()
    {
        // The tiny proposer scores every box with the image's brightness: black images keep no box.
        var black = Enumerable.Range(0, 4).Select(i => new ImageInput { ImagePath = s_images.Solid($"black{i}.png", 40, 30, SKColors.Black) });
        var e = FitFails(black);
        StringAssert.Contains(e.Message, "The 4 training images gave no regions at all");
        StringAssert.Contains(e.Message, "lower RoiScoreThreshold / MinBoxSize");
    }

    [TestMethod]
    public void FewerRegionsThanPcaComponentsFailNamingBothCounts()
    {
        var options = RkdeAnomalyTests.Options(s_images.Folder);
        options.PcaComponents = 8;
        var e = FitFails(s_good[..1], options);
        StringAssert.Contains(e.Message, $"found {TinyModels.Boxes.Length / 4} training regions but needs at least 8 (PcaComponents)");
    }

    [TestMethod]
    public void NonFiniteFeaturesFromTheUsersModelFailAtFitNamingTheRow()
    {
        var e = FitFails(s_good, RkdeAnomalyTests.Options(s_images.Folder, TinyModels.Features(nan: true)));
        StringAssert.Contains(e.Message, "holds NaN at row 0, region 0, dimension 0: the feature model produced a non-finite value");
    }

    /// <summary>Fits on <paramref name="images"/> (default options: the tiny models) and returns the InvalidOperationException the fit must throw.</summary>
    private static InvalidOperationException FitFails(IEnumerable<ImageInput> images, RkdeOptions? options = null)
    {
        var ml = new MLContext();
        return Assert.Throws<InvalidOperationException>(() =>
            ml.Transforms.RkdeAnomaly(options ?? RkdeAnomalyTests.Options(s_images.Folder)).Fit(ml.Data.LoadFromEnumerable(images)));
    }
}
