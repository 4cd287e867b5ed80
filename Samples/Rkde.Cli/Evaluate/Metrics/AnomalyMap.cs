namespace Rkde.Cli.Evaluate.Metrics;

/// <summary>
/// Pixel-level evaluation of box detectors: a box-derived anomaly map gives each pixel the highest score of the
/// boxes covering it (0 where none does), compared against ground-truth masks.
/// </summary>
public static class AnomalyMap
{
    /// <summary>The width × height map (row-major) of <paramref name="detections"/>, boxes in pixels.</summary>
    public static float[] FromBoxes(int width, int height, IReadOnlyList<Detection> detections)
    {
        if (width <= 0 || height <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(width), $"The map must be at least 1×1 (got {width}×{height}).");
        }
        ArgumentNullException.ThrowIfNull(detections);
        float[] map = new float[width * height];
        foreach (var d in detections)
        {
            // Pixel x is covered when its centre x + ½ lies in [X1, X2).
            int x1 = Math.Max(0, (int)Math.Ceiling(d.Box.X1 - 0.5f)), x2 = Math.Min(width, (int)Math.Ceiling(d.Box.X2 - 0.5f));
            int y1 = Math.Max(0, (int)Math.Ceiling(d.Box.Y1 - 0.5f)), y2 = Math.Min(height, (int)Math.Ceiling(d.Box.Y2 - 0.5f));
            for (int y = y1; y < y2; y++)
            {
                for (int x = x1; x < x2; x++)
                {
                    ref float m = ref map[y * width + x];
                    m = Math.Max(m, d.Score);
                }
            }
        }
        return map;
    }
}
