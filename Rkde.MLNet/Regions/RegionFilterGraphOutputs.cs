namespace Rkde.MLNet.Regions;

/// <summary>The tensor names of the emitted region-filter graph.</summary>
internal static class RegionFilterGraphOutputs
{
    public const string Boxes = "boxes";
    public const string Scores = "scores";
    public const string KeptBoxes = "kept_boxes";
    public const string KeptScores = "kept_scores";
    public const string KeptBoxesNormalized = "kept_boxes_normalized";
}
