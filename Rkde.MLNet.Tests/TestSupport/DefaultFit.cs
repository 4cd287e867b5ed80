using Microsoft.ML;

namespace Rkde.MLNet.Tests.TestSupport;

/// <summary>RkdeAnomaly with the built-in models at a small input size (96 × 64), fitted on six seeded noise images.</summary>
internal static class DefaultFit
{
    public static RkdeOptions Options(string folder) => new() { ImageFolder = folder, ImageWidth = 96, ImageHeight = 64, PcaComponents = 4 };

    /// <summary>Writes the training images into <paramref name="images"/>' folder (once) and returns them as a data view.</summary>
    public static IDataView TrainingData(MLContext ml, TestImages images) => ml.Data.LoadFromEnumerable(
        Enumerable.Range(0, 6).Select(i => new ImageInput { ImagePath = Train(images, i) }).ToArray());

    private static string Train(TestImages images, int i)
    {
        string name = $"train{i}.png";
        return File.Exists(Path.Combine(images.Folder, name)) ? name : images.Noise(name, 96, 64, seed: i, spread: 60);
    }

    /// <summary>Fits with a fresh MLContext(seed: 1) and saves the model to <paramref name="modelPath"/>.</summary>
    public static void FitAndSave(TestImages images, string modelPath)
    {
        var ml = new MLContext(seed: 1);
        var data = TrainingData(ml, images);
        ml.Model.Save(ml.Transforms.RkdeAnomaly(Options(images.Folder)).Fit(data), data.Schema, modelPath);
    }
}
