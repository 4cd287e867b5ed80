// Fits R-KDE on a folder of normal images, saves the model as a .zip and prints the anomaly scores of a test folder.
// Usage: FitAndSave [train-folder] [test-folder] [model.zip]
// Defaults: assets/demo/train, assets/demo/test (or the train folder), rkde.zip.
using System.Globalization;
using Microsoft.ML;
using Rkde.MLNet;

string train = args.Length > 0 ? args[0] : Path.Combine("assets", "demo", "train");
string test = args.Length > 1 ? args[1] : Directory.Exists(Path.Combine("assets", "demo", "test")) ? Path.Combine("assets", "demo", "test") : train;
string modelPath = args.Length > 2 ? args[2] : "rkde.zip";
if (!Directory.Exists(train))
{
    Console.Error.WriteLine($"Training folder '{train}' does not exist. Usage: FitAndSave [train-folder] [test-folder] [model.zip]");
    return 1;
}

var ml = new MLContext(seed: 0);
var trainFiles = Images(train);
var trainImages = ml.Data.LoadFromEnumerable(trainFiles);
var options = new RkdeOptions { Progress = new ConsoleProgress() }; // defaults: built-in models, 360 × 240, anomalib's settings
Console.Error.WriteLine($"Fitting R-KDE on {trainFiles.Length} images in '{train}' …");
var model = ml.Transforms.RkdeAnomaly(options).Fit(trainImages);
ml.Model.Save(model, trainImages.Schema, modelPath);
Console.Error.WriteLine($"Saved '{modelPath}'.");

var testFiles = Images(test);
var scored = model.Transform(ml.Data.LoadFromEnumerable(testFiles));
foreach (var (image, prediction) in testFiles.Zip(ml.Data.CreateEnumerable<RkdePrediction>(scored, reuseRowObject: false)))
{
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"{Path.GetFileName(image.ImagePath)}\t{prediction.Score:R}\t{prediction.BoxScores.Length}\t{prediction.IsAnomaly}"));
}
return 0;

static ImageInput[] Images(string folder) => Directory.EnumerateFiles(folder)
    .Where(f => Path.GetExtension(f).ToLowerInvariant() is ".png" or ".jpg" or ".jpeg" or ".bmp")
    .Order(StringComparer.Ordinal)
    .Select(f => new ImageInput { ImagePath = Path.GetFullPath(f) })
    .ToArray();

/// <summary>Writes progress messages to stderr as they come (Progress&lt;T&gt; would post them to the thread pool).</summary>
internal sealed class ConsoleProgress : IProgress<string>
{
    public void Report(string value) => Console.Error.WriteLine(value);
}

/// <summary>The model's input: one image path per row.</summary>
internal sealed class ImageInput
{
    public string ImagePath { get; set; } = "";
}
