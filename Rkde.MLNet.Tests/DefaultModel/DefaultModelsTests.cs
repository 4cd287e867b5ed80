using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Rkde.MLNet.DefaultModel;

namespace Rkde.MLNet.Tests.DefaultModel;

[TestClass]
public sealed class DefaultModelsTests
{
    [TestMethod]
    [DataRow(360, 240)]
    [DataRow(224, 224)]
    [DataRow(97, 61)]
    public void GraphsBuildAndRunAtAnySize(int width, int height)
    {
        using var proposer = new InferenceSession(DefaultModels.Proposer(width, height));
        using var extractor = new InferenceSession(DefaultModels.FeatureExtractor(width, height));
        var scene = Scene(width, height, seed: 1, objects: 1);
        using var proposed = proposer.Run([NamedOnnxValue.CreateFromTensor("image", scene.Image)]);

        var boxes = Output(proposed, "boxes");
        var scores = Output(proposed, "scores");
        var layer2 = Output(proposed, DefaultModels.Layer2Name);
        var layer3 = Output(proposed, DefaultModels.Layer3Name);
        int n = boxes.Dimensions[1];
        CollectionAssert.AreEqual(new[] { 1, n, 4 }, boxes.Dimensions.ToArray());
        CollectionAssert.AreEqual(new[] { 1, n }, scores.Dimensions.ToArray());
        CollectionAssert.AreEqual(new[] { 1, 128, (height + 7) / 8, (width + 7) / 8 }, layer2.Dimensions.ToArray());
        CollectionAssert.AreEqual(new[] { 1, 256, (height + 15) / 16, (width + 15) / 16 }, layer3.Dimensions.ToArray());
        Assert.IsTrue(n is > 0 and <= 300, $"N = {n}");
        for (int i = 0; i < n; i++)
        {
            Assert.IsTrue(boxes[0, i, 0] >= 0 && boxes[0, i, 1] >= 0 && boxes[0, i, 2] <= width && boxes[0, i, 3] <= height);
            Assert.IsTrue(boxes[0, i, 2] > boxes[0, i, 0] && boxes[0, i, 3] > boxes[0, i, 1]);
            Assert.IsTrue(scores[0, i] is > 0 and < 1);
            if (i > 0)
                Assert.IsTrue(scores[0, i] <= scores[0, i - 1], "scores must come in descending order");
        }

        var features = Features(extractor, proposed, boxes);
        Assert.AreEqual(1536, DefaultModels.FeatureDimension, "layer2 and layer3, 2 × 2 each");
        CollectionAssert.AreEqual(new[] { 1, n, DefaultModels.FeatureDimension }, features.Dimensions.ToArray());
        var row = features.ToArray().AsSpan(0, DefaultModels.FeatureDimension);
        Assert.AreEqual(1.0, Math.Sqrt(row.ToArray().Sum(v => (double)v * v)), 1e-4, "features are unit length");
        // Each map's part is of unit length before the concatenation, so each holds half of the squared length.
        Assert.AreEqual(0.5, row[..512].ToArray().Sum(v => (double)v * v), 1e-4, "layer2's part");
    }

    [TestMethod]
    public void NoBoxesGiveNoFeatures()
    {
        using var proposer = new InferenceSession(DefaultModels.Proposer(224, 224));
        using var extractor = new InferenceSession(DefaultModels.FeatureExtractor(224, 224));
        using var proposed = proposer.Run([NamedOnnxValue.CreateFromTensor("image", Scene(224, 224, 2, 1).Image)]);
        var features = Features(extractor, proposed, new DenseTensor<float>([1, 0, 4]));
        CollectionAssert.AreEqual(new[] { 1, 0, DefaultModels.FeatureDimension }, features.Dimensions.ToArray());
    }

    /// <summary>
    /// The feature of the first object's true box in a seeded 360 × 240 scene matches golden values: its six largest
    /// components (index, value), its sum and its first and last values. They were computed once with this test's scene,
    /// the package's ResNet18 and ONNX Runtime's CPU provider, printed and pasted here; the tolerance allows for float
    /// differences between CPUs and ONNX Runtime builds, not for a change of the trunk, the RoIAlign grid or the normalisation.
    /// </summary>
    [TestMethod]
    public void AKnownBoxHasAStableFeature()
    {
        var scene = Scene(360, 240, seed: 3, objects: 2);
        var box = new DenseTensor<float>(scene.Boxes[0], [1, 1, 4]);
        using var proposer = new InferenceSession(DefaultModels.Proposer(360, 240));
        using var extractor = new InferenceSession(DefaultModels.FeatureExtractor(360, 240));
        using var proposed = proposer.Run([NamedOnnxValue.CreateFromTensor("image", scene.Image)]);
        var feature = Features(extractor, proposed, box).ToArray();

        const float tolerance = 1e-4f;
        Assert.AreEqual(DefaultModels.FeatureDimension, feature.Length);
        (int Index, float Value)[] largest = [(334, 0.17775425f), (134, 0.14316434f), (133, 0.13936245f), (132, 0.13468632f), (443, 0.12339896f), (331, 0.11762202f)];
        foreach (var (index, value) in largest)
            Assert.AreEqual(value, feature[index], tolerance, $"feature {index}");
        Assert.IsLessThan(largest[^1].Value - tolerance, feature.Where((_, i) => !largest.Any(l => l.Index == i)).Max(), "no other component is as large");
        Assert.AreEqual(23.62339f, feature.Sum(), 1e-2f, "sum");
        Assert.AreEqual(0.03008688f, feature[0], tolerance, "feature 0");
        Assert.AreEqual(0.00070273294f, feature[1535], tolerance, "feature 1535");
    }

    /// <summary>
    /// Each call returns its own copy of the cached model: writing into one leaves later calls and the pipeline's cached
    /// model intact (a size no other test uses, so that a failure here cannot corrupt them).
    /// </summary>
    [TestMethod]
    public void ReturnedModelsAreCopiesOfTheCachedOnes()
    {
        Assert.AreSame(DefaultModels.CachedProposer(66, 50), DefaultModels.CachedProposer(66, 50), "built once and cached");
        Assert.AreSame(DefaultModels.CachedFeatureExtractor(66, 50), DefaultModels.CachedFeatureExtractor(66, 50), "built once and cached");
        foreach (var get in new Func<int, int, byte[]>[] { DefaultModels.Proposer, DefaultModels.FeatureExtractor })
        {
            var mine = get(66, 50);
            var original = mine.ToArray();
            Array.Clear(mine);
            var again = get(66, 50);
            Assert.AreNotSame(mine, again);
            CollectionAssert.AreEqual(original, again, "a caller's write reached the cache");
            using var session = new InferenceSession(again);
        }
        CollectionAssert.AreEqual(DefaultModels.CachedProposer(66, 50), DefaultModels.Proposer(66, 50));
    }

    /// <summary>
    /// Tinted blobs on a noise texture: the top-100 proposals after the pipeline's default filter (sides ≥ 25 px, NMS at
    /// IoU 0.3) cover at least 80 % of the objects at IoU ≥ 0.5.
    /// </summary>
    [TestMethod]
    public void ProposalsCoverObjects()
    {
        using var proposer = new InferenceSession(DefaultModels.Proposer(360, 240));
        int covered = 0, objects = 0;
        for (int seed = 0; seed < 8; seed++)
        {
            var scene = Scene(360, 240, seed, objects: 3);
            using var proposed = proposer.Run([NamedOnnxValue.CreateFromTensor("image", scene.Image)]);
            var boxes = Output(proposed, "boxes").ToArray();
            var kept = new List<float[]>();
            for (int i = 0; i < boxes.Length / 4 && kept.Count < 100; i++)
            {
                var b = boxes.AsSpan(4 * i, 4).ToArray();
                if (b[2] - b[0] >= 25 && b[3] - b[1] >= 25 && kept.All(k => Iou(k, b) <= 0.3))
                    kept.Add(b);
            }
            Assert.IsNotEmpty(kept, $"scene {seed}: no proposals");
            foreach (var truth in scene.Boxes)
            {
                objects++;
                covered += kept.Any(k => Iou(k, truth) >= 0.5) ? 1 : 0;
            }
        }
        Assert.IsGreaterThanOrEqualTo(0.8, covered / (double)objects, $"recall {covered}/{objects}");
    }

    [TestMethod]
    public void TooSmallAnInputNamesTheSize()
    {
        var e = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => DefaultModels.Proposer(16, 240));
        StringAssert.Contains(e.Message, "width");
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => DefaultModels.FeatureExtractor(360, 20));
    }

    private static Tensor<float> Output(IDisposableReadOnlyCollection<DisposableNamedOnnxValue> values, string name) =>
        values.Single(v => v.Name == name).AsTensor<float>();

    /// <summary>The extractor run on the proposer's maps (layer2 and layer3, by name) and <paramref name="boxes"/>.</summary>
    private static Tensor<float> Features(InferenceSession extractor, IDisposableReadOnlyCollection<DisposableNamedOnnxValue> proposed, Tensor<float> boxes)
    {
        using var result = extractor.Run([
            NamedOnnxValue.CreateFromTensor(DefaultModels.Layer2Name, Output(proposed, DefaultModels.Layer2Name)),
            NamedOnnxValue.CreateFromTensor(DefaultModels.Layer3Name, Output(proposed, DefaultModels.Layer3Name)),
            NamedOnnxValue.CreateFromTensor("boxes", boxes)]);
        return result.Single(v => v.Name == "features").AsTensor<float>().Clone();
    }

    private static double Iou(float[] a, float[] b)
    {
        double w = Math.Max(0, Math.Min(a[2], b[2]) - Math.Max(a[0], b[0])), h = Math.Max(0, Math.Min(a[3], b[3]) - Math.Max(a[1], b[1]));
        double inter = w * h;
        return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter);
    }

    /// <summary>A grey noise texture (blurred, so it has structure at several scales) with tinted elliptical blobs that do not overlap.</summary>
    private static (DenseTensor<float> Image, List<float[]> Boxes) Scene(int width, int height, int seed, int objects)
    {
        var random = new Random(seed);
        var grey = new float[height * width];
        for (int i = 0; i < grey.Length; i++)
            grey[i] = (float)random.NextDouble();
        for (int pass = 0; pass < 2; pass++)
        {
            var copy = (float[])grey.Clone();
            for (int y = 0; y < height; y++)
                for (int x = 0; x < width; x++)
                    grey[y * width + x] = (copy[y * width + x] + copy[y * width + Math.Max(0, x - 1)] + copy[y * width + Math.Min(width - 1, x + 1)]
                        + copy[Math.Max(0, y - 1) * width + x] + copy[Math.Min(height - 1, y + 1) * width + x]) / 5;
        }
        var image = new DenseTensor<float>([1, 3, height, width]);
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
                for (int c = 0; c < 3; c++)
                    image[0, c, y, x] = 0.25f + 0.5f * grey[y * width + x];
        var boxes = new List<float[]>();
        for (int attempt = 0; boxes.Count < objects && attempt < 200; attempt++)
        {
            int w = random.Next(40, 90), h = random.Next(40, 90);
            if (w >= width || h >= height)
                continue;
            int x0 = random.Next(0, width - w), y0 = random.Next(0, height - h);
            float[] box = [x0, y0, x0 + w, y0 + h];
            if (boxes.Any(b => b[0] < box[2] && box[0] < b[2] && b[1] < box[3] && box[1] < b[3]))
                continue;
            boxes.Add(box);
            float[] tint = [(float)random.NextDouble(), (float)random.NextDouble(), (float)random.NextDouble()];
            for (int y = y0; y < y0 + h; y++)
                for (int x = x0; x < x0 + w; x++)
                {
                    double dx = (x + 0.5 - x0 - w / 2.0) / (w / 2.0), dy = (y + 0.5 - y0 - h / 2.0) / (h / 2.0);
                    if (dx * dx + dy * dy <= 1)
                        for (int c = 0; c < 3; c++)
                            image[0, c, y, x] = tint[c] * (0.8f + 0.2f * grey[y * width + x]);
                }
        }
        return (image, boxes);
    }
}
