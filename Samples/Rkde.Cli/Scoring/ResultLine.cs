using System.Text;
using System.Text.Json;
using Rkde.Cli.Evaluate.Metrics;

namespace Rkde.Cli.Scoring;

/// <summary>
/// One line of <c>rkde score</c>'s JSON Lines output:
/// <c>{"image": "sub/a.png", "score": 0.93, "boxes": [[x1, y1, x2, y2, score], ...]}</c>, boxes in pixels of the
/// original image (to 0.01 px), highest score first; <c>"anomalous": true|false</c> is added when a threshold was given.
/// An image that could not be scored gives <c>{"image": "...", "error": "why"}</c>.
/// </summary>
internal sealed record ResultLine(string Image, ImageScore? Result, string? Error)
{
    /// <summary>The original image's width and height (the boxes' frame) as the scoring run found them; not written to JSON.</summary>
    public (int Width, int Height) Size { get; init; }

    public string ToJson(float? threshold)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("image", Image);
            if (Result is null)
            {
                w.WriteString("error", Error ?? "not scored");
            }
            else
            {
                w.WriteNumber("score", Result.Score);
                if (threshold is float t)
                {
                    w.WriteBoolean("anomalous", Result.IsAnomalyAt(t));
                }
                WriteBoxes(w, Result.Boxes);
            }
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    /// <summary>
    /// Writes <c>"boxes": [[x1, y1, x2, y2, score], …]</c> in the given order: pixels to 0.01 (enough for any image,
    /// and free of float noise such as 192.00002), scores as they are. <c>rkde serve</c>'s answers use it too.
    /// </summary>
    public static void WriteBoxes(Utf8JsonWriter w, IReadOnlyList<Detection> boxes)
    {
        w.WriteStartArray("boxes");
        foreach (var d in boxes)
        {
            w.WriteStartArray();
            w.WriteNumberValue(Math.Round((double)d.Box.X1, 2));
            w.WriteNumberValue(Math.Round((double)d.Box.Y1, 2));
            w.WriteNumberValue(Math.Round((double)d.Box.X2, 2));
            w.WriteNumberValue(Math.Round((double)d.Box.Y2, 2));
            w.WriteNumberValue(d.Score);
            w.WriteEndArray();
        }
        w.WriteEndArray();
    }

    /// <summary>Reads a line written by <see cref="ToJson"/>.</summary>
    public static ResultLine Parse(string json)
    {
        using var doc = JsonDocument.Parse(json);
        var root = doc.RootElement;
        string image = root.GetProperty("image").GetString()!;
        if (root.TryGetProperty("error", out var error))
        {
            return new ResultLine(image, null, error.GetString());
        }
        var boxes = root.GetProperty("boxes").EnumerateArray()
            .Select(b => b.EnumerateArray().Select(v => v.GetSingle()).ToArray())
            .Select(v => new Detection(new BoundingBox(v[0], v[1], v[2], v[3]), v[4]))
            .ToList();
        return new ResultLine(image, new ImageScore(root.GetProperty("score").GetSingle(), boxes), null);
    }
}
