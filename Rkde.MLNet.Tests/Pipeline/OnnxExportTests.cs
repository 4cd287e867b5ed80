using Microsoft.ML;
using Microsoft.ML.OnnxRuntime;
using SkiaSharp;

namespace Rkde.MLNet.Tests.Pipeline;

/// <summary>
/// ExportRkdeOnnx: the exported file run by ONNX Runtime alone (uint8 RGB in, no ML.NET) scores as the saved .zip does,
/// carries the model's description, and refuses files that are not RkdeAnomaly models of this format.
/// </summary>
[TestClass]
public sealed class OnnxExportTests
{
    private static TestImages s_images = null!;
    private static string s_model = "";
    private static string s_onnx = "";
    private static MLContext s_ml = null!;
    private static ITransformer s_fitted = null!;

    [ClassInitialize]
    public static void FitSaveAndExport(TestContext _)
    {
        s_images = new TestImages();
        var train = Enumerable.Range(0, 8).Select(i => new ImageInput { ImagePath = s_images.Noise($"train{i}.png", 40, 30, seed: i) }).ToArray();
        s_ml = new MLContext(seed: 1);
        var data = s_ml.Data.LoadFromEnumerable(train);
        s_fitted = s_ml.Transforms.RkdeAnomaly(RkdeAnomalyTests.Options(s_images.Folder)).Fit(data);
        s_model = Path.Combine(s_images.Folder, "rkde.zip");
        s_ml.Model.Save(s_fitted, data.Schema, s_model);
        s_onnx = Path.Combine(s_images.Folder, "out", "rkde.onnx");
        s_ml.Model.ExportRkdeOnnx(s_model, s_onnx);
    }

    [ClassCleanup]
    public static void Cleanup() => s_images?.Dispose();

    /// <summary>The file's pixels as the .zip's LoadImages sees them (SkiaSharp's decode), as uint8 RGB [H, W, 3].</summary>
    internal static (byte[] Rgb, int Width, int Height) Rgb(string path)
    {
        using var decoded = SKBitmap.Decode(path);
        using var bitmap = decoded.ColorType == SKColorType.Rgba8888 ? decoded.Copy() : decoded.Copy(SKColorType.Rgba8888);
        var rgba = bitmap.GetPixelSpan();
        var rgb = new byte[bitmap.Width * bitmap.Height * 3];
        for (int i = 0; i < bitmap.Width * bitmap.Height; i++)
            rgba.Slice(4 * i, 3).CopyTo(rgb.AsSpan(3 * i));
        return (rgb, bitmap.Width, bitmap.Height);
    }

    private static RkdePrediction Zip(string image) =>
        s_ml.Data.CreateEnumerable<RkdePrediction>(s_fitted.Transform(s_ml.Data.LoadFromEnumerable(new[] { new ImageInput { ImagePath = image } })),
            reuseRowObject: false).Single();

    private static Dictionary<string, (Array Data, long[] Shape)> Export(OnnxRun run, string image)
    {
        var (rgb, w, h) = Rgb(Path.Combine(s_images.Folder, image));
        return run.Run(("image", rgb, [h, w, 3]));
    }

    /// <summary>The .zip's boxes in pixels of a <paramref name="w"/> × <paramref name="h"/> image, and its box scores, highest score first.</summary>
    private static (float[] Boxes, float[] Scores) Sorted(RkdePrediction p, int w, int h)
    {
        var pixels = p.BoxesInPixels(w, h);
        var order = Enumerable.Range(0, p.BoxCount).OrderByDescending(i => p.BoxScores[i]).ToArray();
        return (order.SelectMany(i => pixels.Skip(4 * i).Take(4)).ToArray(), order.Select(i => p.BoxScores[i]).ToArray());
    }

    [TestMethod]
    public void AtTheModelSizeTheExportScoresAsTheZip()
    {
        using var run = new OnnxRun(File.ReadAllBytes(s_onnx));
        var images = new[]
        {
            s_images.Noise("same0.png", TinyModels.Width, TinyModels.Height, seed: 20),
            s_images.Noise("same1.png", TinyModels.Width, TinyModels.Height, seed: 21, r: 250, g: 10, b: 200, spread: 5),
            s_images.Solid("same2.png", TinyModels.Width, TinyModels.Height, SKColors.Black),
        };
        int boxes = 0;
        foreach (var image in images)
        {
            var zip = Zip(image);
            var onnx = Export(run, image);
            var (expectedBoxes, expectedScores) = Sorted(zip, TinyModels.Width, TinyModels.Height);
            Assert.AreEqual(zip.Score, ((float[])onnx["score"].Data)[0], 1e-5f, image);
            Assert.AreEqual(zip.IsAnomaly, ((bool[])onnx["is_anomaly"].Data)[0], image);
            CollectionAssert.AreEqual(new long[] { expectedScores.Length, 4 }, onnx["boxes"].Shape, image);
            RkdeAnomalyTests.AssertClose(expectedBoxes, (float[])onnx["boxes"].Data, 1e-4f);
            RkdeAnomalyTests.AssertClose(expectedScores, (float[])onnx["box_scores"].Data, 1e-5f);
            boxes += expectedScores.Length;
        }
        Assert.IsGreaterThan(0, boxes, "the test needs images with boxes");
    }

    [TestMethod]
    public void AtOtherSizesTheGraphResizesAsTheZipDoes()
    {
        using var run = new OnnxRun(File.ReadAllBytes(s_onnx));
        foreach (var (image, w, h) in new[] { ("big.png", 64, 64), ("wide.png", 97, 31), ("small.png", 20, 15), ("train3.png", 40, 30) })
        {
            if (!File.Exists(Path.Combine(s_images.Folder, image)))
                s_images.Noise(image, w, h, seed: w * h);
            var zip = Zip(image);
            var onnx = Export(run, image);
            var (expectedBoxes, expectedScores) = Sorted(zip, w, h);
            Assert.AreEqual(zip.Score, ((float[])onnx["score"].Data)[0], 1e-5f, image);
            RkdeAnomalyTests.AssertClose(expectedBoxes, (float[])onnx["boxes"].Data, 1e-3f);
            RkdeAnomalyTests.AssertClose(expectedScores, (float[])onnx["box_scores"].Data, 1e-5f);
        }
    }

    [TestMethod]
    public void TheBatchedExportScoresEachImageAsTheSingleOne()
    {
        string batchedPath = Path.Combine(s_images.Folder, "batched.onnx");
        s_ml.Model.ExportRkdeOnnx(s_model, batchedPath, batched: true);
        using var single = new OnnxRun(File.ReadAllBytes(s_onnx));
        using var batched = new OnnxRun(File.ReadAllBytes(batchedPath));
        var images = Enumerable.Range(0, 3).Select(i => s_images.Noise($"batch{i}.png", TinyModels.Width, TinyModels.Height, seed: 30 + i,
            r: (byte)(60 * i), spread: 20 + 10 * i)).ToArray();
        var pixels = images.SelectMany(i => Rgb(Path.Combine(s_images.Folder, i)).Rgb).ToArray();
        var o = batched.Run(("images", pixels, [3, TinyModels.Height, TinyModels.Width, 3]));
        int most = new RkdeOptions().MaxDetectionsPerImage;
        CollectionAssert.AreEqual(new long[] { 3, most, 4 }, o["boxes"].Shape);
        for (int i = 0; i < 3; i++)
        {
            var one = Export(single, images[i]);
            int count = (int)((long[])o["box_count"].Data)[i];
            Assert.AreEqual(one["box_scores"].Shape[0], count, images[i]);
            CollectionAssert.AreEqual((float[])one["boxes"].Data, ((float[])o["boxes"].Data).Skip(i * most * 4).Take(count * 4).ToArray());
            var scores = ((float[])o["box_scores"].Data).Skip(i * most).Take(most).ToArray();
            CollectionAssert.AreEqual((float[])one["box_scores"].Data, scores[..count]);
            Assert.IsTrue(scores[count..].All(s => s == -1), "padding after the real boxes");
            Assert.AreEqual(((float[])one["score"].Data)[0], ((float[])o["score"].Data)[i]);
            Assert.AreEqual(((bool[])one["is_anomaly"].Data)[0], ((bool[])o["is_anomaly"].Data)[i]);
        }
    }

    [TestMethod]
    public void TheFileDescribesTheModel()
    {
        using var session = new InferenceSession(s_onnx);
        var meta = session.ModelMetadata.CustomMetadataMap;
        Assert.AreEqual("3", meta["rkde_format_version"]);
        Assert.AreEqual("export", meta["rkde_stage"]);
        Assert.AreEqual($"{TinyModels.Width}x{TinyModels.Height}", meta["rkde_input_size"]);
        StringAssert.Contains(meta["rkde_resize"], "nearest neighbour");
        Assert.AreEqual("0.01", meta["rkde_option_FalsePositiveRate"]);
        Assert.AreEqual("4", meta["rkde_option_MinBoxSize"]);
        Assert.AreEqual("0.9", meta["rkde_option_IouThreshold"]);
        Assert.AreEqual("Scale", meta["rkde_option_FeatureScaling"]);
        StringAssert.StartsWith(meta["rkde_option_ProposerModelBytes"], $"{TinyModels.Proposer().Length} bytes, SHA-256 ");
        Assert.IsTrue(float.TryParse(meta["rkde_threshold"], System.Globalization.CultureInfo.InvariantCulture, out _), meta["rkde_threshold"]);
        Assert.AreEqual("0.01", meta["rkde_threshold_false_positive_rate"]);
        Assert.AreEqual("8", meta["rkde_threshold_images"]);
        StringAssert.StartsWith(meta["rkde_proposer_model"], "user model model bytes: graph 'tiny_proposer'");
        StringAssert.StartsWith(meta["rkde_feature_model"], "user model model bytes: graph 'tiny_features'");
        StringAssert.Contains(meta["rkde_weights_licence"], "user models");
        CollectionAssert.AreEqual(new[] { "image" }, session.InputNames.ToArray());
        CollectionAssert.AreEqual(new[] { "boxes", "box_scores", "score", "is_anomaly" }, session.OutputNames.ToArray());
        CollectionAssert.AreEqual(new[] { -1, -1, 3 }, session.InputMetadata["image"].Dimensions);
    }

    [TestMethod]
    public void WrongInputsGetOnnxRuntimesErrors()
    {
        using var session = new InferenceSession(s_onnx);
        string Fails(OrtValue value)
        {
            using var run = new RunOptions();
            using (value)
                return Assert.Throws<OnnxRuntimeException>(() => session.Run(run, ["image"], [value], session.OutputNames)).Message;
        }
        StringAssert.Contains(Fails(OrtValue.CreateTensorValueFromMemory(new byte[24 * 32 * 3], [1, 24, 32, 3])), "Invalid rank for input: image Got: 4 Expected: 3");
        StringAssert.Contains(Fails(OrtValue.CreateTensorValueFromMemory(new byte[24 * 32 * 4], [24, 32, 4])),
            "Got invalid dimensions for input: image for the following indices");
        StringAssert.Contains(Fails(OrtValue.CreateTensorValueFromMemory(new float[24 * 32 * 3], [24, 32, 3])),
            "Unexpected input data type. Actual: (tensor(float)) , expected: (tensor(uint8))");
    }

    [TestMethod]
    public void ExportRefusesFilesThatAreNotRkdeAnomalyModelsOfThisFormat()
    {
        string target = Path.Combine(s_images.Folder, "refused.onnx");
        Assert.Throws<FileNotFoundException>(() => s_ml.Model.ExportRkdeOnnx(Path.Combine(s_images.Folder, "none.zip"), target));

        var ml = new MLContext();
        var data = ml.Data.LoadFromEnumerable(new[] { new { A = 1f, B = 2f } });
        string other = Path.Combine(s_images.Folder, "other.zip");
        ml.Model.Save(ml.Transforms.Concatenate("C", "A", "B").Fit(data), data.Schema, other);
        var e = Assert.Throws<InvalidDataException>(() => s_ml.Model.ExportRkdeOnnx(other, target));
        StringAssert.Contains(e.Message, $"Model '{other}' is not an R-KDE model");

        string text = Path.Combine(s_images.Folder, "text.zip");
        File.WriteAllText(text, "hello");
        e = Assert.Throws<InvalidDataException>(() => s_ml.Model.ExportRkdeOnnx(text, target));
        StringAssert.Contains(e.Message, $"Model '{text}' is not a complete model .zip");

        string old = Path.Combine(s_images.Folder, "v1.zip");
        File.Copy(s_model, old, overwrite: true);
        ZipGraphs.Rewrite(old, "fitted", g => g.MetadataProps.Single(p => p.Key == "rkde_format_version").Value = "1");
        e = Assert.Throws<InvalidDataException>(() => s_ml.Model.ExportRkdeOnnx(old, target));
        StringAssert.Contains(e.Message, $"Model '{old}' holds an R-KDE fitted graph of rkde_format_version '1'");
        StringAssert.Contains(e.Message, "version 1 models are chains of four ONNX stages");

        // A saved density stage alone is R-KDE's, but no whole fitted model.
        var rows = ml.Data.LoadFromEnumerable(Enumerable.Range(0, 20).Select(i => new Row { Features = [i, i % 3, i % 5, 1] }));
        string density = Path.Combine(s_images.Folder, "density.zip");
        ml.Model.Save(ml.Transforms.RkdeDensity(new Rkde.MLNet.Density.RkdeDensityOptions { PcaComponents = 2 }).Fit(rows), rows.Schema, density);
        e = Assert.Throws<InvalidDataException>(() => s_ml.Model.ExportRkdeOnnx(density, target));
        StringAssert.Contains(e.Message, $"Model '{density}' holds no fitted R-KDE graph (rkde_stage 'fitted')");
        Assert.IsFalse(File.Exists(target), "no file is written for a refused export");
    }

    public sealed class Row
    {
        [Microsoft.ML.Data.VectorType(4)]
        public float[] Features { get; set; } = [];
    }
}
