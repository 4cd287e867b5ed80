using Microsoft.ML;
using Rkde.MLNet.DefaultModel;
using Rkde.MLNet.Onnx;
using Rkde.MLNet.Regions;

namespace Rkde.MLNet.Features;

/// <summary>
/// The feature-extractor model slot: inputs "boxes" float [1, N, 4] (pixels of the model input) and "image"
/// float [1, 3, H, W] and/or tensors named like extra proposer outputs → "features" float [1, N, D] with D fixed.
/// </summary>
internal sealed class FeatureSlot
{
    public const string Image = "image";
    public const string Boxes = "boxes";
    public const string Features = "features";

    /// <summary>The slot's display name in errors.</summary>
    public const string SlotName = "feature model";

    /// <summary>
    /// The feature extractor from <paramref name="path"/> or <paramref name="bytes"/>, checked at once so that a wrong model
    /// fails when the estimator is built; with neither, <paramref name="builtIn"/> (default: the embedded ResNet18 extractor), built on first use.
    /// </summary>
    public static Lazy<FeatureSlot> Load(string? path, byte[]? bytes, int width, int height, string pathOption, string bytesOption,
        Func<byte[]>? builtIn = null)
    {
        var slot = new Lazy<FeatureSlot>(() => new FeatureSlot(
            OnnxModelContract.Load(SlotName, pathOption, path, bytesOption, bytes, builtIn ?? (() => DefaultModels.CachedFeatureExtractor(width, height))), width, height));
        if (path is not null || bytes is not null)
            _ = slot.Value;
        return slot;
    }

    private readonly OnnxModelContract _model;
    private readonly int _width;
    private readonly int _height;

    /// <summary>Checks the slot contract.</summary>
    public FeatureSlot(OnnxModelContract model, int width, int height)
    {
        _model = model;
        _width = width;
        _height = height;
        model.Require(Boxes, isInput: true, 1, -1, 4);
        if (model.HasInput(Image))
            model.Require(Image, isInput: true, 1, 3, height, width);
        model.Require(Features, isInput: false, 1, -1, -1);
        var dims = model.Dims(Features);
        if (dims[2] <= 0)
            throw new InvalidOperationException(
                $"The {model.Slot}'s output tensor '{Features}' has a symbolic last dimension; expected float [1, N, D] with D a fixed number (the feature length).");
        FeatureDimension = (int)dims[2];
    }

    /// <summary>The checked model, as given (graph inputs and outputs named by the slot contract).</summary>
    public OnnxModelContract Contract => _model;

    /// <summary>Checks that every extra input is an output of the proposer, of the same type and shape.</summary>
    public void CheckAgainst(ProposerSlot proposer)
    {
        foreach (var input in ExtraInputs)
        {
            if (!proposer.ExtraOutputs.Contains(input))
                throw new InvalidOperationException(
                    $"The {_model.Slot} has an input tensor '{input}' that is neither '{Image}', '{Boxes}' nor an output of the proposer " +
                    $"(its extra outputs: {(proposer.ExtraOutputs.Count == 0 ? "none" : string.Join(", ", proposer.ExtraOutputs.Select(o => $"'{o}'")))}).");
            _model.Require(input, isInput: true, proposer.ExtraOutputDims(input).Select(d => d is long l ? l : -1).ToArray());
            if (_model.ElementType(input) != proposer.ExtraOutputType(input))
                throw new InvalidOperationException(
                    $"The {_model.Slot}'s input tensor '{input}' is {_model.ElementType(input)}, but the proposer's output '{input}' is {proposer.ExtraOutputType(input)}.");
        }
    }

    /// <summary>D, the length of one region's feature row.</summary>
    public int FeatureDimension { get; }

    /// <summary>Inputs other than image and boxes: read from proposer outputs of the same name.</summary>
    public IReadOnlyList<string> ExtraInputs => _model.InputNames.Where(n => n != Image && n != Boxes).ToList();

    public bool ReadsImage => _model.HasInput(Image);

    /// <summary>An ONNX transformer estimator writing the features of the boxes in <paramref name="boxesColumn"/>.</summary>
    public IEstimator<ITransformer> Estimator(TransformsCatalog catalog, string pixelsColumn, string boxesColumn,
        IReadOnlyDictionary<string, string> extraColumns, string featuresColumn, int? gpuDeviceId, bool fallbackToCpu)
    {
        var inputs = new List<(string, string, object[]?)> { (Boxes, boxesColumn, [1, "N", 4]) };
        if (ReadsImage)
            inputs.Add((Image, pixelsColumn, [1, 3, _height, _width]));
        inputs.AddRange(ExtraInputs.Select(i => (i, extraColumns[i], (object[]?)OnnxModelContract.BatchOfOne(_model.Dims(i), i))));
        byte[] bytes = _model.Rewire(inputs, [(Features, featuresColumn, [1, "N", FeatureDimension])]);
        return catalog.ApplyOnnxModel([featuresColumn], inputs.Select(i => i.Item2).ToArray(), new MemoryStream(bytes),
            gpuDeviceId, fallbackToCpu);
    }
}
