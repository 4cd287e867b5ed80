// Loads a saved R-KDE model with plain ML.NET (no reference to Rkde.MLNet, no registration) and prints the
// anomaly scores of the images in a folder, in the same format as FitAndSave, then on stderr how fast it scored them.
// Usage: LoadAndScore <model.zip> <folder>
using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Data;

if (args.Length < 2)
{
    Console.Error.WriteLine("Usage: LoadAndScore <model.zip> <folder>");
    return 1;
}

var ml = new MLContext();
ITransformer model = ml.Model.Load(args[0], out _);
var images = Directory.EnumerateFiles(args[1])
    .Where(f => Path.GetExtension(f).ToLowerInvariant() is ".png" or ".jpg" or ".jpeg" or ".bmp")
    .Order(StringComparer.Ordinal)
    .Select(f => new ImageInput { ImagePath = Path.GetFullPath(f) })
    .ToArray();

var clock = System.Diagnostics.Stopwatch.StartNew();
var scored = model.Transform(ml.Data.LoadFromEnumerable(images));
foreach (var (image, prediction) in images.Zip(ml.Data.CreateEnumerable<Prediction>(scored, reuseRowObject: false)))
{
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"{Path.GetFileName(image.ImagePath)}\t{prediction.Score:R}\t{prediction.BoxScores.Length}\t{prediction.IsAnomaly}"));
}
Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
    $"Scored {images.Length} images in {clock.Elapsed.TotalSeconds:0.00} s ({images.Length / clock.Elapsed.TotalSeconds:0.0} images/s)."));
return 0;

/// <summary>The model's input: one image path per row.</summary>
internal sealed class ImageInput
{
    public string ImagePath { get; set; } = "";
}

/// <summary>The columns an R-KDE model adds.</summary>
internal sealed class Prediction
{
    /// <summary>Kept boxes, 4 values each (x1, y1, x2, y2), normalised to [0, 1].</summary>
    [VectorType]
    public float[] Boxes { get; set; } = [];

    /// <summary>Anomaly probability of each box.</summary>
    [VectorType]
    public float[] BoxScores { get; set; } = [];

    /// <summary>The image's anomaly score: the highest box score, 0 without boxes.</summary>
    public float Score { get; set; }

    /// <summary>Whether the score reaches the threshold the model stored when it was fitted.</summary>
    public bool IsAnomaly { get; set; }
}
