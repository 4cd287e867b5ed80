using Microsoft.ML;
using Rkde.MLNet.DefaultModel;
using Rkde.MLNet.Onnx;

namespace Rkde.MLNet.Regions;

/// <summary>
/// The proposer model slot: input "image" float [1, 3, H, W] (RGB, 0–1) → "boxes" float [1, N, 4] (x1, y1, x2, y2 in
/// input pixels) and "scores" float [1, N], plus any extra outputs the feature model may read by name.
/// </summary>
internal sealed class ProposerSlot
{
    public const string Image = "image";
    public const string Boxes = "boxes";
    public const string Scores = "scores";

    /// <summary>Metadata key in which exported proposers name their detector stage ("rcnn" or "rpn").</summary>
    public const string RoiStageKey = "roi_stage";

    /// <summary>The slot's display name in errors.</summary>
    public const string SlotName = "proposer model";

    /// <summary>
    /// The proposer from <paramref name="path"/> or <paramref name="bytes"/>, checked at once so that a wrong model fails
    /// when the estimator is built; with neither, <paramref name="builtIn"/> (default: the embedded ResNet18 proposer), built on first use.
    /// </summary>
    public static Lazy<ProposerSlot> Load(string? path, byte[]? bytes, int width, int height, RoiStage stage, string pathOption, string bytesOption,
        Func<byte[]>? builtIn = null)
    {
        var slot = new Lazy<ProposerSlot>(() => new ProposerSlot(
            OnnxModelContract.Load(SlotName, pathOption, path, bytesOption, bytes, builtIn ?? (() => DefaultModels.CachedProposer(width, height))), width, height, stage));
        if (path is not null || bytes is not null)
            _ = slot.Value;
        return slot;
    }

    private readonly OnnxModelContract _model;
    private readonly int _width;
    private readonly int _height;

    /// <summary>
    /// Checks the contract (throws naming the tensor, what it has and what is expected) and, when the model names its
    /// detector stage in its metadata, that it is <paramref name="stage"/>.
    /// </summary>
    public ProposerSlot(OnnxModelContract model, int width, int height, RoiStage stage)
    {
        string? declared = model.Metadata(RoiStageKey);
        if (declared is not null && !string.Equals(declared, stage.ToString(), StringComparison.OrdinalIgnoreCase))
            throw new InvalidOperationException(
                $"The {model.Slot} was exported for RoiStage '{declared}' (metadata '{RoiStageKey}'), but RoiStage = {stage}: set RoiStage to match the model, or use the model exported for {stage}.");
        _model = model;
        _width = width;
        _height = height;
        model.Require(Image, isInput: true, 1, 3, height, width);
        string? unexpected = model.InputNames.FirstOrDefault(n => n != Image);
        if (unexpected is not null)
            throw new InvalidOperationException(
                $"The {model.Slot} has an input tensor '{unexpected}' the pipeline cannot feed; a proposer reads only '{Image}' (float [1, 3, {height}, {width}]).");
        model.Require(Boxes, isInput: false, 1, -1, 4);
        model.Require(Scores, isInput: false, 1, -1);
    }

    /// <summary>The checked model, as given (graph inputs and outputs named by the slot contract).</summary>
    public OnnxModelContract Contract => _model;

    /// <summary>Outputs other than boxes and scores, such as backbone feature maps a feature model can share.</summary>
    public IReadOnlyList<string> ExtraOutputs => _model.OutputNames.Where(n => n != Boxes && n != Scores).ToList();

    /// <summary>The declared dimensions of an extra output, with the leading (batch) dimension fixed to 1.</summary>
    public object[] ExtraOutputDims(string name) => OnnxModelContract.BatchOfOne(_model.Dims(name), name);

    public global::Onnx.TensorProto.Types.DataType ExtraOutputType(string name) => _model.ElementType(name);

    /// <summary>
    /// An ONNX transformer estimator reading <paramref name="pixelsColumn"/> and writing boxes, scores and the requested
    /// extra outputs (tensor → column) to the given columns.
    /// </summary>
    public IEstimator<ITransformer> Estimator(TransformsCatalog catalog, string pixelsColumn, string boxesColumn, string scoresColumn,
        IReadOnlyDictionary<string, string> extraColumns, int? gpuDeviceId, bool fallbackToCpu)
    {
        var outputs = new List<(string, string, object[]?)>
        {
            (Boxes, boxesColumn, [1, "N", 4]),
            (Scores, scoresColumn, [1, "N"]),
        };
        outputs.AddRange(extraColumns.Select(e => (e.Key, e.Value, (object[]?)ExtraOutputDims(e.Key))));
        byte[] bytes = _model.Rewire([(Image, pixelsColumn, [1, 3, _height, _width])], outputs);
        return catalog.ApplyOnnxModel(outputs.Select(o => o.Item2).ToArray(), [pixelsColumn], new MemoryStream(bytes),
            gpuDeviceId, fallbackToCpu);
    }
}
