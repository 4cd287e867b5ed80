namespace Rkde.Cli.Evaluate.Metrics;

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

    /// <summary>Adds every pixel counted by <paramref name="other"/>, <paramref name="times"/> times (a bootstrap sample draws an image several times).</summary>
    public void Add(PixelAuroc other, long times = 1)
    {
        ArgumentNullException.ThrowIfNull(other);
        ArgumentOutOfRangeException.ThrowIfNegative(times);
        _counts.Add(other._counts, times);
    }

    /// <summary>Adds one normal image (no anomalous pixel) of <paramref name="map"/>.</summary>
    public void AddNormal(ReadOnlySpan<float> map) => Add(map, new byte[map.Length]);

    /// <summary>The AUROC of all pixels added.</summary>
    /// <exception cref="ArgumentException">No anomalous or no normal pixel was added.</exception>
    public double Compute() => _counts.Auroc();
}
