using Microsoft.ML;
using Rkde.MLNet;
using Rkde.Orleans;

namespace Rkde.Orleans.Grains;

/// <summary>Fits a camera's R-KDE model on encoded images and returns it as the .zip <c>mlContext.Model.Save</c> writes.</summary>
internal static class CameraFitter
{
    /// <summary>The pipeline's input row: an image path.</summary>
    private sealed class ImageInput
    {
        public string ImagePath { get; set; } = "";
    }

    /// <summary>What a fit made: the model .zip, its stored threshold (null if none), how many images it used and skipped, and the warnings naming the skipped ones.</summary>
    public sealed record Result(byte[] Zip, float? Threshold, int Fitted, int Skipped, string[] Warnings);

    /// <summary>
    /// Fits with Rkde.MLNet. Its estimator reads image files, so the images go to a private temporary folder of this
    /// silo for the fit and are deleted after it (file names are ours: nothing a client sends names a path). Unreadable
    /// images are skipped, each with a warning that names its position in <paramref name="images"/>.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">A setting is invalid (RkdeOptions' message names it).</exception>
    /// <exception cref="InvalidOperationException">No image is readable, or the images give too few regions (Rkde.MLNet's message).</exception>
    public static Result Fit(string cameraId, byte[][] images, CameraFitSettings settings)
    {
        var folder = Directory.CreateTempSubdirectory("rkde-fit-");
        try
        {
            var names = new string[images.Length];
            for (int i = 0; i < images.Length; i++)
            {
                names[i] = $"image{i:D6}";
                File.WriteAllBytes(Path.Combine(folder.FullName, names[i]), images[i]);
            }
            var warnings = new List<string>();
            var progress = new Collect(m =>
            {
                if (m.StartsWith(SkipWarningPrefix, StringComparison.Ordinal))
                    warnings.Add(Rename(m, folder.FullName, names));
            });
            var ml = new MLContext(seed: settings.Seed);
            ml.DisableThreadSpinning();
            var options = Options(settings, folder.FullName, progress);
            var data = ml.Data.LoadFromEnumerable(names.Select(n => new ImageInput { ImagePath = n }));
            ITransformer model;
            try
            {
                model = ml.Transforms.RkdeAnomaly(options).Fit(data);
            }
            catch (InvalidOperationException e)
            {
                throw new InvalidOperationException($"Camera '{cameraId}' cannot be fitted: {Rename(e.Message, folder.FullName, names)}");
            }
            using var zip = new MemoryStream();
            ml.Model.Save(model, data.Schema, zip);
            (model as IDisposable)?.Dispose();
            // The threshold is read from a saved file, as any reader of the model would; the folder is deleted below.
            string saved = Path.Combine(folder.FullName, "model.zip");
            File.WriteAllBytes(saved, zip.ToArray());
            float threshold = ml.Model.ReadRkdeModelInfo(saved).Threshold;
            return new Result(zip.ToArray(), float.IsFinite(threshold) ? threshold : null, images.Length - warnings.Count, warnings.Count, warnings.ToArray());
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }

    /// <summary>How Rkde.MLNet's Progress warning for a training image it skips begins.</summary>
    private const string SkipWarningPrefix = "RkdeAnomaly: skipping training image";

    internal static RkdeOptions Options(CameraFitSettings s, string? folder, IProgress<string>? progress) => new()
    {
        ImageFolder = folder,
        ImageWidth = s.ImageWidth,
        ImageHeight = s.ImageHeight,
        PcaComponents = s.PcaComponents,
        MaxTrainingPoints = s.MaxTrainingPoints,
        Seed = s.Seed,
        QuantizeBackbone = s.QuantizeBackbone,
        RoiScoreThreshold = s.RoiScoreThreshold,
        MinBoxSize = s.MinBoxSize,
        IouThreshold = s.IouThreshold,
        MaxDetectionsPerImage = s.MaxDetectionsPerImage,
        Progress = progress,
    };

    /// <summary>The message with the temporary files named as the client knows them: "image 3" (its index in the fit's list).</summary>
    private static string Rename(string message, string folder, string[] names)
    {
        message = message.Replace(folder + Path.DirectorySeparatorChar, "", StringComparison.Ordinal);
        for (int i = names.Length - 1; i >= 0; i--)
            message = message.Replace(names[i], $"image {i}", StringComparison.Ordinal);
        return message;
    }

    /// <summary>Progress that runs on the reporting thread (Progress&lt;T&gt; would post to the thread pool).</summary>
    private sealed class Collect(Action<string> report) : IProgress<string>
    {
        public void Report(string value) => report(value);
    }
}
