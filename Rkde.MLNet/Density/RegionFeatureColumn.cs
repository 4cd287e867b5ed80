using System.Diagnostics;
using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace Rkde.MLNet.Density;

/// <summary>
/// Reads a column of region features image by image, as fitting and updating the density stage take them: each row holds
/// its image's regions, D values each. Rejects a row whose length is not a multiple of D and a non-finite value, naming the
/// column, row, region and dimension.
/// </summary>
internal static class RegionFeatureColumn
{
    /// <summary>Receives one image's regions: <paramref name="count"/> rows of D values in <paramref name="regions"/>.</summary>
    public delegate void ImageRegions(long row, ReadOnlySpan<float> regions, int count);

    /// <summary>Which of an image's regions a filter keeps, given their boxes (4 values each) and proposal scores.</summary>
    public delegate IEnumerable<int> Selection(ReadOnlySpan<float> boxes, ReadOnlySpan<float> scores);

    /// <summary>
    /// Where regions came through a looser filter than the one a model scores with: that filter (<paramref name="Keep"/>) and
    /// the columns holding the regions' boxes and proposal scores beside their features.
    /// </summary>
    public sealed record Scoring(Selection Keep, string BoxesColumn, string ScoresColumn);

    /// <summary>The same with the regions' boxes (4 values each, pixels) and proposal scores.</summary>
    public delegate void ImageRegionsWithBoxes(long row, ReadOnlySpan<float> regions, int count, ReadOnlySpan<float> boxes, ReadOnlySpan<float> scores);

    /// <summary>
    /// One cursor pass over <paramref name="column"/>, handing each image's regions to <paramref name="onImage"/>;
    /// <paramref name="heartbeat"/> sees the images read so far about every 5 seconds. Returns the image count.
    /// </summary>
    public static long Read(IDataView input, string column, int d, ImageRegions onImage, Action<long>? heartbeat = null) =>
        Read(input, column, d, null, (row, regions, count, _, _) => onImage(row, regions, count), heartbeat);

    /// <summary>
    /// The same pass, also reading each image's boxes and proposal scores from the columns <paramref name="scoring"/> names
    /// (one region per box, in the features' order) when given.
    /// </summary>
    public static long Read(IDataView input, string column, int d, Scoring? scoring, ImageRegionsWithBoxes onImage,
        Action<long>? heartbeat = null)
    {
        long images = 0;
        var features = input.Schema[column];
        var boxes = scoring is null ? (DataViewSchema.Column?)null : input.Schema[scoring.BoxesColumn];
        var scores = scoring is null ? (DataViewSchema.Column?)null : input.Schema[scoring.ScoresColumn];
        using var cursor = input.GetRowCursor(boxes is null ? [features] : [features, boxes.Value, scores!.Value]);
        var getter = cursor.GetGetter<VBuffer<float>>(features);
        var boxGetter = boxes is null ? null : cursor.GetGetter<VBuffer<float>>(boxes.Value);
        var scoreGetter = scores is null ? null : cursor.GetGetter<VBuffer<float>>(scores.Value);
        VBuffer<float> buffer = default, boxBuffer = default, scoreBuffer = default;
        float[] dense = [], denseBoxes = [], denseScores = [];
        var clock = Stopwatch.StartNew();
        while (cursor.MoveNext())
        {
            getter(ref buffer);
            int length = buffer.Length;
            if (length % d != 0)
                throw new InvalidOperationException(string.Create(CultureInfo.InvariantCulture,
                    $"Row {images} of column '{column}' has {length} values, not a multiple of the feature length {d}."));
            if (dense.Length < length)
                dense = new float[length];
            Densify(buffer, dense);
            for (int r = 0; r < length / d; r++)
            {
                var row = dense.AsSpan(r * d, d);
                int bad = IndexOfNonFinite(row);
                if (bad >= 0)
                    throw new InvalidOperationException(string.Create(CultureInfo.InvariantCulture,
                        $"Column '{column}' holds {row[bad]} at row {images}, region {r}, dimension {bad}: the feature model produced a non-finite value. Check that model's inputs (RGB 0–1 pixels, boxes in input pixels) and its numerics."));
            }
            int regionCount = length / d;
            if (boxGetter is not null)
            {
                boxGetter(ref boxBuffer);
                scoreGetter!(ref scoreBuffer);
                if (boxBuffer.Length != 4 * regionCount || scoreBuffer.Length != regionCount)
                    throw new InvalidOperationException(string.Create(CultureInfo.InvariantCulture,
                        $"Row {images} has {regionCount} regions in '{column}' but {boxBuffer.Length} box values in '{scoring!.BoxesColumn}' and {scoreBuffer.Length} scores in '{scoring.ScoresColumn}'."));
                if (denseBoxes.Length < boxBuffer.Length) denseBoxes = new float[boxBuffer.Length];
                if (denseScores.Length < scoreBuffer.Length) denseScores = new float[scoreBuffer.Length];
                Densify(boxBuffer, denseBoxes);
                Densify(scoreBuffer, denseScores);
            }
            onImage(images, dense.AsSpan(0, length), regionCount,
                boxGetter is null ? default : denseBoxes.AsSpan(0, 4 * regionCount), boxGetter is null ? default : denseScores.AsSpan(0, regionCount));
            images++;
            if (heartbeat is not null && clock.Elapsed.TotalSeconds >= 5)
            {
                heartbeat(images);
                clock.Restart();
            }
        }
        return images;
    }

    private static void Densify(in VBuffer<float> buffer, float[] dense)
    {
        if (buffer.IsDense)
        {
            buffer.GetValues().CopyTo(dense);
            return;
        }
        Array.Clear(dense, 0, buffer.Length);
        var indices = buffer.GetIndices();
        var values = buffer.GetValues();
        for (int i = 0; i < indices.Length; i++)
            dense[indices[i]] = values[i];
    }

    private static int IndexOfNonFinite(ReadOnlySpan<float> row)
    {
        for (int i = 0; i < row.Length; i++)
        {
            if (!float.IsFinite(row[i]))
                return i;
        }
        return -1;
    }
}
