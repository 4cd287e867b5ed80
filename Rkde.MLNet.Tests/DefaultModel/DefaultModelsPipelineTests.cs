using Microsoft.ML;
using Rkde.MLNet.DefaultModel;

namespace Rkde.MLNet.Tests.DefaultModel;

/// <summary>RkdeAnomaly with its built-in models (ResNet18 proposer sharing its feature maps with the RoI feature model).</summary>
[TestClass]
public sealed class DefaultModelsPipelineTests
{
    public sealed class ImageInput
    {
        public string ImagePath { get; set; } = "";
    }

    [TestMethod]
    public void DefaultModelsFitSaveLoadAndScore()
    {
        using var images = new TestImages();
        var train = Enumerable.Range(0, 6).Select(i => new ImageInput { ImagePath = images.Noise($"t{i}.png", 96, 64, seed: i, spread: 60) }).ToArray();
        var test = new[] { new ImageInput { ImagePath = images.Noise("n.png", 96, 64, seed: 50, spread: 60) } };
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(train);
        var model = ml.Transforms.RkdeAnomaly(new RkdeOptions { ImageFolder = images.Folder, ImageWidth = 96, ImageHeight = 64, PcaComponents = 4 })
            .Fit(data);
        var before = ml.Data.CreateEnumerable<RkdePrediction>(model.Transform(ml.Data.LoadFromEnumerable(test)), false).Single();
        Assert.IsGreaterThan(0, before.BoxCount, "the default proposer keeps boxes on a textured image");
        Assert.IsTrue(before.Boxes.All(v => v >= 0 && v <= 1));
        Assert.AreEqual(before.BoxScores.Max(), before.Score);

        string path = Path.Combine(images.Folder, "rkde.zip");
        ml.Model.Save(model, data.Schema, path);
        var fresh = new MLContext();
        var after = fresh.Data.CreateEnumerable<RkdePrediction>(
            fresh.Model.Load(path, out _).Transform(fresh.Data.LoadFromEnumerable(test)), false).Single();
        RkdeAnomalyTests.AssertClose(before.BoxScores, after.BoxScores);
        Assert.AreEqual(before.Score, after.Score, 1e-6f);
    }
}
