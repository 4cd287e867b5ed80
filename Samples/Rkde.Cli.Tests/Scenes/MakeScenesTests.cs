using System.Security.Cryptography;
using System.Text;
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

    /// <summary>
    /// SHA-256 over every PNG under <paramref name="root"/> in ordinal path order: the relative path, then the decoded pixels
    /// (R, G, B, A per pixel for scenes, the grey level for masks). Decoded pixels, not file bytes, so an encoder update
    /// does not change it.
    /// </summary>
    private static string PixelHash(string root)
    {
        using var sha = SHA256.Create();
        var files = Directory.GetFiles(root, "*.png", SearchOption.AllDirectories)
            .Select(f => Path.GetRelativePath(root, f).Replace('\\', '/')).Order(StringComparer.Ordinal);
        foreach (string file in files)
        {
            byte[] name = Encoding.UTF8.GetBytes(file);
            sha.TransformBlock(name, 0, name.Length, null, 0);
            using var bitmap = SKBitmap.Decode(Path.Combine(root, file));
            bool mask = file.StartsWith("ground_truth/", StringComparison.Ordinal);
            var pixels = new List<byte>(bitmap.Width * bitmap.Height * 4);
            for (int y = 0; y < bitmap.Height; y++)
            {
                for (int x = 0; x < bitmap.Width; x++)
                {
                    var c = bitmap.GetPixel(x, y);
                    if (mask) pixels.Add(c.Red); else pixels.AddRange([c.Red, c.Green, c.Blue, c.Alpha]);
                }
            }
            sha.TransformBlock([.. pixels], 0, pixels.Count, null, 0);
        }
        sha.TransformFinalBlock([], 0, 0);
        return Convert.ToHexStringLower(sha.Hash!);
    }

    /// <summary>A 200 × 150 photo of a deterministic colour pattern.</summary>
    private static string PatternPhotos()
    {
        string folder = TestData.TempFolder();
        using var bitmap = new SKBitmap(200, 150);
        for (int y = 0; y < 150; y++)
        {
            for (int x = 0; x < 200; x++)
            {
                bitmap.SetPixel(x, y, new SKColor((byte)((x * 7 + y * 3) % 256), (byte)((x * 2 + y * 11) % 256), (byte)(x * y % 256)));
            }
        }
        using var data = bitmap.Encode(SKEncodedImageFormat.Png, 100);
        File.WriteAllBytes(Path.Combine(folder, "wall.png"), data.ToArray());
        return folder;
    }

    [TestMethod]
    public void DefaultKnobsDrawTheScenesTheGeneratorDrewBeforeTheyExisted()
    {
        // Pixels of this small set as the generator drew them before the opacity, tint and photo knobs were added: the
        // defaults must keep reproducing every published set.
        string plain = TestData.TempFolder(), texture = TestData.TempFolder();
        Assert.AreEqual(0, CliRunner.Run(Args(plain)).Code);
        Assert.AreEqual(0, CliRunner.Run(Args(texture, "--background", "texture", "--backgrounds", PatternPhotos())).Code);
        Assert.AreEqual("0709cc7124e42bc16bd3663fd3d474d2a7e124f20ca009c62211803f1375b9b9", PixelHash(plain));
        Assert.AreEqual("ba63edbf8e16a1be054ea9e9f208d6c5abeab3b3eb0160fc7bf76668cdae8603", PixelHash(texture));
    }

    [TestMethod]
    [DataRow("--tint", "grey")]
    [DataRow("--tint", "natural", "--opacity", "intensity")]
    [DataRow("--opacity", "faint")]
    public void TintAndOpacityChangeTheItemsColoursOnly(params string[] knobs)
    {
        string a = TestData.TempFolder(), b = TestData.TempFolder();
        Assert.AreEqual(0, CliRunner.Run(Args(a)).Code);
        Assert.AreEqual(0, CliRunner.Run(Args(b, knobs)).Code);
        var boxesA = SceneBoxes.Load(Path.Combine(a, "boxes.json"));
        var boxesB = SceneBoxes.Load(Path.Combine(b, "boxes.json"));
        static List<string> Layout(SceneImage image) => image.Objects.Select(o => $"{string.Join(',', o.Box)} {o.Class} {o.Anomalous}").ToList();
        for (int i = 0; i < boxesA.Images.Count; i++)
        {
            CollectionAssert.AreEqual(Layout(boxesA.Images[i]), Layout(boxesB.Images[i]), boxesA.Images[i].Image);
        }
        foreach (string mask in Directory.GetFiles(Path.Combine(a, "ground_truth"), "*.png", SearchOption.AllDirectories))
        {
            CollectionAssert.AreEqual(File.ReadAllBytes(mask), File.ReadAllBytes(Path.Combine(b, Path.GetRelativePath(a, mask))), mask);
        }
        Assert.IsFalse(File.ReadAllBytes(Path.Combine(a, "train/good/000.png")).SequenceEqual(File.ReadAllBytes(Path.Combine(b, "train/good/000.png"))));
    }

    /// <summary>The centre pixel of each item of each scene (the fake items are solid there) and the scene's top-left corner (background).</summary>
    private static List<(SKColor Item, SKColor Background, string Class)> ItemCentres(string root)
    {
        var result = new List<(SKColor, SKColor, string)>();
        foreach (var image in SceneBoxes.Load(Path.Combine(root, "boxes.json")).Images)
        {
            using var bitmap = SKBitmap.Decode(Path.Combine(root, image.Image));
            foreach (var o in image.Objects)
            {
                result.Add((bitmap.GetPixel((int)((o.Box[0] + o.Box[2]) / 2), (int)((o.Box[1] + o.Box[3]) / 2)), bitmap.GetPixel(0, 0), o.Class));
            }
        }
        return result;
    }

    [TestMethod]
    public void GreyTintGivesColourlessItemsAndSaturatedColouredOnes()
    {
        string grey = TestData.TempFolder(), saturated = TestData.TempFolder();
        Assert.AreEqual(0, CliRunner.Run(Args(grey, "--tint", "grey")).Code);
        Assert.AreEqual(0, CliRunner.Run(Args(saturated)).Code);
        static int Chroma(SKColor c) => Math.Max(c.Red, Math.Max(c.Green, c.Blue)) - Math.Min(c.Red, Math.Min(c.Green, c.Blue));
        var greyItems = ItemCentres(grey);
        Assert.IsNotEmpty(greyItems);
        Assert.IsTrue(greyItems.All(i => Chroma(i.Item) == 0), string.Join(", ", greyItems.Select(i => i.Item)));
        Assert.IsGreaterThan(30.0, ItemCentres(saturated).Average(i => Chroma(i.Item)));
    }

    [TestMethod]
    public void FaintAndIntensityItemsLetTheBackgroundThrough()
    {
        // On a plain background (one colour, ±4 noise) an item pixel of alpha a is background + a·(opaque − background):
        // 0.4 for faint items, the item's own intensity for intensity items (the fake items are solid at (150 + 10·label)/255).
        string opaque = TestData.TempFolder(), faint = TestData.TempFolder(), intensity = TestData.TempFolder();
        Assert.AreEqual(0, CliRunner.Run(Args(opaque)).Code);
        Assert.AreEqual(0, CliRunner.Run(Args(faint, "--opacity", "faint")).Code);
        Assert.AreEqual(0, CliRunner.Run(Args(intensity, "--opacity", "intensity")).Code);
        var o = ItemCentres(opaque);
        var f = ItemCentres(faint);
        var n = ItemCentres(intensity);
        Assert.IsNotEmpty(o);
        for (int i = 0; i < o.Count; i++)
        {
            float alpha = (150 + 10 * Array.IndexOf(FashionMnist.ClassNames, o[i].Class)) / 255f;
            foreach (var (blended, a) in new[] { (f[i].Item, 0.4f), (n[i].Item, alpha) })
            {
                var bg = o[i].Background;
                var item = o[i].Item;
                float Expected(byte b, byte it) => b + a * (it - b);
                Assert.IsLessThanOrEqualTo(6f, Math.Abs(blended.Red - Expected(bg.Red, item.Red)), $"item {i}, alpha {a}: {blended} vs {item} on {bg}");
                Assert.IsLessThanOrEqualTo(6f, Math.Abs(blended.Green - Expected(bg.Green, item.Green)), $"item {i}, alpha {a}");
                Assert.IsLessThanOrEqualTo(6f, Math.Abs(blended.Blue - Expected(bg.Blue, item.Blue)), $"item {i}, alpha {a}");
            }
        }
    }

    [TestMethod]
    public void PhotoBackgroundsAreCroppedAtMoreScalesThanTextures()
    {
        // A horizontal ramp photo: a crop spanning a share z of its width shows a brightness range of about z·255 across the
        // scene. Textures are cropped at z ≥ 0.6, photographs from 0.2 on.
        string photos = TestData.TempFolder();
        using (var ramp = new SKBitmap(400, 300))
        {
            for (int y = 0; y < 300; y++)
                for (int x = 0; x < 400; x++)
                    ramp.SetPixel(x, y, new SKColor((byte)(x * 255 / 399), (byte)(x * 255 / 399), (byte)(x * 255 / 399)));
            using var data = ramp.Encode(SKEncodedImageFormat.Png, 100);
            File.WriteAllBytes(Path.Combine(photos, "ramp.png"), data.ToArray());
        }
        List<double> Ranges(string kind)
        {
            string root = TestData.TempFolder();
            Assert.AreEqual(0, CliRunner.Run(Args(root, "--background", kind, "--backgrounds", photos, "--train", "16", "--items", "1-1", "--item-size", "28-28")).Code);
            return Directory.GetFiles(Path.Combine(root, "train/good")).Select(file =>
            {
                using var scene = SKBitmap.Decode(file);
                // Bottom row, away from the item most of the time: the brightness span between the left and right edges.
                int y = scene.Height - 1;
                return (double)Math.Abs(scene.GetPixel(scene.Width - 1, y).Red - scene.GetPixel(0, y).Red);
            }).ToList();
        }
        var texture = Ranges("texture");
        var photo = Ranges("photo");
        Assert.IsGreaterThan(0.5 * 255 * 0.75, texture.Min(), string.Join(", ", texture));
        Assert.IsLessThan(0.5 * 255 * 0.75, photo.Min(), string.Join(", ", photo));
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
        CliRunner.AssertOneLineError(CliRunner.Run(Args(root, "--tint", "neon")), "--tint");
        Assert.AreEqual(0, CliRunner.Run(Args(root)).Code);
        CliRunner.AssertOneLineError(CliRunner.Run(Args(root)), "--force");
        Assert.AreEqual(0, CliRunner.Run(Args(root, "--force")).Code);
    }
}
