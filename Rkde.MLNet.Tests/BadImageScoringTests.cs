using Microsoft.ML;
using Rkde.MLNet.Images;
using SkiaSharp;

namespace Rkde.MLNet.Tests;

/// <summary>
/// Scoring each image case of the README's bad-input table with a saved default-model R-KDE loaded by plain ML.NET: which are scored
/// normally (and as what), and what ML.NET does with broken files (the README's "Behaviour on bad input").
/// </summary>
[TestClass]
public sealed class BadImageScoringTests
{
    private static TestImages s_images = null!;
    private static ImageCases s_cases = null!;
    private static PredictionEngine<ImageInput, RkdePrediction> s_engine = null!;

    [ClassInitialize]
    public static void FitSaveAndLoad(TestContext context)
    {
        s_images = new TestImages();
        s_cases = new ImageCases();
        string model = Path.Combine(s_images.Folder, "rkde.zip");
        DefaultFit.FitAndSave(s_images, model);
        var ml = new MLContext();
        s_engine = ml.Model.CreatePredictionEngine<ImageInput, RkdePrediction>(ml.Model.Load(model, out _));
        s_cases.Rgb("rgb.png", 1);
        s_cases.Jpeg("rgb.jpg", 1);
    }

    [ClassCleanup]
    public static void Cleanup()
    {
        s_engine?.Dispose();
        s_images?.Dispose();
        s_cases?.Dispose();
    }

    private static RkdePrediction Score(string name)
    {
        lock (s_engine)
            return s_engine.Predict(new ImageInput { ImagePath = s_cases.PathOf(name) });
    }

    private static void AssertSame(RkdePrediction expected, RkdePrediction actual, string name)
    {
        CollectionAssert.AreEqual(expected.Boxes, actual.Boxes, name);
        CollectionAssert.AreEqual(expected.BoxScores, actual.BoxScores, name);
        Assert.AreEqual(expected.Score, actual.Score, name);
    }

    private static void AssertScoredNormally(RkdePrediction p, string name)
    {
        Assert.IsGreaterThan(0, p.BoxCount, name);
        Assert.IsTrue(p.Boxes.All(v => v is >= 0 and <= 1), name);
        Assert.IsTrue(p.BoxScores.All(s => s is >= 0 and <= 1), name);
        Assert.AreEqual(p.BoxScores.Max(), p.Score, name);
    }

    [TestMethod]
    public void GrayscaleOpaqueRgbaAnd16BitPngScoreExactlyAsTheirRgbTwin()
    {
        var rgb = Score("rgb.png");
        AssertScoredNormally(rgb, "rgb.png");
        foreach (string name in new[] { s_cases.Gray("gray.png", 1), s_cases.Rgba("rgba.png", 1), s_cases.Rgb16("rgb16.png", 1) })
            AssertSame(rgb, Score(name), name);
    }

    [TestMethod]
    public void TransparentPixelsReadAsBlack()
    {
        // ML.NET premultiplies alpha: a fully transparent image is a black one.
        AssertSame(Score(s_cases.Solid("black.png", SKColors.Black, SKAlphaType.Opaque)),
            Score(s_cases.Solid("transparent.png", new SKColor(200, 50, 90, 0), SKAlphaType.Unpremul)), "transparent.png");
    }

    [TestMethod]
    public void CmykJpegVeryLargeAndTinyImagesAreScoredNormally()
    {
        foreach (string name in new[] { s_cases.Cmyk("cmyk.jpg"), s_cases.Large("large.png", 8000, 6000), s_cases.Tiny("tiny.png", 2), "rgb.jpg" })
        {
            Assert.IsTrue(ImageCheck.Check(s_cases.PathOf(name)).IsReadable, name);
            AssertScoredNormally(Score(name), name);
        }
    }

    [TestMethod]
    public void PlainMLNetThrowsOnMissingEmptyNonImageAndUndecodableFilesAndTheEngineGoesOn()
    {
        var before = Score("rgb.png");
        var missing = Assert.Throws<FileNotFoundException>(() => Score("missing.png"));
        StringAssert.Contains(missing.Message, s_cases.PathOf("missing.png"));
        foreach (string name in new[] { s_cases.Empty("empty.png"), s_cases.Text("text.png"), s_cases.CorruptJpeg("corrupt.jpg", "rgb.jpg"), s_cases.CorruptPng("corrupt.png", "rgb.png") })
        {
            var e = Assert.Throws<ArgumentException>(() => Score(name), name);
            StringAssert.Contains(e.Message, "Invalid input stream contents", "ML.NET does not name the file");
            Assert.IsFalse(ImageCheck.Check(s_cases.PathOf(name)).IsReadable, name);
        }
        AssertSame(before, Score("rgb.png"), "the engine still scores after the failures");
    }

    [TestMethod]
    public void PlainMLNetScoresTruncatedPngAndJpegSilentlyWhichImageCheckCatches()
    {
        foreach (string name in new[] { s_cases.Truncated("half.png", "rgb.png"), s_cases.Truncated("half.jpg", "rgb.jpg") })
        {
            var p = Score(name); // no exception: the decoder fills in the missing part
            Assert.IsTrue(float.IsFinite(p.Score), name);
            Assert.AreEqual(ImageProblem.Truncated, ImageCheck.Check(s_cases.PathOf(name)).Problem, name);
        }
    }
}
