using System.IO.Compression;
using Google.Protobuf;
using Microsoft.ML;
using Onnx;

namespace Rkde.MLNet.Tests;

/// <summary>LoadRkdeModel: a good model loads as with Model.Load; missing, broken, foreign or other-version models fail naming the file.</summary>
[TestClass]
public sealed class ModelLoadTests
{
    private static TestImages s_images = null!;
    private static string s_model = "";
    private static ImageInput[] s_test = [];

    [ClassInitialize]
    public static void FitAndSave(TestContext _)
    {
        s_images = new TestImages();
        var train = Enumerable.Range(0, 8).Select(i => new ImageInput { ImagePath = s_images.Noise($"train{i}.png", 40, 30, seed: i) }).ToArray();
        s_test = [new() { ImagePath = s_images.Noise("test.png", 40, 30, seed: 9, r: 200) }];
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(train);
        s_model = Path.Combine(s_images.Folder, "rkde.zip");
        ml.Model.Save(ml.Transforms.RkdeAnomaly(RkdeAnomalyTests.Options(s_images.Folder)).Fit(data), data.Schema, s_model);
    }

    [ClassCleanup]
    public static void Cleanup() => s_images?.Dispose();

    private static string Copy(string name, byte[] bytes)
    {
        string path = Path.Combine(s_images.Folder, name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    private static string LoadFails(string path) =>
        Assert.Throws<InvalidDataException>(() => new MLContext().Model.LoadRkdeModel(path, out _)).Message;

    [TestMethod]
    public void AGoodModelLoadsAndScoresAsModelLoadDoes()
    {
        var ml = new MLContext();
        var checkedModel = ml.Model.LoadRkdeModel(s_model, out var schema);
        Assert.IsNotNull(schema.GetColumnOrNull("ImagePath"));
        var plain = ml.Model.Load(s_model, out _);
        var a = ml.Data.CreateEnumerable<RkdePrediction>(checkedModel.Transform(ml.Data.LoadFromEnumerable(s_test)), false).Single();
        var b = ml.Data.CreateEnumerable<RkdePrediction>(plain.Transform(ml.Data.LoadFromEnumerable(s_test)), false).Single();
        CollectionAssert.AreEqual(b.BoxScores, a.BoxScores);
        Assert.IsGreaterThan(0, a.BoxCount);
    }

    [TestMethod]
    public void AMissingModelIsFileNotFound()
    {
        string path = Path.Combine(s_images.Folder, "none.zip");
        var e = Assert.Throws<FileNotFoundException>(() => new MLContext().Model.LoadRkdeModel(path, out _));
        StringAssert.Contains(e.Message, $"Model '{path}' does not exist");
    }

    [TestMethod]
    public void NotAZipEmptyOrTruncatedIsNamed()
    {
        byte[] bytes = File.ReadAllBytes(s_model);
        foreach (string path in new[] { Copy("text.zip", "hello"u8.ToArray()), Copy("empty.zip", []), Copy("half.zip", bytes[..(bytes.Length / 2)]) })
        {
            string m = LoadFails(path);
            StringAssert.Contains(m, $"Model '{path}' is not a complete model .zip");
            StringAssert.Contains(m, "truncated, damaged or not a model");
            var plain = Assert.Throws<FormatException>(() => new MLContext().Model.Load(path, out _), "plain Model.Load");
            Assert.AreEqual("Failed to open a zip archive", plain.Message);
        }
    }

    [TestMethod]
    public void ADamagedGraphOrStageIsNamed()
    {
        string graph = LoadFails(Damage("graph.zip", FittedEntry()));
        StringAssert.Contains(graph, "is not a complete model .zip");
        string stage = LoadFails(Damage("stage.zip", "TransformerChain/Model.key"));
        StringAssert.Contains(stage, "holds R-KDE graphs but ML.NET cannot load it");
    }

    /// <summary>A copy of the model with bytes of one entry's compressed data overwritten (its CRC no longer matches).</summary>
    private static string Damage(string name, string entry)
    {
        byte[] bytes = File.ReadAllBytes(s_model);
        // The local header (30 bytes, then the name, then the data) comes before the central directory's copy of the name.
        int at = bytes.AsSpan().IndexOf(System.Text.Encoding.ASCII.GetBytes(entry)) + entry.Length;
        bytes.AsSpan(at + 4, 8).Fill(0x55);
        return Copy(name, bytes);
    }

    [TestMethod]
    public void AnIntactEntryThatHoldsNoOnnxModelIsNamed()
    {
        string entry = FittedEntry();
        string path = Path.Combine(s_images.Folder, "garbage.zip");
        File.Copy(s_model, path, overwrite: true);
        using (var zip = ZipFile.Open(path, ZipArchiveMode.Update))
        {
            zip.GetEntry(entry)!.Delete();
            using var stream = zip.CreateEntry(entry).Open();
            stream.Write([0xFF, 0xFF, 0xFF, 0xFF, 1, 2, 3, 4]); // a negative length, then bytes
        }
        StringAssert.Contains(LoadFails(path), $"is not a complete model .zip (entry {entry} does not hold an ONNX model as ML.NET writes it)");
    }

    [TestMethod]
    public void AModelWithoutRkdeGraphsIsNotAnRkdeModel()
    {
        var ml = new MLContext();
        var data = ml.Data.LoadFromEnumerable(new[] { new { A = 1f, B = 2f } });
        string path = Path.Combine(s_images.Folder, "other.zip");
        ml.Model.Save(ml.Transforms.Concatenate("C", "A", "B").Fit(data), data.Schema, path);
        StringAssert.Contains(LoadFails(path), $"Model '{path}' is not an R-KDE model: it holds no fitted R-KDE graph");
    }

    [TestMethod]
    public void AGraphOfAnotherFormatVersionIsNamed()
    {
        string path = Path.Combine(s_images.Folder, "v4.zip");
        File.Copy(s_model, path, overwrite: true);
        string entryName = ZipGraphs.Rewrite(path, "fitted", g => g.MetadataProps.Single(p => p.Key == "rkde_format_version").Value = "4");
        string m = LoadFails(path);
        StringAssert.Contains(m, $"Model '{path}' holds an R-KDE fitted graph of rkde_format_version '4' (entry {entryName}); this Rkde.MLNet reads versions 1, 2, 3.");
    }

    [TestMethod]
    public void AVersionTwoModelStillLoadsScoresAndExports()
    {
        string path = Path.Combine(s_images.Folder, "v2.zip");
        File.Copy(s_model, path, overwrite: true);
        ZipGraphs.Rewrite(path, "fitted", AsVersionTwo);
        var ml = new MLContext();
        var scored = ml.Model.LoadRkdeModel(path, out _).Transform(ml.Data.LoadFromEnumerable(s_test));
        var expected = ml.Model.Load(s_model, out _).Transform(ml.Data.LoadFromEnumerable(s_test));
        Assert.AreEqual(ml.Data.CreateEnumerable<RkdePrediction>(expected, false).Single().Score,
            ml.Data.CreateEnumerable<RkdePrediction>(scored, false).Single().Score);
        using var export = new MemoryStream();
        ml.Model.ExportRkdeOnnx(path, export, batched: false);
        Assert.IsGreaterThan(0L, export.Length);
        Assert.AreEqual(ml.Model.ReadRkdeModelInfo(s_model).Threshold, ml.Model.ReadRkdeModelInfo(path).Threshold);
    }

    /// <summary>
    /// A fitted graph as format 2 wrote it: every part stamped version 2, without the update state's metadata (the
    /// initializers its nodes read stay; a version-2 graph held the same values under its own layout).
    /// </summary>
    internal static void AsVersionTwo(ModelProto graph)
    {
        foreach (var entry in graph.MetadataProps.Where(p => p.Key.EndsWith("rkde_format_version", StringComparison.Ordinal)))
            entry.Value = "2";
        foreach (var entry in graph.MetadataProps.Where(p => p.Key is "density/rkde_regions_seen" or "density/rkde_sampler_state"
            or "density/rkde_max_training_points" or "density/rkde_threshold_scores").ToList())
            graph.MetadataProps.Remove(entry);
    }

    [TestMethod]
    public void EveryGraphRkdeEmitsCarriesTheFormatVersion()
    {
        using var zip = ZipFile.OpenRead(s_model);
        var stages = zip.Entries.Where(e => e.Name == "OnnxModel").Select(Metadata)
            .Where(m => m.ContainsKey("rkde_format_version")).Select(m => (m["rkde_stage"], m["rkde_format_version"])).Order().ToArray();
        CollectionAssert.AreEqual(new[] { ("fitted", "3") }, stages, "one graph, holding the user models, the region filter and the density");
    }

    /// <summary>The .zip entry holding the fitted model's one ONNX graph.</summary>
    private static string FittedEntry()
    {
        using var zip = ZipFile.OpenRead(s_model);
        return zip.Entries.Where(e => e.Name == "OnnxModel").Single(e => Metadata(e).GetValueOrDefault("rkde_stage") == "fitted").FullName;
    }

    private static Dictionary<string, string> Metadata(ZipArchiveEntry entry)
    {
        using var reader = new BinaryReader(entry.Open());
        return ModelProto.Parser.ParseFrom(reader.ReadBytes(reader.ReadInt32())).MetadataProps.ToDictionary(p => p.Key, p => p.Value);
    }
}
