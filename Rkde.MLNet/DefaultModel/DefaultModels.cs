using System.Collections.Concurrent;
using Rkde.MLNet.Onnx;
using DataType = Onnx.TensorProto.Types.DataType;

namespace Rkde.MLNet.DefaultModel;

/// <summary>
/// The default, offline R-KDE models, built (and cached in memory) on first use from the pretrained ResNet18 of the
/// NuGet package Microsoft.ML.DnnImageFeaturizer.ResNet18 (ImageNet weights, MIT). Both take RGB images scaled to [0, 1].
/// The proposer runs the backbone once and also outputs the feature maps the feature extractor reads by name, so an image
/// costs one backbone pass when both defaults are used. Each call returns a new array holding the serialized ONNX model
/// (for <c>InferenceSession</c>, <c>ApplyOnnxModel</c> or the options' model bytes): writing into it changes no other
/// caller's model.
/// </summary>
public static class DefaultModels
{
    /// <summary>Name of the stride-8 layer2 map [1, 128, ⌈H/8⌉, ⌈W/8⌉] output by the proposer and read by the extractor.</summary>
    public const string Layer2Name = "resnet18_layer2";

    /// <summary>Name of the stride-16 layer3 map [1, 256, ⌈H/16⌉, ⌈W/16⌉] output by the proposer and read by the extractor.</summary>
    public const string Layer3Name = "resnet18_layer3";

    /// <summary>
    /// The density stage's component count with <see cref="FeatureExtractor"/> (RkdeOptions' default there). Its 1,536
    /// unit-length features need more components than anomalib's 16 to separate anomalous regions; with the isotropic
    /// kernel, 128 did better than 64 on the robustness panel's worst configuration, at twice the scoring cost of the
    /// density graph (docs/quality.md).
    /// </summary>
    public const int PcaComponents = 128;

    /// <summary>Length of each box's feature vector from <see cref="FeatureExtractor"/>.</summary>
    public static int FeatureDimension => RoiFeatureHead.Dimension(FeatureSources);

    // Layer2 and layer3, each in a 2 × 2 grid: of the trunk maps and poolings tried, they separated anomalous from normal
    // items best across the robustness panel's configurations (docs/quality.md); layer2's stride 8 sees small items.
    private static readonly RoiFeatureSource[] FeatureSources =
    [
        new(Layer2Name, ResNet18Features.Layer2Channels, 8, 2, 4),
        new(Layer3Name, ResNet18Features.Layer3Channels, 16, 2, 4),
    ];

    private static readonly ConcurrentDictionary<(string, int, int), Lazy<byte[]>> Cache = new();

    /// <summary>
    /// The default region proposer for images of <paramref name="width"/> × <paramref name="height"/> pixels (at least 32 each):
    /// input "image" float [1, 3, H, W] (RGB, 0–1) → "boxes" [1, N, 4] (x1, y1, x2, y2 in input pixels) and "scores" [1, N]
    /// in descending objectness (N ≤ 300), plus <see cref="Layer2Name"/> and <see cref="Layer3Name"/>.
    /// </summary>
    public static byte[] Proposer(int width, int height) => CachedProposer(width, height).ToArray();

    /// <summary>The cached <see cref="Proposer"/> itself, for the library's own readers, which never write into it.</summary>
    internal static byte[] CachedProposer(int width, int height) =>
        Cache.GetOrAdd(("proposer", width, height), key => new Lazy<byte[]>(() => BuildProposer(key.Item2, key.Item3))).Value;

    /// <summary>
    /// <see cref="Proposer"/> with its ResNet18 trunk in INT8 (QLinearConv with batch normalisation folded in, per-channel
    /// symmetric int8 weights, uint8 activations; see <see cref="RkdeOptions.QuantizeBackbone"/>). Activation ranges are
    /// calibrated on <paramref name="calibrationImages"/>: RGB images of the given size in [0, 1], planar (3 × H × W values
    /// each), a few training images. The layer2/layer3 maps the heads and the feature extractor read are dequantized, so the
    /// outputs and the contract are those of <see cref="Proposer"/>. Built anew at each call.
    /// </summary>
    public static byte[] QuantizedProposer(int width, int height, IReadOnlyList<float[]> calibrationImages)
    {
        ArgumentNullException.ThrowIfNull(calibrationImages);
        NativeRuntime.EnsureLoaded();
        foreach (var image in calibrationImages)
        {
            if (image.Length != 3 * width * height)
                throw new ArgumentException($"A calibration image has {image.Length} values; expected 3 × {height} × {width} = {3 * width * height}.", nameof(calibrationImages));
        }
        return TrunkQuantizer.Quantize(CachedProposer(width, height), calibrationImages);
    }

    /// <summary>
    /// The default RoI feature extractor for images of <paramref name="width"/> × <paramref name="height"/> pixels: inputs
    /// <see cref="Layer2Name"/> and <see cref="Layer3Name"/> (as the proposer outputs them) and "boxes" [1, N, 4] (input pixels)
    /// → "features" [1, N, <see cref="FeatureDimension"/>]: RoIAlign of layer2 and of layer3, each into a 2 × 2 grid and of unit
    /// length, concatenated and of unit length again (1,536 values).
    /// </summary>
    public static byte[] FeatureExtractor(int width, int height) => CachedFeatureExtractor(width, height).ToArray();

    /// <summary>The cached <see cref="FeatureExtractor"/> itself, for the library's own readers, which never write into it.</summary>
    internal static byte[] CachedFeatureExtractor(int width, int height) =>
        Cache.GetOrAdd(("features", width, height), key => new Lazy<byte[]>(() => BuildFeatureExtractor(key.Item2, key.Item3))).Value;

    private static byte[] BuildProposer(int width, int height)
    {
        ResNet18Trunk.CheckSize(width, height);
        var b = new OnnxGraphBuilder("rkde_default_proposer");
        string image = b.Input("image", DataType.Float, 1, 3, height, width);
        var trunk = ResNet18Trunk.AddTo(b, image, width, height);
        var (boxes, scores) = ObjectnessProposer.AddTo(b, trunk);
        b.Output("boxes", boxes, DataType.Float, 1, "N", 4);
        b.Output("scores", scores, DataType.Float, 1, "N");
        var (h2, w2) = trunk.MapSize(8);
        b.Output(Layer2Name, trunk.Layer2, DataType.Float, 1, ResNet18Features.Layer2Channels, h2, w2);
        var (h3, w3) = trunk.MapSize(16);
        b.Output(Layer3Name, trunk.Layer3, DataType.Float, 1, ResNet18Features.Layer3Channels, h3, w3);
        Describe(b, "regions", width, height);
        return b.ToBytes();
    }

    private static byte[] BuildFeatureExtractor(int width, int height)
    {
        ResNet18Trunk.CheckSize(width, height);
        var b = new OnnxGraphBuilder("rkde_default_features");
        var sizes = new ResNet18Features("", "", width, height);
        foreach (var source in FeatureSources)
        {
            var (h, w) = sizes.MapSize(source.Stride);
            b.Input(source.InputName, DataType.Float, 1, source.Channels, h, w);
        }
        string boxes = b.Input("boxes", DataType.Float, 1, "N", 4);
        string features = RoiFeatureHead.AddTo(b, boxes, FeatureSources);
        b.Output("features", features, DataType.Float, 1, "N", FeatureDimension);
        Describe(b, "features", width, height);
        return b.ToBytes();
    }

    private static void Describe(OnnxGraphBuilder b, string stage, int width, int height)
    {
        OnnxModelContract.Stamp(b, stage);
        b.Metadata("rkde_default_model", $"resnet18 {ResNet18Package.PackageId} {ResNet18Package.PackageVersion}");
        b.Metadata("rkde_input_size", $"{width}x{height}");
    }
}
