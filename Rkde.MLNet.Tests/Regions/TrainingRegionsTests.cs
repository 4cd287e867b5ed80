using System.Text.RegularExpressions;
using Microsoft.ML;

namespace Rkde.MLNet.Tests.Regions;

/// <summary>
/// TrainingIouThreshold / MaxTrainingDetectionsPerImage: the density is fitted on the training filter's regions, the saved chain
/// scores with the scoring filter. The tiny proposer's five boxes: four quadrants and a centred box overlapping each at IoU 0.2,
/// so NMS at 0.1 keeps the four quadrants and at 1 all five.
/// </summary>
[TestClass]
public sealed class TrainingRegionsTests
{
    private static TestImages s_images = null!;
    private static ImageInput[] s_train = [];

    [ClassInitialize]
    public static void MakeImages(TestContext _)
    {
        s_images = new TestImages();
        s_train = Enumerable.Range(0, 8).Select(i => new ImageInput { ImagePath = s_images.Noise($"train{i}.png", 40, 30, seed: i) }).ToArray();
    }

    [ClassCleanup]
    public static void Cleanup() => s_images?.Dispose();

    /// <summary>Fits with <paramref name="configure"/> applied; returns the model and the number of training regions the density reported.</summary>
    private static (MLContext Ml, ITransformer Model, int Regions) Fit(Action<RkdeOptions> configure)
    {
        var ml = new MLContext(seed: 1);
        var messages = new List<string>();
        var options = RkdeAnomalyTests.Options(s_images.Folder);
        options.IouThreshold = 0.1f;
        options.Progress = new SynchronousProgress(messages.Add);
        configure(options);
        var model = ml.Transforms.RkdeAnomaly(options).Fit(ml.Data.LoadFromEnumerable(s_train));
        var line = messages.Single(m => m.StartsWith("RkdeDensity: ", StringComparison.Ordinal) && m.Contains(" regions from "));
        return (ml, model, int.Parse(Regex.Match(line, @"RkdeDensity: (\d+) regions").Groups[1].Value));
    }

    private static RkdePrediction[] Score(MLContext ml, ITransformer model) =>
        ml.Data.CreateEnumerable<RkdePrediction>(model.Transform(ml.Data.LoadFromEnumerable(s_train.Take(3))), reuseRowObject: false).ToArray();

    [TestMethod]
    public void TheDensitySeesTheTrainingFiltersRegionsAndScoringKeepsItsOwn()
    {
        var plain = Fit(o => { o.TrainingIouThreshold = null; o.MaxTrainingDetectionsPerImage = null; });
        var all = Fit(o => o.TrainingIouThreshold = 1f);
        var two = Fit(o => { o.TrainingIouThreshold = 1f; o.MaxTrainingDetectionsPerImage = 2; });
        Assert.AreEqual(8 * 4, plain.Regions, "null: the scoring filter's regions, as anomalib");
        Assert.AreEqual(8 * 5, all.Regions);
        Assert.AreEqual(8 * 2, two.Regions);
        Assert.AreEqual(8 * 5, Fit(_ => { }).Regions, "by default the density sees every overlapping box");
        Assert.IsNull(RkdeOptions.Anomalib().TrainingIouThreshold);
        Assert.IsNull(RkdeOptions.Anomalib().MaxTrainingDetectionsPerImage);

        var a = Score(plain.Ml, plain.Model);
        var b = Score(all.Ml, all.Model);
        for (int i = 0; i < a.Length; i++)
        {
            Assert.AreEqual(4, b[i].BoxCount, "scoring keeps the scoring filter's four boxes");
            CollectionAssert.AreEqual(a[i].Boxes, b[i].Boxes);
        }
        // Another density: the centre box's features moved the fit.
        Assert.IsTrue(a.Zip(b).Any(p => !p.First.BoxScores.SequenceEqual(p.Second.BoxScores)));
    }

    [TestMethod]
    public void ATrainingFilterModelSavesAndLoadsWithPlainMlNet()
    {
        var (ml, model, _) = Fit(o => o.TrainingIouThreshold = 1f);
        string path = Path.Combine(s_images.Folder, "training-filter.zip");
        ml.Model.Save(model, ml.Data.LoadFromEnumerable(s_train).Schema, path);
        var fresh = new MLContext();
        var loaded = fresh.Model.Load(path, out _);
        var before = Score(ml, model);
        var after = Score(fresh, loaded);
        for (int i = 0; i < before.Length; i++)
        {
            CollectionAssert.AreEqual(before[i].Boxes, after[i].Boxes);
            CollectionAssert.AreEqual(before[i].BoxScores, after[i].BoxScores);
            Assert.AreEqual(before[i].Score, after[i].Score);
        }
    }

    [TestMethod]
    [DataRow(0f)]
    [DataRow(1.5f)]
    public void AnInvalidTrainingIouThresholdNamesItself(float value)
    {
        var e = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new RkdeOptions { TrainingIouThreshold = value }.Validate());
        StringAssert.Contains(e.Message, "TrainingIouThreshold");
        var m = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new RkdeOptions { MaxTrainingDetectionsPerImage = 0 }.Validate());
        StringAssert.Contains(m.Message, "MaxTrainingDetectionsPerImage");
    }
}
