using Rkde.Cli.Evaluate.Metrics;
using SkiaSharp;

namespace Rkde.Cli.Scoring;

/// <summary>
/// Overlay pictures: the image with its most anomalous boxes drawn in a colour from green (low score) through
/// yellow to red (high score), the box score above each box, the image score in the corner, and optional
/// ground-truth boxes as thin white dashed outlines. The colour scale spans [0, 1] unless a range is given (e.g.
/// the range of a test set's scores, which R-KDE's probabilities often crowd into a narrow band).
/// </summary>
internal static class Overlay
{
    /// <summary>How many boxes to draw at most.</summary>
    public const int MaxBoxes = 10;

    /// <summary>
    /// Writes a PNG to <paramref name="outPath"/>: the boxes scoring ≥ <paramref name="threshold"/> (at least the
    /// top one), or the top five when no threshold is given.
    /// </summary>
    public static void Write(string imagePath, ImageScore result, string outPath, float? threshold,
                             IReadOnlyList<BoundingBox>? groundTruth = null, (float Low, float High)? colourRange = null)
    {
        var (low, high) = colourRange ?? (0f, 1f);
        SKColor ColourOf(float score) => ColourFor(high > low ? (score - low) / (high - low) : 0.5f);
        using var image = SKBitmap.Decode(imagePath) ?? throw new CliException($"'{imagePath}' could not be decoded for its overlay.");
        using var bitmap = image.Copy(SKColorType.Rgba8888) ?? throw new CliException($"'{imagePath}' could not be converted for its overlay.");
        using var canvas = new SKCanvas(bitmap);
        float stroke = Math.Max(2f, Math.Min(bitmap.Width, bitmap.Height) / 160f);
        using var font = new SKFont(SKTypeface.Default, Math.Max(11f, stroke * 6));

        if (groundTruth is not null)
        {
            using var dashed = new SKPaint { Color = SKColors.White, Style = SKPaintStyle.Stroke, StrokeWidth = 1, IsAntialias = true, PathEffect = SKPathEffect.CreateDash([4, 3], 0) };
            foreach (var g in groundTruth)
            {
                canvas.DrawRect(SKRect.Create(g.X1, g.Y1, g.X2 - g.X1, g.Y2 - g.Y1), dashed);
            }
        }

        var boxes = threshold is float t
            ? result.Boxes.Where((b, i) => i == 0 || b.Score >= t).Take(MaxBoxes)
            : result.Boxes.Take(5);
        // Lowest first, so the most anomalous box is drawn on top.
        foreach (var d in boxes.Reverse())
        {
            var colour = ColourOf(d.Score);
            using var paint = new SKPaint { Color = colour, Style = SKPaintStyle.Stroke, StrokeWidth = stroke, IsAntialias = true };
            var rect = SKRect.Create(d.Box.X1, d.Box.Y1, d.Box.X2 - d.Box.X1, d.Box.Y2 - d.Box.Y1);
            canvas.DrawRect(rect, paint);
            Label(canvas, font, $"{d.Score:0.000}", rect.Left, rect.Top, colour);
        }
        string verdict = threshold is float th ? (result.IsAnomalyAt(th) ? "  ANOMALOUS" : "  normal") : "";
        Label(canvas, font, $"score {result.Score:0.000}{verdict}", 0, font.Size + 6, ColourOf(result.Score));

        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(outPath))!);
        using var data = bitmap.Encode(SKEncodedImageFormat.Png, 100);
        using var file = File.Create(outPath);
        data.SaveTo(file);
    }

    /// <summary>Green (0) → yellow (0.5) → red (1); values outside [0, 1] are clamped.</summary>
    public static SKColor ColourFor(float score)
    {
        float s = float.IsNaN(score) ? 0 : Math.Clamp(score, 0f, 1f);
        return s < 0.5f
            ? new SKColor((byte)(510 * s), 200, 40)
            : new SKColor(255, (byte)(200 * (1 - s) * 2), 40);
    }

    private static void Label(SKCanvas canvas, SKFont font, string text, float x, float bottom, SKColor colour)
    {
        float width = font.MeasureText(text);
        float top = Math.Max(0, bottom - font.Size - 4);
        using var background = new SKPaint { Color = new SKColor(0, 0, 0, 170) };
        canvas.DrawRect(SKRect.Create(x, top, width + 6, font.Size + 4), background);
        using var ink = new SKPaint { Color = colour, IsAntialias = true };
        canvas.DrawText(text, x + 3, top + font.Size, SKTextAlign.Left, font, ink);
    }
}
