namespace Rkde.MLNet.Evaluation;

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

/// <summary>
/// Pixel AUROC over many images without keeping their maps: add each image's anomaly map and ground-truth mask,
/// then <see cref="Compute"/>. Exact (pixels are counted per distinct score, ties counting one half).
/// </summary>
public sealed class PixelAuroc
{
    private readonly ScoreCounts _counts = new();

    /// <summary>Anomalous pixels counted so far.</summary>
    public long AnomalousPixels => _counts.Positives;

    /// <summary>Normal pixels counted so far.</summary>
    public long NormalPixels => _counts.Negatives;

    /// <summary>Adds one image: <paramref name="map"/> scores and <paramref name="mask"/> (non-zero = anomalous), same length.</summary>
    public void Add(ReadOnlySpan<float> map, ReadOnlySpan<byte> mask)
    {
        if (map.Length != mask.Length)
        {
            throw new ArgumentException($"The anomaly map has {map.Length} pixels but the mask {mask.Length}; they must be the same size.", nameof(mask));
        }
        // Runs of equal (score, label) are counted at once: box maps are mostly constant.
        int i = 0;
        while (i < map.Length)
        {
            int j = i + 1;
            bool positive = mask[i] != 0;
            while (j < map.Length && map[j] == map[i] && (mask[j] != 0) == positive)
            {
                j++;
            }
            _counts.Add(map[i], positive, j - i);
            i = j;
        }
    }

    /// <summary>Adds one normal image (no anomalous pixel) of <paramref name="map"/>.</summary>
    public void AddNormal(ReadOnlySpan<float> map) => Add(map, new byte[map.Length]);

    /// <summary>The AUROC of all pixels added.</summary>
    /// <exception cref="ArgumentException">No anomalous or no normal pixel was added.</exception>
    public double Compute() => _counts.Auroc();
}
