using System.Globalization;

namespace Rkde.MLNet.Regions;

/// <summary>
/// R-KDE's post-processing of raw detector boxes (as anomalib's region extractor and torchvision's
/// <c>remove_small_boxes</c> / <c>nms</c>, in float32 like them).
/// </summary>
internal static class RegionFilter
{
    /// <summary>
    /// Indices of the boxes that survive, in output order: drop scores ≤ <see cref="RegionFilterOptions.RoiScoreThreshold"/>,
    /// drop boxes narrower or lower than <see cref="RegionFilterOptions.MinBoxSize"/>, class-agnostic greedy NMS
    /// (highest score first, ties by lower index; suppress IoU &gt; <see cref="RegionFilterOptions.IouThreshold"/>),
    /// keep the first <see cref="RegionFilterOptions.MaxDetectionsPerImage"/>.
    /// </summary>
    /// <param name="boxes">N × 4 row-major boxes x1, y1, x2, y2 in pixels.</param>
    /// <param name="scores">N confidence scores.</param>
    /// <param name="options">The thresholds.</param>
    public static int[] Select(ReadOnlySpan<float> boxes, ReadOnlySpan<float> scores, RegionFilterOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        if (boxes.Length != 4 * scores.Length)
        {
            throw new ArgumentException(string.Create(CultureInfo.InvariantCulture,
                $"boxes holds {boxes.Length} values but scores holds {scores.Length}: boxes needs 4 values (x1, y1, x2, y2) per score, {4L * scores.Length} in all."),
                nameof(boxes));
        }

        var candidates = new List<int>();
        for (int i = 0; i < scores.Length; i++)
        {
            float width = boxes[4 * i + 2] - boxes[4 * i], height = boxes[4 * i + 3] - boxes[4 * i + 1];
            if (scores[i] > options.RoiScoreThreshold && width >= options.MinBoxSize && height >= options.MinBoxSize)
                candidates.Add(i);
        }
        var scoreArray = scores.ToArray();
        // Stable sort: highest score first, ties keep the lower index first.
        var order = candidates.OrderByDescending(i => scoreArray[i]).ToArray();

        var kept = new List<int>();
        var suppressed = new bool[order.Length];
        for (int a = 0; a < order.Length && kept.Count < options.MaxDetectionsPerImage; a++)
        {
            if (suppressed[a]) continue;
            int i = order[a];
            kept.Add(i);
            float ix1 = boxes[4 * i], iy1 = boxes[4 * i + 1], ix2 = boxes[4 * i + 2], iy2 = boxes[4 * i + 3];
            float iArea = (ix2 - ix1) * (iy2 - iy1);
            for (int b = a + 1; b < order.Length; b++)
            {
                if (suppressed[b]) continue;
                int j = order[b];
                float xx1 = Math.Max(ix1, boxes[4 * j]), yy1 = Math.Max(iy1, boxes[4 * j + 1]);
                float xx2 = Math.Min(ix2, boxes[4 * j + 2]), yy2 = Math.Min(iy2, boxes[4 * j + 3]);
                float inter = Math.Max(0f, xx2 - xx1) * Math.Max(0f, yy2 - yy1);
                float jArea = (boxes[4 * j + 2] - boxes[4 * j]) * (boxes[4 * j + 3] - boxes[4 * j + 1]);
                float iou = inter / (iArea + jArea - inter);
                if (iou > options.IouThreshold) suppressed[b] = true;
            }
        }
        return kept.ToArray();
    }
}
