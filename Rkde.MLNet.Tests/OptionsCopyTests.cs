using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms.Image;
using Rkde.MLNet.Density;
using Rkde.MLNet.Features;
using Rkde.MLNet.Regions;

namespace Rkde.MLNet.Tests;

/// <summary>
/// Every estimator validates and keeps a private copy of its options when it is built (as ML.NET's do): a caller who
/// changes the options object afterwards, to invalid values or inside its arrays, still fits with the validated values.
/// </summary>
[TestClass]
public sealed class OptionsCopyTests
{
    private static TestImages s_images = null!;
    private static ImageInput[] s_train = [];

    [ClassInitialize]
    public static void WriteImages(TestContext _)
    {
        s_images = new TestImages();
        s_train = Enumerable.Range(0, 8).Select(i => new ImageInput { ImagePath = s_images.Noise($"train{i}.png", 40, 30, seed: i) }).ToArray();
    }

    [ClassCleanup]
    public static void Cleanup() => s_images?.Dispose();

    private static float[] Scores(MLContext ml, ITransformer model, IDataView data) =>
        model.Transform(data).GetColumn<float>("Score").ToArray();

    [TestMethod]
    public void RkdeAnomalyFitsWithTheOptionsItWasBuiltWith()
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(s_train);
        var expected = Scores(ml, ml.Transforms.RkdeAnomaly(RkdeAnomalyTests.Options(s_images.Folder)).Fit(data), data);

        var options = RkdeAnomalyTests.Options(s_images.Folder);
        var estimator = ml.Transforms.RkdeAnomaly(options);
        options.ImageColumnName = "NoSuchColumn";
        options.ImageWidth = -1;
        options.PcaComponents = 0;
        options.ScoreColumnName = options.BoxesColumnName;
        Array.Clear(options.ProposerModelBytes!);
        Array.Clear(options.FeatureModelBytes!);

        var model = estimator.Fit(data);
        Assert.IsNotNull(model.GetOutputSchema(data.Schema).GetColumnOrNull("Score"));
        CollectionAssert.AreEqual(expected, Scores(ml, model, data));
    }

    [TestMethod]
    public void StageEstimatorsFitWithTheOptionsTheyWereBuiltWith()
    {
        var ml = new MLContext(seed: 1);
        var regionOptions = new RkdeRegionProposalOptions
        {
            ImageWidth = TinyModels.Width,
            ImageHeight = TinyModels.Height,
            ProposerModelBytes = TinyModels.Proposer(),
            MinBoxSize = 4,
            IouThreshold = 0.9f,
            ExtraOutputColumns = ["fmap"],
        };
        var featureOptions = new RkdeRoiFeatureOptions
        {
            ImageWidth = TinyModels.Width,
            ImageHeight = TinyModels.Height,
            FeatureModelBytes = TinyModels.Features(imageInput: "fmap"),
        };
        var densityOptions = new RkdeDensityOptions { FeatureDimension = 12, PcaComponents = 4 };
        var regions = ml.Transforms.RkdeRegionProposals(regionOptions);
        var features = ml.Transforms.RkdeRoiFeatures(featureOptions);
        var density = ml.Transforms.RkdeDensity(densityOptions);

        regionOptions.ExtraOutputColumns[0] = "not_an_output";
        regionOptions.PixelsColumnName = "NoSuchColumn";
        regionOptions.MaxDetectionsPerImage = 0;
        featureOptions.FeaturesColumnName = "Mutated";
        Array.Clear(featureOptions.FeatureModelBytes!);
        densityOptions.FeaturesColumnName = "Mutated";
        densityOptions.PcaComponents = 0;
        densityOptions.ScoreColumnName = "BoxScores";

        var pipeline = ml.Transforms.LoadImages("Image", s_images.Folder, "ImagePath")
            .Append(ml.Transforms.ResizeImages("Image", TinyModels.Width, TinyModels.Height, "Image", ImageResizingEstimator.ResizingKind.Fill))
            .Append(ml.Transforms.ExtractPixels("Pixels", "Image", scaleImage: 1f / 255))
            .Append(regions)
            .Append(features)
            .Append(density);
        var data = ml.Data.LoadFromEnumerable(s_train);
        var schema = pipeline.Fit(data).GetOutputSchema(data.Schema);
        foreach (var column in new[] { "Boxes", "RegionBoxes", "fmap", "Features", "BoxScores", "Score" })
            Assert.IsNotNull(schema.GetColumnOrNull(column), column);
        Assert.AreEqual(NumberDataViewType.Single, schema["Score"].Type);
        Assert.IsNull(schema.GetColumnOrNull("Mutated"));
    }
}
