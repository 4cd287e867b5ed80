using System.IO.Compression;
using System.Text;
using Microsoft.ML;

namespace Rkde.MLNet.Tests;

/// <summary>RkdeOptions.QuantizeBackbone (INT8 trunk calibrated during Fit) and GpuDeviceId with CPU fallback.</summary>
[TestClass]
public sealed class PipelinePerfOptionsTests
{
    public sealed class ImageInput
    {
        public string ImagePath { get; set; } = "";
    }

    [TestMethod]
    public void QuantizedBackboneIsCalibratedInFitAndSurvivesSaveLoad()
    {
        using var images = new TestImages();
        var train = Enumerable.Range(0, 6).Select(i => new ImageInput { ImagePath = images.Noise($"t{i}.png", 96, 64, seed: i, spread: 60) }).ToArray();
        var test = new[] { new ImageInput { ImagePath = images.Noise("n.png", 96, 64, seed: 50, spread: 60) } };
        var messages = new List<string>();
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(train);
        var options = new RkdeOptions
        {
            ImageFolder = images.Folder, ImageWidth = 96, ImageHeight = 64, PcaComponents = 4, QuantizeBackbone = true,
            Progress = new SynchronousProgress(messages.Add),
        };
        var model = ml.Transforms.RkdeAnomaly(options).Fit(data);
        Assert.IsTrue(messages.Any(m => m.Contains("calibrating", StringComparison.Ordinal) && m.Contains("6 training images", StringComparison.Ordinal)),
            string.Join(" | ", messages));
        var before = ml.Data.CreateEnumerable<RkdePrediction>(model.Transform(ml.Data.LoadFromEnumerable(test)), false).Single();
        Assert.IsGreaterThan(0, before.BoxCount);

        string path = Path.Combine(images.Folder, "rkde-int8.zip");
        ml.Model.Save(model, data.Schema, path);
        using (var archive = ZipFile.OpenRead(path))
        {
            bool quantized = archive.Entries.Where(e => e.FullName.EndsWith("/OnnxModel", StringComparison.Ordinal)).Any(e =>
            {
                using var reader = new StreamReader(e.Open(), Encoding.Latin1);
                return reader.ReadToEnd().Contains("QLinearConv", StringComparison.Ordinal);
            });
            Assert.IsTrue(quantized, "the saved proposer graph holds the INT8 trunk");
        }
        var fresh = new MLContext();
        var after = fresh.Data.CreateEnumerable<RkdePrediction>(fresh.Model.Load(path, out _).Transform(fresh.Data.LoadFromEnumerable(test)), false).Single();
        RkdeAnomalyTests.AssertClose(before.BoxScores, after.BoxScores);
        Assert.AreEqual(before.Score, after.Score, 1e-6f);
    }

    [TestMethod]
    public void QuantizeBackboneNeedsTheDefaultProposer()
    {
        var options = RkdeAnomalyTests.Options("/tmp");
        options.QuantizeBackbone = true;
        var e = Assert.ThrowsExactly<ArgumentException>(options.Validate);
        StringAssert.Contains(e.Message, nameof(RkdeOptions.QuantizeBackbone));
        StringAssert.Contains(e.Message, nameof(RkdeOptions.ProposerModelPath));
    }

    [TestMethod]
    public void GpuDeviceIdWithoutUsableGpuFitsAndScoresOnCpuWithAWarning()
    {
        using var images = new TestImages();
        var train = Enumerable.Range(0, 6).Select(i => new ImageInput { ImagePath = images.Noise($"t{i}.png", 40, 30, seed: i) }).ToArray();
        var messages = new List<string>();
        var options = RkdeAnomalyTests.Options(images.Folder);
        options.GpuDeviceId = 0;
        options.Progress = new SynchronousProgress(messages.Add);
        var ml = new MLContext(seed: 1);
        var model = ml.Transforms.RkdeAnomaly(options).Fit(ml.Data.LoadFromEnumerable(train));
        var warnings = messages.Where(m => m.StartsWith("warning:", StringComparison.Ordinal)).ToList();
        if (warnings.Count == 0)
            Assert.Inconclusive("CUDA device 0 is usable on this machine: there is no fallback to see.");
        Assert.HasCount(1, warnings, "one warning for all stages");
        StringAssert.Contains(warnings[0], "GpuDeviceId = 0");
        StringAssert.Contains(warnings[0], "CPU");
        var scored = ml.Data.CreateEnumerable<RkdePrediction>(model.Transform(ml.Data.LoadFromEnumerable(train.Take(2))), false).ToArray();
        Assert.IsTrue(scored.All(p => p.BoxCount > 0 && float.IsFinite(p.Score)));
    }

    [TestMethod]
    public void GpuDeviceIdWithoutFallbackFailsNamingTheOption()
    {
        using var images = new TestImages();
        var options = RkdeAnomalyTests.Options(images.Folder);
        options.GpuDeviceId = 0;
        options.FallbackToCpu = false;
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(new[] { new ImageInput { ImagePath = images.Noise("a.png", 40, 30, seed: 1) } });
        try
        {
            ml.Transforms.RkdeAnomaly(options).Fit(data);
        }
        catch (InvalidOperationException e)
        {
            StringAssert.Contains(e.Message, "GpuDeviceId = 0");
            StringAssert.Contains(e.Message, "FallbackToCpu");
            return;
        }
        Assert.Inconclusive("CUDA device 0 is usable on this machine.");
    }
}
