using System.Text.Json;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.OnnxRuntime;
using Rkde.MLNet.Features;
using Rkde.MLNet.Regions;
using Microsoft.ML.OnnxRuntime.Tensors;
using Microsoft.ML.Transforms.Image;

namespace Rkde.MLNet.Tests.Export;

/// <summary>
/// Holds the ONNX files written by Samples/Tools/ExportModels/export.py against PyTorch's own outputs on the same images.
/// The folder comes from <c>RKDE_PARITY_DIR</c> (models/ and reference/ as <c>.ci/parity</c> writes them); without it
/// the tests are inconclusive.
/// </summary>
[TestClass]
public sealed class ExportedModelParityTests
{
    private const float BoxTolerancePixels = 0.01f;
    private const float FeatureRelativeTolerance = 1e-3f;
    private const float ScoreTolerance = 1e-4f;

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
            var label = $"{reference.GetProperty("image").GetString()} ({stage})";
            var expectedBoxes = Floats(reference.GetProperty("boxes"));
            var expectedScores = Floats(reference.GetProperty("scores"));
            var (boxes, scores) = Propose(proposer, ImageTensor(dir, reference));
            Assert.IsGreaterThan(0, expectedScores.Length, $"{label}: PyTorch proposed no boxes; the test needs some.");
            Assert.HasCount(expectedScores.Length, scores, $"{label}: box count");
            AssertSameRankedBoxes(expectedBoxes, expectedScores, boxes, scores, label);
            checkedImages++;
        }
        Assert.IsGreaterThan(0, checkedImages, $"no {stage} references in {dir}");
    }

    /// <summary>
    /// Raw detector output, box by box in PyTorch's order. Only where PyTorch's scores tie (within
    /// <see cref="ScoreTolerance"/>) may ONNX Runtime order the tied boxes differently; a tie group that reaches the end
    /// of the list (the detector's top-k cut) is checked by score alone, as which of the tied boxes made the cut is
    /// arbitrary too.
    /// </summary>
    private static void AssertSameRankedBoxes(float[] expectedBoxes, float[] expectedScores, float[] boxes, float[] scores, string label)
    {
        int n = expectedScores.Length;
        for (int start = 0; start < n;)
        {
            int end = start + 1;
            while (end < n && MathF.Abs(expectedScores[end] - expectedScores[end - 1]) <= ScoreTolerance) end++;
            var unmatched = Enumerable.Range(start, end - start).ToList();
            for (int i = start; i < end; i++)
            {
                Assert.AreEqual(expectedScores[i], scores[i], ScoreTolerance, $"{label}: score of box {i}");
                if (end == n && end - start > 1) continue;
                int match = unmatched.FindIndex(j => SameBox(expectedBoxes, j, boxes, i));
                if (match < 0)
                    Assert.Fail($"{label}: box {i} [{string.Join(", ", boxes.AsSpan(4 * i, 4).ToArray())}] score {scores[i]} "
                        + $"differs by more than {BoxTolerancePixels} px from PyTorch's box {i} "
                        + $"[{string.Join(", ", expectedBoxes.AsSpan(4 * i, 4).ToArray())}] score {expectedScores[i]}"
                        + (end - start > 1 ? $" and from its score ties {start}..{end - 1}" : ""));
                unmatched.RemoveAt(match);
            }
            start = end;
        }
    }

    private static bool SameBox(float[] a, int i, float[] b, int j)
    {
        for (int c = 0; c < 4; c++)
            if (MathF.Abs(a[4 * i + c] - b[4 * j + c]) > BoxTolerancePixels) return false;
        return true;
    }

    /// <summary>
    /// The real pipeline pieces on the PNG files: LoadImages → ResizeImages → ExtractPixels (as RkdeAnomaly does) →
    /// RkdeRegionProposals (exported proposer + region filter graph) → RkdeRoiFeatures (exported feature extractor),
    /// against PyTorch's post-processed boxes (same order) and its features for them.
    /// </summary>
    [TestMethod]
    [DataRow("rcnn")]
    [DataRow("rpn")]
    public void PipelineMatchesPyTorchKeptBoxesAndFeatures(string stage)
    {
        var dir = ParityDirectory();
        var manifest = Manifest(dir);
        int width = manifest.GetProperty("width").GetInt32(), height = manifest.GetProperty("height").GetInt32();
        var references = References(manifest, stage).ToArray();
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(references.Select(r => new ImageRow { ImagePath = r.GetProperty("image").GetString()! }));
        var pipeline = ml.Transforms.LoadImages("Image", Path.Combine(dir, "images"), nameof(ImageRow.ImagePath))
            .Append(ml.Transforms.ResizeImages("Image", width, height, "Image", ImageResizingEstimator.ResizingKind.Fill))
            .Append(ml.Transforms.ExtractPixels("Pixels", "Image", ImagePixelExtractingEstimator.ColorBits.Rgb,
                ImagePixelExtractingEstimator.ColorsOrder.ARGB, interleavePixelColors: false, scaleImage: 1f / 255))
            .Append(ml.Transforms.RkdeRegionProposals(new RkdeRegionProposalOptions
            {
                ImageWidth = width,
                ImageHeight = height,
                RoiStage = stage == "rpn" ? RoiStage.Rpn : RoiStage.Rcnn,
                ProposerModelPath = ModelPath(dir, $"proposer-{stage}.onnx"),
                RoiScoreThreshold = manifest.GetProperty("score_threshold").GetSingle(),
                MinBoxSize = manifest.GetProperty("min_box_size").GetSingle(),
                IouThreshold = manifest.GetProperty("iou_threshold").GetSingle(),
                MaxDetectionsPerImage = manifest.GetProperty("max_detections_per_image").GetInt32(),
            }))
            .Append(ml.Transforms.RkdeRoiFeatures(new RkdeRoiFeatureOptions
            {
                ImageWidth = width,
                ImageHeight = height,
                FeatureModelPath = ModelPath(dir, "rkde-features.onnx"),
            }));
        var rows = ml.Data.CreateEnumerable<PipelineRow>(pipeline.Fit(data).Transform(data), reuseRowObject: false).ToArray();

        int checkedBoxes = 0;
        for (int r = 0; r < references.Length; r++)
        {
            var reference = references[r];
            var row = rows[r];
            var label = $"{reference.GetProperty("image").GetString()} ({stage})";
            var (pixels, _) = NpyFile.ReadFloat32(Path.Combine(dir, "reference", reference.GetProperty("image_tensor").GetString()!));
            Assert.HasCount(pixels.Length, row.Pixels, $"{label}: pixels");
            for (int i = 0; i < pixels.Length; i++)
                Assert.AreEqual(pixels[i], row.Pixels[i], 1e-6f, $"{label}: pixel value {i} as decoded by ML.NET vs PyTorch's input");

            var kept = reference.GetProperty("kept_indices").EnumerateArray().Select(e => e.GetInt32()).ToArray();
            var rawBoxes = Floats(reference.GetProperty("boxes"));
            var rawScores = Floats(reference.GetProperty("scores"));
            Assert.HasCount(kept.Length, row.RegionScores,
                $"{label}: kept box count (PyTorch kept [{string.Join(", ", kept)}] of its raw boxes)");
            for (int k = 0; k < kept.Length; k++)
            {
                for (int c = 0; c < 4; c++)
                    Assert.AreEqual(rawBoxes[4 * kept[k] + c], row.RegionBoxes[4 * k + c], BoxTolerancePixels,
                        $"{label}: kept box {k} coordinate {c} (PyTorch's kept box {k} is its raw box {kept[k]})");
                Assert.AreEqual(rawScores[kept[k]], row.RegionScores[k], ScoreTolerance, $"{label}: kept box {k} score");
            }

            var (expected, shape) = NpyFile.ReadFloat32(Path.Combine(dir, "reference", reference.GetProperty("features").GetString()!));
            int d = shape[1];
            Assert.HasCount(kept.Length * d, row.Features, $"{label}: features ({kept.Length} boxes × {d})");
            for (int k = 0; k < kept.Length; k++)
            {
                var expectedRow = expected.AsSpan(k * d, d);
                float scale = MathF.Max(MaxAbs(expectedRow), 1e-6f);
                for (int j = 0; j < d; j++)
                {
                    float diff = MathF.Abs(row.Features[k * d + j] - expectedRow[j]);
                    if (diff > FeatureRelativeTolerance * scale)
                        Assert.Fail($"{label}: kept box {k} feature {j}: pipeline {row.Features[k * d + j]}, PyTorch {expectedRow[j]}, "
                            + $"|diff| {diff} > {FeatureRelativeTolerance} × the box's largest feature {scale}");
                }
                checkedBoxes++;
            }
        }
        Assert.IsGreaterThan(0, checkedBoxes, $"PyTorch kept no {stage} boxes on the reference images in {dir}; the test needs some.");
    }

    [TestMethod]
    public void FeatureModelInTheProposerSlotFailsNamingTheTensor()
    {
        var dir = ParityDirectory();
        var ml = new MLContext();
        var options = new RkdeRegionProposalOptions { ProposerModelPath = ModelPath(dir, "rkde-features.onnx") };
        var error = Assert.Throws<Exception>(() => ml.Transforms.RkdeRegionProposals(options));
        StringAssert.Contains(error.Message, "proposer");
        StringAssert.Contains(error.Message, "'boxes'");
    }

    public sealed class ImageRow
    {
        public string ImagePath { get; set; } = "";
    }

    public sealed class PipelineRow
    {
        public float[] Pixels { get; set; } = [];
        public float[] RegionBoxes { get; set; } = [];
        public float[] RegionScores { get; set; } = [];
        public float[] Features { get; set; } = [];
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
