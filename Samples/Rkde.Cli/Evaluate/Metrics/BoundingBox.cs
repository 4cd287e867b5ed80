namespace Rkde.Cli.Evaluate.Metrics;

/// <summary>
/// An axis-aligned box <c>[X1, X2) × [Y1, Y2)</c> in pixels, pixel edges: a box covering columns 10 to 19 has
/// X1 = 10 and X2 = 20, and pixel (x, y) lies in it when its centre (x + ½, y + ½) does.
/// </summary>
public readonly record struct BoundingBox(float X1, float Y1, float X2, float Y2)
{
    /// <summary>Width × height; 0 for an empty or inverted box.</summary>
    public float Area => Math.Max(0f, X2 - X1) * Math.Max(0f, Y2 - Y1);

    /// <summary>Intersection over union with <paramref name="other"/>; 0 when both are empty.</summary>
    public double IntersectionOverUnion(BoundingBox other)
    {
        double w = Math.Min(X2, other.X2) - Math.Max(X1, other.X1);
        double h = Math.Min(Y2, other.Y2) - Math.Max(Y1, other.Y1);
        if (w <= 0 || h <= 0)
        {
            return 0;
        }
        double intersection = w * h;
        return intersection / ((double)Area + other.Area - intersection);
    }
}

/// <summary>A predicted box with its anomaly score (higher = more anomalous).</summary>
public readonly record struct Detection(BoundingBox Box, float Score);

/// <summary>One image's predicted boxes and ground-truth (anomalous) boxes, for box average precision.</summary>
public sealed record ImageBoxes(IReadOnlyList<Detection> Detections, IReadOnlyList<BoundingBox> GroundTruth);
