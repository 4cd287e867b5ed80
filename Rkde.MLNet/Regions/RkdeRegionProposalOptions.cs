using Rkde.MLNet.Checks;
namespace Rkde.MLNet.Regions;

/// <summary>Options of <see cref="RkdeCatalog.RkdeRegionProposals"/>: proposer ONNX model + R-KDE's box post-processing.</summary>
public sealed class RkdeRegionProposalOptions
{
    /// <summary>Input column: the model input's pixels, float vector 3 × ImageHeight × ImageWidth, RGB planar, 0–1 (ExtractPixels with scaleImage 1/255). Default "Pixels".</summary>
    public string PixelsColumnName = "Pixels";

    /// <summary>Width of the model input. Default 360.</summary>
    public int ImageWidth = 360;

    /// <summary>Height of the model input. Default 240.</summary>
    public int ImageHeight = 240;

    /// <summary>
    /// Which detector stage the proposer model implements. Default <see cref="RoiStage.Rcnn"/>. Both stages go through the
    /// same post-processing (Rpn proposals keep their objectness order); a proposer whose metadata names its stage
    /// (metadata "roi_stage", as the repository's export script writes it) must match.
    /// </summary>
    public RoiStage RoiStage = RoiStage.Rcnn;

    /// <summary>Path of a proposer ONNX model; null with null bytes: the built-in default.</summary>
    public string? ProposerModelPath;

    /// <summary>A proposer ONNX model in memory; null with a null path: the built-in default.</summary>
    public byte[]? ProposerModelBytes;

    /// <summary>Boxes whose detector score is at or below this are dropped. Default 0.001.</summary>
    public float RoiScoreThreshold = 0.001f;

    /// <summary>Boxes narrower or lower than this many pixels (of the model input) are dropped. Default 25.</summary>
    public float MinBoxSize = 25;

    /// <summary>Class-agnostic NMS IoU threshold. Default 0.3.</summary>
    public float IouThreshold = 0.3f;

    /// <summary>At most this many boxes per image. Default 100.</summary>
    public int MaxDetectionsPerImage = 100;

    /// <summary>Output column: kept boxes normalised to [0, 1], 4 per box. Default "Boxes".</summary>
    public string BoxesColumnName = "Boxes";

    /// <summary>Output column: kept boxes in pixels of the model input, 4 per box (what a feature model reads). Default "RegionBoxes".</summary>
    public string PixelBoxesColumnName = "RegionBoxes";

    /// <summary>Output column: the detector's score of each kept box. Default "RegionScores".</summary>
    public string RegionScoresColumnName = "RegionScores";

    /// <summary>
    /// Extra proposer outputs (e.g. backbone feature maps) to expose as columns named like the tensors, for a feature
    /// model that reads them by name; null: every extra output whose shape is fixed apart from the batch dimension.
    /// </summary>
    public string[]? ExtraOutputColumns;

    /// <summary>GPU for ONNX Runtime (CUDA device id); null: CPU.</summary>
    public int? GpuDeviceId;

    /// <summary>When the GPU cannot be used, run on the CPU instead of failing. Default true.</summary>
    public bool FallbackToCpu = true;

    /// <summary>A copy that shares nothing mutable with this object (model bytes and the column list copied).</summary>
    internal RkdeRegionProposalOptions Clone()
    {
        var copy = (RkdeRegionProposalOptions)MemberwiseClone();
        copy.ProposerModelBytes = ProposerModelBytes?.ToArray();
        copy.ExtraOutputColumns = ExtraOutputColumns?.ToArray();
        return copy;
    }

    internal RegionFilterOptions RegionFilter => new()
    {
        RoiScoreThreshold = RoiScoreThreshold,
        MinBoxSize = MinBoxSize,
        IouThreshold = IouThreshold,
        MaxDetectionsPerImage = MaxDetectionsPerImage,
    };

    /// <summary>Throws when a value is invalid, naming the option, its value and the valid range.</summary>
    public void Validate()
    {
        OptionChecks.NotEmpty(nameof(PixelsColumnName), PixelsColumnName);
        OptionChecks.ImageSize(nameof(ImageWidth), ImageWidth, nameof(ImageHeight), ImageHeight);
        OptionChecks.Defined(nameof(RoiStage), RoiStage);
        RegionFilter.Validate();
        OptionChecks.AtLeast(nameof(GpuDeviceId), GpuDeviceId ?? 0, 0);
        OptionChecks.DistinctColumns((nameof(BoxesColumnName), BoxesColumnName), (nameof(PixelBoxesColumnName), PixelBoxesColumnName),
            (nameof(RegionScoresColumnName), RegionScoresColumnName));
    }
}
