using Onnx;
using Rkde.MLNet.Onnx;
using Rkde.MLNet.Checks;

namespace Rkde.MLNet.DefaultModel;

/// <summary>
/// Grafts the pretrained ResNet18 trunk (stem to layer3, or to layer4 on request; the classifier is left out — layer4
/// features separated anomalous items worse, see DefaultModels) of <see cref="ResNet18Package"/> onto a graph,
/// reading an RGB image in [0, 1]. The surgery: the package's preprocessing (RGB→BGR, ×255, minus the per-channel mean)
/// is folded in (mean subtracted from the image, channel swap and ×255 folded into the stem's weights — exact, padding
/// included); BatchNormalization loses opset 8's <c>spatial</c> attribute so the graph runs at opset ≥ 16; stride-2
/// convolutions and the max-pool get symmetric pads (the CNTK export pads begin 1/end 0, which breaks the residual Adds
/// at sizes not divisible by 32), so any input size works and each stride-2 step maps n to ⌈n/2⌉.
/// </summary>
internal static class ResNet18Trunk
{
    private const string PackageInput = "Input247";
    private const string Layer2Output = "ReLU315_Output_0", Layer3Output = "ReLU347_Output_0", Layer4Output = "ReLU393_Output_0";

    public static ResNet18Features AddTo(OnnxGraphBuilder builder, string image, int width, int height, string prefix = "resnet18_",
        bool throughLayer4 = false)
    {
        CheckSize(width, height);
        var model = ResNet18Package.LoadModel();
        var graph = model.Graph;
        var meanBgr = ResNet18Package.ChannelMeanBgr();
        float[] meanRgb = [meanBgr[2] / 255f, meanBgr[1] / 255f, meanBgr[0] / 255f];
        string centred = builder.Node("Sub", [image, builder.Initializer(prefix + "mean_rgb", meanRgb, 1, 3, 1, 1)]);

        var renamed = new Dictionary<string, string> { [PackageInput] = centred };
        string Rename(string name) => renamed.TryGetValue(name, out var n) ? n : prefix + name;

        string last = throughLayer4 ? Layer4Output : Layer3Output;
        var lastNeeded = graph.Node.Select((n, i) => (n, i)).Single(p => p.n.Output.Contains(last)).i;
        var used = new HashSet<string>();
        string? stemWeights = null;
        foreach (var source in graph.Node.Take(lastNeeded + 1))
        {
            var node = source.Clone();
            node.Name = prefix + (string.IsNullOrEmpty(node.Name) ? node.Output[0] : node.Name);
            if (node.Input.Contains(PackageInput))
                stemWeights = node.Input[1];
            for (int i = 0; i < node.Input.Count; i++)
            {
                used.Add(node.Input[i]);
                node.Input[i] = Rename(node.Input[i]);
            }
            for (int i = 0; i < node.Output.Count; i++)
                node.Output[i] = Rename(node.Output[i]);
            if (node.OpType == "BatchNormalization")
                RemoveAttribute(node, "spatial");
            if (node.OpType is "Conv" or "MaxPool")
                MakePadsSymmetric(node);
            builder.Node(node);
        }
        if (stemWeights is null)
            throw new InvalidDataException($"{ResNet18Package.PackageId}: no node reads the input '{PackageInput}'.");

        foreach (var tensor in graph.Initializer.Where(t => used.Contains(t.Name)))
        {
            var copy = tensor.Name == stemWeights ? FoldPreprocessing(tensor) : tensor.Clone();
            copy.Name = Rename(tensor.Name);
            builder.Initializer(copy);
        }
        return new ResNet18Features(Rename(Layer2Output), Rename(Layer3Output), width, height, throughLayer4 ? Rename(Layer4Output) : null);
    }

    /// <summary>The smallest input the default models take: 32 pixels a side (layer3 is then 2 × 2).</summary>
    public static void CheckSize(int width, int height)
    {
        OptionChecks.AtLeast("width", width, 32, "pixels for the default ResNet18 models");
        OptionChecks.AtLeast("height", height, 32, "pixels for the default ResNet18 models");
    }

    /// <summary>Stem weights W[o, c] over BGR 0–255 become W'[o, c] = 255·W[o, 2−c] over RGB 0–1.</summary>
    private static TensorProto FoldPreprocessing(TensorProto weights)
    {
        var w = OnnxTensors.ToFloats(weights);
        long outChannels = weights.Dims[0], inChannels = weights.Dims[1], kernel = weights.Dims[2] * weights.Dims[3];
        if (inChannels != 3)
            throw new InvalidDataException($"{ResNet18Package.PackageId}: the stem convolution has {inChannels} input channels, expected 3.");
        var folded = new float[w.Length];
        for (long o = 0; o < outChannels; o++)
            for (long c = 0; c < 3; c++)
                for (long k = 0; k < kernel; k++)
                    folded[(o * 3 + c) * kernel + k] = 255f * w[(o * 3 + (2 - c)) * kernel + k];
        return OnnxTensors.FromFloats(weights.Name, folded, weights.Dims);
    }

    private static void RemoveAttribute(NodeProto node, string name)
    {
        var attribute = node.Attribute.FirstOrDefault(a => a.Name == name);
        if (attribute is not null)
            node.Attribute.Remove(attribute);
    }

    /// <summary>Pads [b1, b2, e1, e2] become [b1, b2, b1, b2] (PyTorch's convention).</summary>
    private static void MakePadsSymmetric(NodeProto node)
    {
        var pads = node.Attribute.FirstOrDefault(a => a.Name == "pads");
        if (pads is null || pads.Ints.Count != 4)
            return;
        pads.Ints[2] = pads.Ints[0];
        pads.Ints[3] = pads.Ints[1];
    }
}
