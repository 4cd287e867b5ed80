using System.Text.Json;
using Rkde.Cli.Scenes;
using SkiaSharp;

namespace Rkde.Cli.Tests.Scenes;

[TestClass]
public sealed class MakeScenesTests
{
    private static string _mnist = "";

    [ClassInitialize]
    public static void MakeFashionMnist(TestContext _) => _mnist = TestData.FakeFashionMnist();

    /// <summary>make-scenes arguments for a small, fast set; <paramref name="extra"/> adds or replaces options.</summary>
    private static string[] Args(string outDir, params string[] extra)
    {
        var options = new List<(string Name, string? Value)>
        {
            ("--out", outDir), ("--fashion-mnist", _mnist), ("--background", "plain"), ("--train", "4"), ("--test-good", "2"),
            ("--test-anomalous", "4"), ("--width", "160"), ("--height", "120"), ("--item-size", "32-48"),
        };
        for (int i = 0; i < extra.Length; i++)
        {
            string? value = i + 1 < extra.Length && !extra[i + 1].StartsWith("--") ? extra[++i] : null;
            options.RemoveAll(o => o.Name == extra[value is null ? i : i - 1]);
            options.Add((extra[value is null ? i : i - 1], value));
        }
        return ["make-scenes", .. options.SelectMany(o => o.Value is null ? new[] { o.Name } : [o.Name, o.Value])];
    }

    [TestMethod]
    public void SameSeedGivesIdenticalBytesAndAnotherSeedDoesNot()
    {
        string a = TestData.TempFolder(), b = TestData.TempFolder(), c = TestData.TempFolder();
        Assert.AreEqual(0, CliRunner.Run(Args(a, "--seed", "5")).Code);
        Assert.AreEqual(0, CliRunner.Run(Args(b, "--seed", "5")).Code);
        Assert.AreEqual(0, CliRunner.Run(Args(c, "--seed", "6")).Code);
        var files = Directory.GetFiles(a, "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(a, f)).Order().ToList();
        CollectionAssert.AreEqual(files, Directory.GetFiles(b, "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(b, f)).Order().ToList());
        foreach (string f in files)
        {
            CollectionAssert.AreEqual(File.ReadAllBytes(Path.Combine(a, f)), File.ReadAllBytes(Path.Combine(b, f)), f);
        }
        Assert.IsFalse(File.ReadAllBytes(Path.Combine(a, "train/good/000.png")).SequenceEqual(File.ReadAllBytes(Path.Combine(c, "train/good/000.png"))));
    }

    [TestMethod]
    public void WritesTheMvtecLayoutWithMasksMatchingTheAnomalousBoxes()
    {
        string root = TestData.TempFolder();
        var r = CliRunner.Run(Args(root, "--anomaly-classes", "bag,sneaker"));
        Assert.AreEqual(0, r.Code, r.Err);
        Assert.HasCount(4, Directory.GetFiles(Path.Combine(root, "train/good")));
        Assert.HasCount(2, Directory.GetFiles(Path.Combine(root, "test/good")));
        Assert.HasCount(2, Directory.GetFiles(Path.Combine(root, "test/bag")));
        Assert.HasCount(2, Directory.GetFiles(Path.Combine(root, "ground_truth/sneaker")));

        var boxes = SceneBoxes.Load(Path.Combine(root, "boxes.json"));
        Assert.HasCount(10, boxes.Images);
        foreach (var image in boxes.Images)
        {
            bool anomalousScene = image.Kind != "good";
            Assert.AreEqual(anomalousScene, image.Objects.Any(o => o.Anomalous), image.Image);
            Assert.IsTrue(image.Objects.Count >= 2 && image.Objects.Count <= 5, image.Image);
            Assert.IsTrue(image.Objects.Where(o => o.Anomalous).All(o => o.Class == image.Kind), image.Image);
            Assert.IsTrue(image.Objects.Where(o => !o.Anomalous).All(o => o.Class is "tshirt_top" or "trouser" or "pullover" or "dress" or "coat" or "shirt"));
            if (!anomalousScene)
            {
                continue;
            }
            // The mask's anomalous pixels lie inside the anomalous boxes and reach every box edge.
            string name = Path.GetFileNameWithoutExtension(image.Image);
            using var mask = SKBitmap.Decode(Path.Combine(root, "ground_truth", image.Kind, $"{name}_mask.png"));
            Assert.AreEqual(160, mask.Width);
            var anomalous = image.Objects.Where(o => o.Anomalous).Select(o => o.Box).ToList();
            int inside = 0;
            for (int y = 0; y < mask.Height; y++)
            {
                for (int x = 0; x < mask.Width; x++)
                {
                    if (mask.GetPixel(x, y).Red == 0) continue;
                    Assert.IsTrue(anomalous.Any(b => x >= b[0] && x < b[2] && y >= b[1] && y < b[3]), $"{image.Image}: mask pixel ({x},{y}) outside the boxes");
                    inside++;
                }
            }
            Assert.IsGreaterThan(0, inside);
            foreach (var b in anomalous)
            {
                Assert.AreNotEqual(0, mask.GetPixel((int)b[0], Enumerable.Range((int)b[1], (int)(b[3] - b[1])).First(y => mask.GetPixel((int)b[0], y).Red != 0)).Red);
            }
        }
        using var settings = JsonDocument.Parse(File.ReadAllText(Path.Combine(root, "boxes.json")));
        Assert.AreEqual(2026, settings.RootElement.GetProperty("settings").GetProperty("seed").GetInt32());
    }

    [TestMethod]
    public void UsesPhotosFromABackgroundsFolder()
    {
        string photos = TestData.TempFolder();
        TestData.WritePng(Path.Combine(photos, "wall.png"), 200, 200, new SKColor(10, 200, 30));
        string root = TestData.TempFolder();
        var r = CliRunner.Run(Args(root, "--background", "texture", "--backgrounds", photos));
        Assert.AreEqual(0, r.Code, r.Err);
        using var scene = SKBitmap.Decode(Path.Combine(root, "train/good/000.png"));
        var corner = scene.GetPixel(0, 0);
        Assert.IsTrue(corner.Green > 100 && corner.Red < 60, corner.ToString());
    }

    [TestMethod]
    public void BadArgumentsEndWithOneLine()
    {
        string root = TestData.TempFolder();
        CliRunner.AssertOneLineError(CliRunner.Run(Args(root, "--item-size", "50-20")), "--item-size 50-20");
        CliRunner.AssertOneLineError(CliRunner.Run(Args(root, "--anomaly-classes", "shoe")), "unknown class 'shoe'");
        CliRunner.AssertOneLineError(CliRunner.Run(Args(root, "--normal-classes", "bag")), "overlap");
        CliRunner.AssertOneLineError(CliRunner.Run("make-scenes", "--out", root, "--fashion-mnist", "/nonexistent", "--background", "plain"), "dataset-fashion-mnist");
        CliRunner.AssertOneLineError(CliRunner.Run(Args(root, "--backgrounds", "/nonexistent", "--background", "texture")), "--backgrounds");
        CliRunner.AssertOneLineError(CliRunner.Run("make-scenes"), "--out");
        Assert.AreEqual(0, CliRunner.Run(Args(root)).Code);
        CliRunner.AssertOneLineError(CliRunner.Run(Args(root)), "--force");
        Assert.AreEqual(0, CliRunner.Run(Args(root, "--force")).Code);
    }
}
