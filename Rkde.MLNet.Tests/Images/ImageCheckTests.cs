using Microsoft.ML;
using Rkde.MLNet.Images;

namespace Rkde.MLNet.Tests.Images;

/// <summary>ImageCheck on every image case of the README's bad-input table: readable variants give their size; broken files give the problem and a message naming the file.</summary>
[TestClass]
public sealed class ImageCheckTests
{
    private static ImageCases s_cases = null!;

    [ClassInitialize]
    public static void WriteCases(TestContext _)
    {
        s_cases = new ImageCases();
        s_cases.Rgb("rgb.png", 1);
        s_cases.Jpeg("rgb.jpg", 1);
    }

    [ClassCleanup]
    public static void Cleanup() => s_cases?.Dispose();

    private static ImageCheckResult Check(string name) => ImageCheck.Check(s_cases.PathOf(name));

    [TestMethod]
    public void ReadableVariantsGiveTheirSize()
    {
        foreach (string name in new[] { "rgb.png", "rgb.jpg", s_cases.Gray("gray.png", 1), s_cases.Rgba("rgba.png", 1), s_cases.Rgb16("rgb16.png", 1) })
        {
            var r = Check(name);
            Assert.AreEqual(ImageProblem.None, r.Problem, r.Message);
            Assert.IsTrue(r.IsReadable);
            Assert.AreEqual((ImageCases.Width, ImageCases.Height), (r.Width, r.Height), name);
            Assert.IsNull(r.Message);
        }
        var cmyk = Check(s_cases.Cmyk("cmyk.jpg"));
        Assert.AreEqual((ImageProblem.None, 48, 32), (cmyk.Problem, cmyk.Width, cmyk.Height));
        var tiny = Check(s_cases.Tiny("tiny.png", 2));
        Assert.AreEqual((ImageProblem.None, 10, 10), (tiny.Problem, tiny.Width, tiny.Height));
    }

    [TestMethod]
    public void TheHandWritten16BitPngIsReally16Bit()
    {
        byte[] png = File.ReadAllBytes(s_cases.PathOf(s_cases.Rgb16("depth.png", 3)));
        Assert.AreEqual(16, png[24], "IHDR bit depth");
        Assert.AreEqual(2, png[25], "IHDR colour type RGB");
    }

    [TestMethod]
    public void AVeryLargeImageIsReadable()
    {
        var r = Check(s_cases.Large("large.png", 8000, 6000));
        Assert.AreEqual((ImageProblem.None, 8000, 6000), (r.Problem, r.Width, r.Height));
    }

    [TestMethod]
    public void AHeaderClaimingMoreThanMaxPixelsIsTooLargeWithoutAllocatingIt()
    {
        var r = Check(s_cases.Rgb16("huge.png", 1, declaredWidth: 60_000, declaredHeight: 60_000));
        Assert.AreEqual(ImageProblem.TooLarge, r.Problem);
        StringAssert.Contains(r.Message, "declares 60,000 × 60,000 pixels, more than 268,435,456 pixels");
        Assert.AreEqual(ImageProblem.Truncated, Check(s_cases.Rgb16("tall.png", 1, declaredHeight: 300)).Problem, "a header claiming more rows than the data holds");
    }

    [TestMethod]
    public void MissingFilesAndEmptyPathsAreMissing()
    {
        var r = Check("nowhere.png");
        Assert.AreEqual(ImageProblem.Missing, r.Problem);
        Assert.IsFalse(r.IsReadable);
        StringAssert.Contains(r.Message, $"Image '{s_cases.PathOf("nowhere.png")}' does not exist");
        Assert.AreEqual(ImageProblem.Missing, ImageCheck.Check("").Problem);
    }

    [TestMethod]
    public void BrokenFilesAreNamedWithTheirProblem()
    {
        var cases = new (string Name, ImageProblem Problem, string Says)[]
        {
            (s_cases.Empty("empty.png"), ImageProblem.Empty, "is an empty file (0 bytes)"),
            (s_cases.Text("text.png"), ImageProblem.NotAnImage, "is not an image in a format SkiaSharp decodes"),
            (s_cases.Truncated("half.png", "rgb.png"), ImageProblem.Truncated, "is truncated: the file ends before the image does"),
            (s_cases.Truncated("half.jpg", "rgb.jpg"), ImageProblem.Truncated, "is truncated"),
            (s_cases.CorruptJpeg("corrupt.jpg", "rgb.jpg"), ImageProblem.Corrupt, "is corrupt"),
            (s_cases.CorruptPng("corrupt.png", "rgb.png"), ImageProblem.Corrupt, "is corrupt"),
        };
        foreach (var (name, problem, says) in cases)
        {
            var r = Check(name);
            Assert.AreEqual(problem, r.Problem, name);
            Assert.AreEqual((0, 0), (r.Width, r.Height), name);
            StringAssert.Contains(r.Message, $"'{s_cases.PathOf(name)}'", name);
            StringAssert.Contains(r.Message, says, name);
        }
    }

    [TestMethod]
    public void CheckColumnJoinsTheFolderAndKeepsRowOrder()
    {
        var ml = new MLContext();
        var data = ml.Data.LoadFromEnumerable(new[] { "rgb.png", "nowhere.png", s_cases.Text("column.png"), "" }.Select(p => new { ImagePath = p }));
        var results = ImageCheck.CheckColumn(data, "ImagePath", s_cases.Folder);
        CollectionAssert.AreEqual(new[] { ImageProblem.None, ImageProblem.Missing, ImageProblem.NotAnImage, ImageProblem.Missing },
            results.Select(r => r.Problem).ToArray());
        Assert.AreEqual(s_cases.PathOf("rgb.png"), results[0].Path);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => ImageCheck.CheckColumn(data, "Path"));
        StringAssert.Contains(e.Message, "Input column 'Path' (columnName) is missing");
    }
}
