namespace Rkde.Cli.Evaluate.Metrics;

/// <summary>
/// Average precision of anomalous-region detections, PASCAL VOC style with all-point interpolation
/// (VOC 2010 onwards): detections of all images ranked by score; each is a true positive when its best-overlapping
/// ground-truth box in the same image has IoU ≥ the threshold and was not matched by a higher-ranked detection,
/// otherwise a false positive. AP is the area under the precision–recall curve after making precision
/// non-increasing in recall. Detections with equal scores form one operating point (as in scikit-learn's
/// <c>average_precision_score</c>), so tied scores give the same AP in any order.
/// </summary>
public static class BoxAveragePrecision
{
    /// <summary>AP at <paramref name="iouThreshold"/> (e.g. 0.3 or 0.5) over <paramref name="images"/>.</summary>
    /// <exception cref="ArgumentException">No ground-truth box in any image, a NaN score, or an IoU threshold outside (0, 1].</exception>
    public static double Compute(IReadOnlyList<ImageBoxes> images, double iouThreshold) => Match(images, iouThreshold).Compute();

    /// <summary>
    /// Ranks every detection and decides which are true positives. A detection's outcome depends only on the detections of its own
    /// image ranked above it, so a bootstrap draw, which repeats whole images, can reuse these outcomes (<see cref="MatchedDetections.Compute"/>).
    /// </summary>
    /// <exception cref="ArgumentException">No ground-truth box in any image, a NaN score, or an IoU threshold outside (0, 1].</exception>
    public static MatchedDetections Match(IReadOnlyList<ImageBoxes> images, double iouThreshold)
    {
        ArgumentNullException.ThrowIfNull(images);
        if (!(iouThreshold > 0 && iouThreshold <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(iouThreshold), iouThreshold, "Use an IoU threshold in (0, 1], e.g. 0.3 or 0.5.");
        }
        if (images.Sum(i => i.GroundTruth.Count) == 0)
        {
            throw new ArgumentException("No ground-truth boxes in any image; box AP needs at least one anomalous region.", nameof(images));
        }

        var ranked = new List<(float Score, int Image, int Index)>();
        for (int i = 0; i < images.Count; i++)
        {
            for (int d = 0; d < images[i].Detections.Count; d++)
            {
                float score = images[i].Detections[d].Score;
                if (float.IsNaN(score))
                {
                    throw new ArgumentException($"Detection {d} of image {i} has a NaN score.", nameof(images));
                }
                ranked.Add((score, i, d));
            }
        }
        // Highest score first; the order among equal scores only decides which of them claims a shared box.
        ranked.Sort((a, b) => b.Score != a.Score ? b.Score.CompareTo(a.Score) : a.Image != b.Image ? a.Image.CompareTo(b.Image) : a.Index.CompareTo(b.Index));

        var matched = images.Select(i => new bool[i.GroundTruth.Count]).ToArray();
        var outcomes = new (float Score, int Image, bool TruePositive)[ranked.Count];
        for (int k = 0; k < ranked.Count; k++)
        {
            var (score, image, index) = ranked[k];
            var box = images[image].Detections[index].Box;
            var truth = images[image].GroundTruth;
            int best = -1;
            double bestIou = 0;
            for (int g = 0; g < truth.Count; g++)
            {
                double iou = box.IntersectionOverUnion(truth[g]);
                if (iou > bestIou)
                {
                    bestIou = iou;
                    best = g;
                }
            }
            bool hit = best >= 0 && bestIou >= iouThreshold && !matched[image][best];
            if (hit)
            {
                matched[image][best] = true;
            }
            outcomes[k] = (score, image, hit);
        }
        return new MatchedDetections(outcomes, images.Select(i => i.GroundTruth.Count).ToArray());
    }
}

/// <summary>Every detection of a set of images, highest score first, with whether it matched a ground-truth box (<see cref="BoxAveragePrecision.Match"/>).</summary>
public sealed class MatchedDetections
{
    private readonly (float Score, int Image, bool TruePositive)[] _ranked;
    private readonly int[] _groundTruth;

    internal MatchedDetections((float Score, int Image, bool TruePositive)[] ranked, int[] groundTruth)
    {
        _ranked = ranked;
        _groundTruth = groundTruth;
    }

    /// <summary>AP over all images once each.</summary>
    public double Compute() => Compute(null);

    /// <summary>
    /// AP with image i counted <paramref name="times"/>[i] times (0: left out), as if its detections and ground truth were repeated:
    /// the AP of a bootstrap draw. Null: every image once.
    /// </summary>
    /// <exception cref="ArgumentException">The draw holds no ground-truth box.</exception>
    public double Compute(IReadOnlyList<int>? times)
    {
        long groundTruth = 0;
        for (int i = 0; i < _groundTruth.Length; i++)
        {
            groundTruth += (long)_groundTruth[i] * (times?[i] ?? 1);
        }
        if (groundTruth == 0)
        {
            throw new ArgumentException("No ground-truth boxes in the images drawn; box AP needs at least one anomalous region.", nameof(times));
        }
        var recall = new List<double> { 0 };
        var precision = new List<double> { 0 };
        long tp = 0, fp = 0;
        for (int k = 0; k < _ranked.Length; k++)
        {
            var (score, image, hit) = _ranked[k];
            int weight = times?[image] ?? 1;
            if (hit) tp += weight; else fp += weight;
            bool lastOfTie = k == _ranked.Length - 1 || _ranked[k + 1].Score != score;
            if (lastOfTie && tp + fp > 0)
            {
                recall.Add((double)tp / groundTruth);
                precision.Add((double)tp / (tp + fp));
            }
        }

        // All-point interpolation: precision at recall r is the best precision at any recall ≥ r.
        for (int i = precision.Count - 2; i >= 0; i--)
        {
            precision[i] = Math.Max(precision[i], precision[i + 1]);
        }
        double ap = 0;
        for (int i = 1; i < recall.Count; i++)
        {
            ap += (recall[i] - recall[i - 1]) * precision[i];
        }
        return ap;
    }
}
