namespace Rkde.MLNet.Regions;

/// <summary>Which stage of a two-stage detector supplies the region proposals (anomalib's <c>RoiStage</c>).</summary>
public enum RoiStage
{
    /// <summary>The detector's final detections (after its box head).</summary>
    Rcnn,

    /// <summary>The region proposal network's proposals, ordered by objectness.</summary>
    Rpn,
}
