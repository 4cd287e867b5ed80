using System.Text.Json;
using System.Text.Json.Serialization;

namespace Rkde.Cli.Scenes;

/// <summary>
/// The <c>boxes.json</c> file at the root of an MVTec-layout data set: the generator's settings and, for every
/// image, the boxes of the items in it. Boxes are <c>[x1, y1, x2, y2]</c> in pixels of the image, pixel edges
/// (an item covering columns 10..19 has x1 = 10, x2 = 20). Anomalous items are the ground truth for box AP;
/// normal items are listed too (anomalous = false) for measuring proposal recall.
/// </summary>
internal sealed record SceneBoxes
{
    public int FormatVersion { get; init; } = 1;
    public string Generator { get; init; } = "";
    public JsonElement? Settings { get; init; }
    public List<SceneImage> Images { get; init; } = [];

    internal static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    public void Save(string path) => File.WriteAllText(path, JsonSerializer.Serialize(this, Json) + "\n");

    /// <summary>Reads a boxes.json; a malformed file is a <see cref="CliException"/> naming it.</summary>
    public static SceneBoxes Load(string path)
    {
        try
        {
            return JsonSerializer.Deserialize<SceneBoxes>(File.ReadAllText(path), Json)
                ?? throw new CliException($"'{path}' is empty; expected the boxes.json format of rkde make-scenes.");
        }
        catch (JsonException e)
        {
            throw new CliException($"'{path}' is not a valid boxes.json ({e.Message}).");
        }
    }
}

/// <summary>One image of a <see cref="SceneBoxes"/> file.</summary>
internal sealed record SceneImage
{
    /// <summary>Path relative to the data set root with '/' separators, e.g. "test/bag/003.png".</summary>
    public string Image { get; init; } = "";
    /// <summary>"good" or the anomaly kind (the test sub-folder).</summary>
    public string Kind { get; init; } = "good";
    public List<SceneObject> Objects { get; init; } = [];
}

/// <summary>One item placed in a scene.</summary>
internal sealed record SceneObject
{
    /// <summary>[x1, y1, x2, y2] in pixels, pixel edges.</summary>
    public float[] Box { get; init; } = [];
    public string Class { get; init; } = "";
    public bool Anomalous { get; init; }
}
