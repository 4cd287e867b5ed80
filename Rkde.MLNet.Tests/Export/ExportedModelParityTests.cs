using System.Text.Json;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace Rkde.MLNet.Tests.Export;

/// <summary>
/// Holds the ONNX files written by Samples/ExportModels/export.py against PyTorch's own outputs on the same images.
/// The folder comes from <c>RKDE_PARITY_DIR</c> (models/ and reference/ as <c>.ci/parity</c> writes them); without it
/// the tests are inconclusive.
/// </summary>
[TestClass]
public sealed class ExportedModelParityTests
{
    private const float BoxTolerancePixels = 0.01f;
    private const float FeatureRelativeTolerance = 1e-3f;
    private const float ScoreTolerance = 1e-5f;

    private static string ParityDirectory()
    {
        var dir = Environment.GetEnvironmentVariable("RKDE_PARITY_DIR");
        if (string.IsNullOrEmpty(dir))
            Assert.Inconclusive("RKDE_PARITY_DIR is not set: run .ci/parity (installs Debian's python3-torch, "
                + "exports the models with random weights plus PyTorch's reference outputs, then runs these tests).");
        if (!File.Exists(Path.Combine(dir, "reference", "reference.json")))
            Assert.Fail($"RKDE_PARITY_DIR={dir} has no reference/reference.json: write it with "
                + "export.py --random-weights --output DIR/models --reference IMAGES DIR/reference.");
        return dir;
    }

    private static JsonElement Manifest(string dir) =>
        JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "reference", "reference.json"))).RootElement;

    private static string ModelPath(string dir, string name) => Path.Combine(dir, "models", name);

    private static IEnumerable<JsonElement> References(JsonElement manifest, string stage) =>
        manifest.GetProperty("references").EnumerateArray().Where(r => r.GetProperty("stage").GetString() == stage);

    private static float[] Floats(JsonElement array) =>
        array.EnumerateArray().SelectMany(e => e.ValueKind == JsonValueKind.Array
            ? e.EnumerateArray().Select(v => v.GetSingle()) : [e.GetSingle()]).ToArray();

    private static DenseTensor<float> ImageTensor(string dir, JsonElement reference)
    {
        var (data, shape) = NpyFile.ReadFloat32(Path.Combine(dir, "reference",
            reference.GetProperty("image_tensor").GetString()!));
        return new DenseTensor<float>(data, shape);
    }

    private static (float[] Boxes, float[] Scores) Propose(InferenceSession proposer, DenseTensor<float> image)
    {
        using var results = proposer.Run([NamedOnnxValue.CreateFromTensor("image", image)]);
        var boxes = results.Single(r => r.Name == "boxes").AsTensor<float>();
        var scores = results.Single(r => r.Name == "scores").AsTensor<float>();
        CollectionAssert.AreEqual(new[] { 1, scores.Dimensions[1], 4 }, boxes.Dimensions.ToArray());
        return (boxes.ToArray(), scores.ToArray());
    }

    private static Tensor<float> Features(InferenceSession extractor, DenseTensor<float> image, float[] boxes)
    {
        var boxTensor = new DenseTensor<float>(boxes, [1, boxes.Length / 4, 4]);
        using var results = extractor.Run(
        [
            NamedOnnxValue.CreateFromTensor("image", image),
            NamedOnnxValue.CreateFromTensor("boxes", boxTensor),
        ]);
        return results.Single(r => r.Name == "features").AsTensor<float>().Clone();
    }

    [TestMethod]
    [DataRow("rcnn")]
    [DataRow("rpn")]
    public void ProposerMeetsTheSlotContract(string stage)
    {
        var dir = ParityDirectory();
        var manifest = Manifest(dir);
        using var session = new InferenceSession(ModelPath(dir, $"proposer-{stage}.onnx"));
        int h = manifest.GetProperty("height").GetInt32(), w = manifest.GetProperty("width").GetInt32();
        AssertTensor(session.InputMetadata, "image", [1, 3, h, w]);
        AssertTensor(session.OutputMetadata, "boxes", [1, -1, 4]);
        AssertTensor(session.OutputMetadata, "scores", [1, -1]);
    }

    [TestMethod]
    public void FeatureExtractorMeetsTheSlotContract()
    {
        var dir = ParityDirectory();
        var manifest = Manifest(dir);
        using var session = new InferenceSession(ModelPath(dir, "rkde-features.onnx"));
        int h = manifest.GetProperty("height").GetInt32(), w = manifest.GetProperty("width").GetInt32();
        AssertTensor(session.InputMetadata, "image", [1, 3, h, w]);
        AssertTensor(session.InputMetadata, "boxes", [1, -1, 4]);
        AssertTensor(session.OutputMetadata, "features", [1, -1, 4096]);
    }

    [TestMethod]
    [DataRow("rcnn")]
    [DataRow("rpn")]
    public void ProposerMatchesPyTorchBoxesScoresAndOrder(string stage)
    {
        var dir = ParityDirectory();
        using var proposer = new InferenceSession(ModelPath(dir, $"proposer-{stage}.onnx"));
        int checkedImages = 0;
        foreach (var reference in References(Manifest(dir), stage))
        {
            var name = reference.GetProperty("image").GetString();
            var expectedBoxes = Floats(reference.GetProperty("boxes"));
            var expectedScores = Floats(reference.GetProperty("scores"));
            var (boxes, scores) = Propose(proposer, ImageTensor(dir, reference));
            Assert.IsGreaterThan(0, expectedScores.Length, $"{name}: PyTorch proposed no boxes; the test needs some.");
            Assert.HasCount(expectedScores.Length, scores, $"{name} ({stage}): box count");
            for (int i = 0; i < boxes.Length; i++)
                Assert.AreEqual(expectedBoxes[i], boxes[i], BoxTolerancePixels,
                    $"{name} ({stage}): box {i / 4} coordinate {i % 4} (same order as PyTorch)");
            for (int i = 0; i < scores.Length; i++)
                Assert.AreEqual(expectedScores[i], scores[i], ScoreTolerance, $"{name} ({stage}): score {i}");
            checkedImages++;
        }
        Assert.IsGreaterThan(0, checkedImages, $"no {stage} references in {dir}");
    }

    [TestMethod]
    [DataRow("rcnn")]
    [DataRow("rpn")]
    public void FeaturesMatchPyTorchOnTheKeptBoxes(string stage)
    {
        var dir = ParityDirectory();
        using var proposer = new InferenceSession(ModelPath(dir, $"proposer-{stage}.onnx"));
        using var extractor = new InferenceSession(ModelPath(dir, "rkde-features.onnx"));
        int checkedBoxes = 0;
        foreach (var reference in References(Manifest(dir), stage))
        {
            var name = reference.GetProperty("image").GetString();
            var image = ImageTensor(dir, reference);
            var (boxes, _) = Propose(proposer, image);
            var kept = reference.GetProperty("kept_indices").EnumerateArray().Select(e => e.GetInt32()).ToArray();
            var keptBoxes = kept.SelectMany(k => boxes.AsSpan(4 * k, 4).ToArray()).ToArray();
            var features = Features(extractor, image, keptBoxes);
            var (expected, shape) = NpyFile.ReadFloat32(Path.Combine(dir, "reference",
                reference.GetProperty("features").GetString()!));
            CollectionAssert.AreEqual(new[] { 1, kept.Length, shape[1] }, features.Dimensions.ToArray(), name);
            var actual = features.ToArray();
            int d = shape[1];
            for (int row = 0; row < kept.Length; row++)
            {
                var expectedRow = expected.AsSpan(row * d, d);
                float scale = MathF.Max(MaxAbs(expectedRow), 1e-6f);
                for (int j = 0; j < d; j++)
                {
                    float diff = MathF.Abs(actual[row * d + j] - expectedRow[j]);
                    if (diff > FeatureRelativeTolerance * scale)
                        Assert.Fail($"{name} ({stage}) box {kept[row]} feature {j}: ONNX {actual[row * d + j]}, "
                            + $"PyTorch {expectedRow[j]}, |diff| {diff} > {FeatureRelativeTolerance} x row max {scale}");
                }
                checkedBoxes++;
            }
        }
        Assert.IsGreaterThan(0, checkedBoxes, $"no kept {stage} boxes in the references in {dir}");
    }

    [TestMethod]
    public void FeatureExtractorTakesNoBoxes()
    {
        var dir = ParityDirectory();
        var reference = Manifest(dir).GetProperty("references")[0];
        using var extractor = new InferenceSession(ModelPath(dir, "rkde-features.onnx"));
        var features = Features(extractor, ImageTensor(dir, reference), []);
        CollectionAssert.AreEqual(new[] { 1, 0, 4096 }, features.Dimensions.ToArray());
    }

    private static float MaxAbs(ReadOnlySpan<float> values)
    {
        float max = 0;
        foreach (var v in values) max = MathF.Max(max, MathF.Abs(v));
        return max;
    }

    private static void AssertTensor(IReadOnlyDictionary<string, NodeMetadata> metadata, string name, int[] dims)
    {
        Assert.IsTrue(metadata.TryGetValue(name, out var node),
            $"tensor '{name}' missing; has {string.Join(", ", metadata.Keys)}");
        Assert.AreEqual(typeof(float), node.ElementType, $"'{name}' element type");
        CollectionAssert.AreEqual(dims, node.Dimensions, $"'{name}' shape [{string.Join(",", node.Dimensions)}]");
    }
}
