using Microsoft.ML;
using Microsoft.ML.Data;
using Rkde.MLNet.Density;
using Rkde.MLNet.Features;
using Rkde.MLNet.Regions;
using SkiaSharp;

namespace Rkde.MLNet.Tests;

[TestClass]
public sealed class RkdeAnomalyTests
{
    private static TestImages s_images = null!;
    private static ImageInput[] s_train = [];
    private static ImageInput[] s_test = [];
    private static MLContext s_ml = null!;
    private static ITransformer s_model = null!;
    private static IDataView s_trainData = null!;

    internal static RkdeOptions Options(string folder, byte[]? features = null) => new()
    {
        ImageFolder = folder,
        ImageWidth = TinyModels.Width,
        ImageHeight = TinyModels.Height,
        ProposerModelBytes = TinyModels.Proposer(),
        FeatureModelBytes = features ?? TinyModels.Features(),
        MinBoxSize = 4,
        IouThreshold = 0.9f,
        PcaComponents = 4,
    };

    [ClassInitialize]
    public static void FitOnce(TestContext _)
    {
        s_images = new TestImages();
        s_train = Enumerable.Range(0, 8).Select(i => new ImageInput { ImagePath = s_images.Noise($"train{i}.png", 40, 30, seed: i) }).ToArray();
        s_test =
        [
            new() { ImagePath = s_images.Noise("normal.png", 40, 30, seed: 100) },
            new() { ImagePath = s_images.Noise("odd.png", 40, 30, seed: 101, r: 250, g: 20, b: 200, spread: 5) },
            new() { ImagePath = s_images.Solid("black.png", 40, 30, SKColors.Black) },
            new() { ImagePath = s_images.Noise("big.png", 64, 64, seed: 102) },
        ];
        s_ml = new MLContext(seed: 1);
        s_trainData = s_ml.Data.LoadFromEnumerable(s_train);
        s_model = s_ml.Transforms.RkdeAnomaly(Options(s_images.Folder)).Fit(s_trainData);
    }

    [ClassCleanup]
    public static void Cleanup() => s_images?.Dispose();

    private static RkdePrediction[] Score(MLContext ml, ITransformer model, IEnumerable<ImageInput> images) =>
        ml.Data.CreateEnumerable<RkdePrediction>(model.Transform(ml.Data.LoadFromEnumerable(images)), reuseRowObject: false,
            ignoreMissingColumns: true).ToArray();

    [TestMethod]
    public void OutputColumnsAreBoxesBoxScoresScoreIsAnomalyAndNoInternalColumns()
    {
        var schema = s_model.GetOutputSchema(s_trainData.Schema);
        Assert.AreEqual(new VectorDataViewType(NumberDataViewType.Single), schema["Boxes"].Type);
        Assert.AreEqual(new VectorDataViewType(NumberDataViewType.Single), schema["BoxScores"].Type);
        Assert.AreEqual(NumberDataViewType.Single, schema["Score"].Type);
        Assert.AreEqual(BooleanDataViewType.Instance, schema["IsAnomaly"].Type);
        CollectionAssert.AreEqual(new[] { "ImagePath", "Boxes", "BoxScores", "Score", "IsAnomaly" }, schema.Where(c => !c.IsHidden).Select(c => c.Name).ToArray());
    }

    [TestMethod]
    public void OutputColumnsTakeTheNamesGivenAndTheChainIsRebuiltFromTheGraphAlone()
    {
        var options = Options(s_images.Folder);
        options.BoxesColumnName = "B";
        options.BoxScoresColumnName = "BS";
        options.ScoreColumnName = "S";
        options.IsAnomalyColumnName = "Bad";
        var model = s_ml.Transforms.RkdeAnomaly(options).Fit(s_trainData);
        var schema = model.GetOutputSchema(s_trainData.Schema);
        CollectionAssert.AreEqual(new[] { "ImagePath", "B", "BS", "S", "Bad" }, schema.Where(c => !c.IsHidden).Select(c => c.Name).ToArray());
        var scored = model.Transform(s_ml.Data.LoadFromEnumerable(s_test));
        var named = scored.GetColumn<float>("S").ToArray();
        CollectionAssert.AreEqual(Score(s_ml, s_model, s_test).Select(p => p.Score).ToArray(), named, "the names change nothing else");
    }

    [TestMethod]
    public void TheEstimatorStatesTheFittedSchemaBeforeFitting()
    {
        // ML.NET's DataViewSchema → SchemaShape conversion is internal to it.
        var create = typeof(SchemaShape).GetMethod("Create", System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Public
            | System.Reflection.BindingFlags.Static, [typeof(DataViewSchema)])!;
        SchemaShape Shape(DataViewSchema schema) => (SchemaShape)create.Invoke(null, [schema])!;
        var before = s_ml.Transforms.RkdeAnomaly(Options(s_images.Folder)).GetOutputSchema(Shape(s_trainData.Schema));
        var after = Shape(s_model.GetOutputSchema(s_trainData.Schema));
        string Describe(SchemaShape shape) => string.Join("; ", shape.Select(c => $"{c.Name} {c.Kind} {c.ItemType}"));
        Assert.AreEqual(Describe(after), Describe(before));
    }

    [TestMethod]
    public void SavedModelLoadsInAFreshContextAndScoresIdentically()
    {
        var before = Score(s_ml, s_model, s_test);
        string path = Path.Combine(s_images.Folder, "rkde.zip");
        s_ml.Model.Save(s_model, s_trainData.Schema, path);

        var fresh = new MLContext();
        var loaded = fresh.Model.Load(path, out var inputSchema);
        Assert.IsInstanceOfType<TextDataViewType>(inputSchema["ImagePath"].Type);
        var after = Score(fresh, loaded, s_test);

        Assert.HasCount(before.Length, after);
        for (int i = 0; i < before.Length; i++)
        {
            AssertClose(before[i].Boxes, after[i].Boxes);
            AssertClose(before[i].BoxScores, after[i].BoxScores);
            Assert.AreEqual(before[i].Score, after[i].Score, 1e-6f);
        }
        foreach (var transformer in (TransformerChain<ITransformer>)loaded)
            StringAssert.StartsWith(transformer.GetType().Assembly.GetName().Name, "Microsoft.ML", "every saved stage is stock ML.NET");
    }

    [TestMethod]
    public void AProgramWithoutRkdeMLNetLoadsTheModelAndPrintsTheSameScores()
    {
        // Samples/LoadAndScore references ML.NET packages only; run its build output in a separate process.
        string testDir = AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar);
        string configuration = Path.GetFileName(Path.GetDirectoryName(testDir)!);
        string repo = Path.GetFullPath(Path.Combine(testDir, "..", "..", "..", ".."));
        string sampleDir = Path.Combine(repo, "Samples", "LoadAndScore", "bin", configuration, Path.GetFileName(testDir));
        Assert.IsTrue(File.Exists(Path.Combine(sampleDir, "LoadAndScore.dll")), sampleDir);
        Assert.IsFalse(File.Exists(Path.Combine(sampleDir, "Rkde.MLNet.dll")), "LoadAndScore must not ship Rkde.MLNet");

        string folder = Directory.CreateTempSubdirectory("rkde-load-").FullName;
        try
        {
            foreach (var image in s_test)
                File.Copy(Path.Combine(s_images.Folder, image.ImagePath), Path.Combine(folder, image.ImagePath));
            var full = s_test.Select(i => new ImageInput { ImagePath = Path.Combine(folder, i.ImagePath) }).OrderBy(i => i.ImagePath, StringComparer.Ordinal).ToArray();
            string zip = Path.Combine(folder, "rkde.zip");
            s_ml.Model.Save(s_model, s_trainData.Schema, zip);
            var expected = Score(s_ml, s_model, full); // rooted paths ignore the model's ImageFolder

            var run = new System.Diagnostics.ProcessStartInfo("dotnet", [Path.Combine(sampleDir, "LoadAndScore.dll"), zip, folder])
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            };
            using var process = System.Diagnostics.Process.Start(run)!;
            string output = process.StandardOutput.ReadToEnd();
            string errors = process.StandardError.ReadToEnd();
            Assert.IsTrue(process.WaitForExit(60_000));
            Assert.AreEqual(0, process.ExitCode, errors);

            var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.HasCount(full.Length, lines);
            for (int i = 0; i < full.Length; i++)
            {
                var fields = lines[i].Split('\t');
                Assert.AreEqual(Path.GetFileName(full[i].ImagePath), fields[0]);
                Assert.AreEqual(expected[i].Score, float.Parse(fields[1], System.Globalization.CultureInfo.InvariantCulture), 1e-6f);
                Assert.AreEqual(expected[i].BoxScores.Length, int.Parse(fields[2], System.Globalization.CultureInfo.InvariantCulture));
                Assert.AreEqual(expected[i].IsAnomaly, bool.Parse(fields[3]), "IsAnomaly, computed by ML.NET's Expression transform");
            }
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [TestMethod]
    public void ScoresAreProbabilitiesAndTheImageScoreIsTheHighestBoxScore()
    {
        var scored = Score(s_ml, s_model, s_test);
        foreach (var p in scored.Where(p => p.BoxCount > 0))
        {
            Assert.AreEqual(p.BoxCount, p.BoxScores.Length);
            Assert.IsTrue(p.BoxScores.All(s => s >= 0 && s <= 1), string.Join(", ", p.BoxScores));
            Assert.AreEqual(p.BoxScores.Max(), p.Score);
        }
        Assert.IsGreaterThan(scored[0].Score, scored[1].Score, "the odd-coloured image scores above the normal one");
    }

    [TestMethod]
    public void ImageWithNoBoxesGivesEmptyVectorsAndScoreZero()
    {
        var black = Score(s_ml, s_model, [s_test[2]]).Single();
        Assert.IsEmpty(black.Boxes);
        Assert.IsEmpty(black.BoxScores);
        Assert.AreEqual(0f, black.Score);
    }

    [TestMethod]
    public void BoxesAreNormalisedWhateverTheImageSize()
    {
        var scored = Score(s_ml, s_model, [s_test[0], s_test[3]]);
        float[] expected = TinyModels.Boxes.Select((v, i) => v / (i % 2 == 0 ? TinyModels.Width : TinyModels.Height)).ToArray();
        foreach (var p in scored)
            AssertClose(expected, p.Boxes);
        float[] pixels = scored[1].BoxesInPixels(64, 64);
        AssertClose(expected.Select(v => v * 64).ToArray(), pixels);
    }

    [TestMethod]
    public void PredictionEngineGivesTheSameAsTransform()
    {
        var engine = s_ml.Model.CreatePredictionEngine<ImageInput, RkdePrediction>(s_model);
        var batch = Score(s_ml, s_model, s_test);
        for (int i = 0; i < s_test.Length; i++)
        {
            var single = engine.Predict(s_test[i]);
            AssertClose(batch[i].BoxScores, single.BoxScores);
            Assert.AreEqual(batch[i].Score, single.Score);
        }
    }

    [TestMethod]
    public void FeatureModelReadsExtraProposerOutputsByName()
    {
        // The feature model reads "fmap", an extra output of the proposer, instead of the image: same numbers.
        var ml = new MLContext(seed: 1);
        var model = ml.Transforms.RkdeAnomaly(Options(s_images.Folder, TinyModels.Features(imageInput: "fmap"))).Fit(s_trainData);
        var viaImage = Score(s_ml, s_model, s_test);
        var viaFmap = Score(ml, model, s_test);
        for (int i = 0; i < s_test.Length; i++)
            AssertClose(viaImage[i].BoxScores, viaFmap[i].BoxScores);
    }

    [TestMethod]
    [DataRow(17)]
    [DataRow(11)]
    public void StageLevelEstimatorsComposeToTheSameScores(int featureOpset)
    {
        // At opset 11 the feature model's RoiAlign means output_half_pixel, which the one graph (opset 18) must keep.
        static byte[] AtOpset(byte[] model, int opset)
        {
            var proto = global::Onnx.ModelProto.Parser.ParseFrom(model);
            proto.OpsetImport.Single().Version = opset;
            return Google.Protobuf.MessageExtensions.ToByteArray(proto);
        }
        var ml = new MLContext(seed: 1);
        var features = ml.Transforms.RkdeRoiFeatures(new RkdeRoiFeatureOptions
        {
            ImageWidth = TinyModels.Width,
            ImageHeight = TinyModels.Height,
            FeatureModelBytes = AtOpset(TinyModels.Features(imageInput: "fmap"), featureOpset),
        });
        var pipeline = ml.Transforms.LoadImages("Image", s_images.Folder, "ImagePath")
            .Append(ml.Transforms.ResizeImages("Image", TinyModels.Width, TinyModels.Height, "Image",
                Microsoft.ML.Transforms.Image.ImageResizingEstimator.ResizingKind.Fill))
            .Append(ml.Transforms.ExtractPixels("Pixels", "Image", scaleImage: 1f / 255))
            .Append(ml.Transforms.RkdeRegionProposals(new RkdeRegionProposalOptions
            {
                ImageWidth = TinyModels.Width,
                ImageHeight = TinyModels.Height,
                ProposerModelBytes = TinyModels.Proposer(),
                MinBoxSize = 4,
                IouThreshold = 0.9f,
            }))
            .Append(features)
            .Append(ml.Transforms.RkdeDensity(new RkdeDensityOptions
            {
                FeatureDimension = features.FeatureDimension,
                PcaComponents = 4,
                Bandwidth = KdeBandwidth.Isotropic, // RkdeAnomaly's default (the density stage's own is anomalib's)
            }));
        var model = pipeline.Fit(s_trainData);
        var schema = model.GetOutputSchema(s_trainData.Schema);
        foreach (var column in new[] { "Pixels", "Boxes", "RegionBoxes", "RegionScores", "fmap", "Features", "BoxScores", "Score" })
            Assert.IsNotNull(schema.GetColumnOrNull(column), column);

        var staged = Score(ml, model, s_test);
        var fitted = featureOpset == 17 ? s_model
            : s_ml.Transforms.RkdeAnomaly(Options(s_images.Folder, AtOpset(TinyModels.Features(), featureOpset))).Fit(s_trainData);
        var whole = Score(s_ml, fitted, s_test);
        for (int i = 0; i < s_test.Length; i++)
        {
            AssertClose(whole[i].Boxes, staged[i].Boxes);
            AssertClose(whole[i].BoxScores, staged[i].BoxScores);
            Assert.AreEqual(whole[i].Score, staged[i].Score, 1e-6f);
        }
    }

    [TestMethod]
    public void MissingOrMistypedImageColumnIsNamed()
    {
        var estimator = s_ml.Transforms.RkdeAnomaly(Options(s_images.Folder));
        var missing = s_ml.Data.LoadFromEnumerable(new[] { new { Path = "x.png" } });
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => estimator.Fit(missing));
        StringAssert.Contains(e.Message, "'ImagePath'");
        StringAssert.Contains(e.Message, "missing");
        var mistyped = s_ml.Data.LoadFromEnumerable(new[] { new { ImagePath = 1f } });
        e = Assert.Throws<ArgumentOutOfRangeException>(() => estimator.Fit(mistyped));
        StringAssert.Contains(e.Message, "'ImagePath'");
        StringAssert.Contains(e.Message, "is Single; expected String");
    }

    internal static void AssertClose(float[] expected, float[] actual, float tolerance = 1e-6f)
    {
        Assert.HasCount(expected.Length, actual);
        for (int i = 0; i < expected.Length; i++)
            Assert.AreEqual(expected[i], actual[i], tolerance, $"index {i}");
    }
}
