using Rkde.MLNet.Checks;
namespace Rkde.MLNet.Regions;

/// <summary>Post-processing of raw detector boxes, with anomalib's defaults.</summary>
internal sealed class RegionFilterOptions
{
    /// <summary>Boxes whose score is at or below this are dropped. Default 0.001.</summary>
    public float RoiScoreThreshold = 0.001f;

    /// <summary>Boxes narrower or lower than this many pixels (of the model input) are dropped. Default 25.</summary>
    public float MinBoxSize = 25;

    /// <summary>Class-agnostic NMS suppresses a box whose IoU with a higher-scored kept box exceeds this. Default 0.3.</summary>
    public float IouThreshold = 0.3f;

    /// <summary>At most this many boxes are kept per image, highest score first. Default 100.</summary>
    public int MaxDetectionsPerImage = 100;

    /// <summary>Throws when a value is outside its valid range, naming the option.</summary>
    public void Validate()
    {
        OptionChecks.InRange(nameof(RoiScoreThreshold), RoiScoreThreshold, 0, 1);
        OptionChecks.InRange(nameof(MinBoxSize), MinBoxSize, 0, double.PositiveInfinity);
        OptionChecks.InRange(nameof(IouThreshold), IouThreshold, 0, 1, minExclusive: true);
        OptionChecks.AtLeast(nameof(MaxDetectionsPerImage), MaxDetectionsPerImage, 1);
    }
}
