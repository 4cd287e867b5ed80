using Microsoft.ML.Data;

namespace Rkde.MLNet;

/// <summary>One scored image, for <c>CreateEnumerable</c> and <c>PredictionEngine</c> (default column names).</summary>
public class RkdePrediction
{
    /// <summary>The kept boxes, 4 values each (x1, y1, x2, y2), normalised to [0, 1] of the image's width and height.</summary>
    [VectorType]
    public float[] Boxes { get; set; } = [];

    /// <summary>The anomaly probability of each box, same order as <see cref="Boxes"/>.</summary>
    [VectorType]
    public float[] BoxScores { get; set; } = [];

    /// <summary>The image's anomaly score: the highest box score, 0 when there is no box.</summary>
    public float Score { get; set; }

    /// <summary>Whether <see cref="Score"/> reaches the threshold the model stored at fit time (see <see cref="RkdeOptions.FalsePositiveRate"/>).</summary>
    public bool IsAnomaly { get; set; }

    /// <summary>Number of boxes.</summary>
    [NoColumn]
    public int BoxCount => Boxes.Length / 4;

    /// <summary>The boxes in pixels of an image of the given size, 4 values each (x1, y1, x2, y2).</summary>
    public float[] BoxesInPixels(int width, int height)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(height);
        var pixels = new float[Boxes.Length];
        for (int i = 0; i < pixels.Length; i++)
            pixels[i] = Boxes[i] * (i % 2 == 0 ? width : height);
        return pixels;
    }
}
