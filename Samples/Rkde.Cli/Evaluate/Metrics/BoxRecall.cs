namespace Rkde.Cli.Evaluate.Metrics;

/// <summary>
/// Recall of region proposals or detections: the share of ground-truth boxes that at least one predicted box in
/// the same image overlaps with IoU ≥ the threshold, whatever its score (e.g. "the top-100 proposals cover 90 %
/// of the objects at IoU 0.5").
/// </summary>
public static class BoxRecall
{
    /// <summary>Recall at <paramref name="iouThreshold"/> over <paramref name="images"/>.</summary>
    /// <exception cref="ArgumentException">No ground-truth box in any image, or an IoU threshold outside (0, 1].</exception>
    public static double Compute(IReadOnlyList<ImageBoxes> images, double iouThreshold)
    {
        ArgumentNullException.ThrowIfNull(images);
        if (!(iouThreshold > 0 && iouThreshold <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(iouThreshold), iouThreshold, "Use an IoU threshold in (0, 1], e.g. 0.5.");
        }
        int total = 0, covered = 0;
        foreach (var image in images)
        {
            foreach (var truth in image.GroundTruth)
            {
                total++;
                if (image.Detections.Any(d => d.Box.IntersectionOverUnion(truth) >= iouThreshold))
                {
                    covered++;
                }
            }
        }
        return total > 0
            ? (double)covered / total
            : throw new ArgumentException("No ground-truth boxes in any image; recall needs at least one.", nameof(images));
    }
}
