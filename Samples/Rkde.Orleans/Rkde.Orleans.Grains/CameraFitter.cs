using Microsoft.ML;
using Microsoft.ML.Data;
using Rkde.MLNet;
using Rkde.Orleans;

namespace Rkde.Orleans.Grains;

/// <summary>Fits or updates a camera's R-KDE model on encoded images and returns it as the .zip <c>mlContext.Model.Save</c> writes.</summary>
internal static class CameraFitter
{
    /// <summary>The pipeline's input row: an image path.</summary>
    private sealed class ImageInput
    {
        public string ImagePath { get; set; } = "";
    }

    /// <summary>What a fit or update made: the model .zip, its stored threshold (null if none), how many images it used and skipped, and the warnings naming the skipped ones.</summary>
    public sealed record Result(byte[] Zip, float? Threshold, int Used, int Skipped, string[] Warnings);

    /// <summary>
    /// Fits with Rkde.MLNet. Its estimator reads image files, so the images go to a private temporary folder of this
    /// silo for the fit and are deleted after it (file names are ours: nothing a client sends names a path). Unreadable
    /// images are skipped, each with a warning that names its position in <paramref name="images"/>.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">A setting is invalid (RkdeOptions' message names it).</exception>
    /// <exception cref="InvalidOperationException">No image is readable, or the images give too few regions (Rkde.MLNet's message).</exception>
    public static Result Fit(string cameraId, byte[][] images, CameraFitSettings settings) => WithImages(images, FitSkipPrefix, (folder, names, progress) =>
    {
        var ml = new MLContext(seed: settings.Seed);
        ml.DisableThreadSpinning();
        var options = Options(settings, progress);
        // Full paths and no image folder: the saved model must not name this folder, which is deleted after the fit
        // (an update rebuilds the model's image loader, and ML.NET's loader checks that its folder exists).
        var data = ml.Data.LoadFromEnumerable(names.Select(n => new ImageInput { ImagePath = Path.Combine(folder, n) }));
        ITransformer model;
        try
        {
            model = ml.Transforms.RkdeAnomaly(options).Fit(data);
        }
        catch (InvalidOperationException e)
        {
            throw new InvalidOperationException($"Camera '{cameraId}' cannot be fitted: {Rename(e.Message, folder, names)}");
        }
        var zip = Saved(ml, model, data.Schema);
        (model as IDisposable)?.Dispose();
        return (zip, Threshold(ml, zip, folder));
    });

    /// <summary>
    /// Adds normal images to the camera's model (the .zip <paramref name="zip"/>) with Rkde.MLNet's <c>UpdateRkde</c>:
    /// the same proposer, features and projection, the new images' regions in the KDE's sample, a new threshold.
    /// Images are handled as for <see cref="Fit"/>.
    /// </summary>
    /// <exception cref="InvalidOperationException">No new image is readable, they give no regions, or the model cannot be updated.</exception>
    public static Result Update(string cameraId, byte[] zip, byte[][] images) => WithImages(images, UpdateSkipPrefix, (folder, names, progress) =>
    {
        var ml = new MLContext();
        ml.DisableThreadSpinning();
        var model = ml.Model.Load(new MemoryStream(zip, writable: false), out var schema);
        try
        {
            var data = ml.Data.LoadFromEnumerable(names.Select(n => new ImageInput { ImagePath = Path.Combine(folder, n) }));
            RkdeUpdateResult result;
            try
            {
                result = ml.Model.UpdateRkde(model, data, new RkdeUpdateOptions { Progress = progress });
            }
            catch (Exception e) when (e is InvalidOperationException or InvalidDataException)
            {
                throw new InvalidOperationException($"Camera '{cameraId}' cannot be updated: {Rename(e.Message, folder, names)}");
            }
            var updated = Saved(ml, result.Model, schema);
            return (updated, float.IsFinite(result.Threshold) ? result.Threshold : (float?)null);
        }
        finally
        {
            // After saving: the updated chain may share the loaded model's stages.
            (model as IDisposable)?.Dispose();
        }
    });

    /// <summary>
    /// Writes the images to a private temporary folder as files named by their index, runs <paramref name="run"/> on
    /// them with a progress that collects skip warnings (renamed to "image i"), and deletes the folder.
    /// </summary>
    private static Result WithImages(byte[][] images, string skipPrefix, Func<string, string[], IProgress<string>, (byte[] Zip, float? Threshold)> run)
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
                if (m.StartsWith(skipPrefix, StringComparison.Ordinal))
                    warnings.Add(Rename(m, folder.FullName, names));
            });
            var (zip, threshold) = run(folder.FullName, names, progress);
            return new Result(zip, threshold, names.Length - warnings.Count, warnings.Count, warnings.ToArray());
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }

    private static byte[] Saved(MLContext ml, ITransformer model, DataViewSchema schema)
    {
        using var zip = new MemoryStream();
        ml.Model.Save(model, schema, zip);
        return zip.ToArray();
    }

    /// <summary>The threshold the fit stored, read from a saved file as any reader of the model would (in the folder deleted after).</summary>
    private static float? Threshold(MLContext ml, byte[] zip, string folder)
    {
        string saved = Path.Combine(folder, "model.zip");
        File.WriteAllBytes(saved, zip);
        float threshold = ml.Model.ReadRkdeModelInfo(saved).Threshold;
        return float.IsFinite(threshold) ? threshold : null;
    }

    /// <summary>How Rkde.MLNet's Progress warning for a training image it skips begins.</summary>
    private const string FitSkipPrefix = "RkdeAnomaly: skipping training image";

    /// <summary>How UpdateRkde's Progress warning for a new image it skips begins.</summary>
    private const string UpdateSkipPrefix = "RkdeUpdate: skipping new image";

    internal static RkdeOptions Options(CameraFitSettings s, IProgress<string>? progress) => new()
    {
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
