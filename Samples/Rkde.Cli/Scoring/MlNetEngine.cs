using Microsoft.ML;
using Rkde.MLNet;
using Rkde.MLNet.Regions;
using Rkde.MLNet.Files;

namespace Rkde.Cli.Scoring;

/// <summary>The commands' engine: the Rkde.MLNet pipeline (<c>mlContext.Transforms.RkdeAnomaly</c>), saved as an ML.NET model .zip.</summary>
internal sealed class MlNetEngine : IRkdeEngine
{
    /// <summary>The pipeline's input row: an image path.</summary>
    private sealed class ImageInput
    {
        public string ImagePath { get; set; } = "";
    }

    /// <summary>How Rkde.MLNet's Progress warning for a training image it skips begins.</summary>
    internal const string SkipWarningPrefix = "RkdeAnomaly: skipping training image";

    /// <summary>How Rkde.MLNet's error for an unreadable training image begins when skipping is off.</summary>
    private const string StrictErrorPrefix = "Training image at row";

    /// <summary>
    /// Fits with Rkde.MLNet, which checks each training image once (decoding it completely) and skips or rejects the
    /// unreadable ones; its warnings go to <paramref name="progress"/> as they come.
    /// </summary>
    public int Fit(IReadOnlyList<string> images, FitSettings settings, string modelPath, IProgress<string> progress)
    {
        var counter = new SkipCounter(progress);
        var ml = new MLContext(seed: settings.Seed);
        if (settings.GpuDeviceId is null)
            ml.DisableThreadSpinning();
        var options = new RkdeOptions
        {
            ImageWidth = settings.Width,
            ImageHeight = settings.Height,
            RoiStage = settings.Stage,
            ProposerModelPath = settings.ProposerModel,
            FeatureModelPath = settings.FeatureModel,
            BuiltInModel = settings.BuiltInModel,
            NanoDetPackagePath = settings.NanoDetPackage,
            RoiScoreThreshold = settings.RoiScoreThreshold,
            MinBoxSize = settings.MinBoxSize,
            IouThreshold = settings.IouThreshold,
            MaxDetectionsPerImage = settings.MaxDetectionsPerImage,
            TrainingIouThreshold = settings.TrainingIouThreshold,
            MaxTrainingDetectionsPerImage = settings.MaxTrainingDetectionsPerImage,
            PcaComponents = settings.PcaComponents,
            FeatureScaling = settings.FeatureScaling,
            Bandwidth = settings.Bandwidth,
            MaxTrainingPoints = settings.MaxTrainingPoints,
            Seed = settings.Seed,
            GpuDeviceId = settings.GpuDeviceId,
            QuantizeBackbone = settings.QuantizeBackbone,
            FalsePositiveRate = settings.FalsePositiveRate,
            SkipUnreadableImages = settings.SkipUnreadableImages,
            Progress = counter,
        };
        var data = Images(ml, images);
        ITransformer model;
        try
        {
            model = ml.Transforms.RkdeAnomaly(options).Fit(data);
        }
        catch (InvalidOperationException e) when (!settings.SkipUnreadableImages && e.Message.StartsWith(StrictErrorPrefix, StringComparison.Ordinal))
        {
            // The library's fix names its option; the CLI user's fix is the flag they gave.
            string reason = e.Message[..e.Message.LastIndexOf(" Set ", StringComparison.Ordinal)];
            throw new CliException($"{reason} Leave out --strict to skip unreadable training images with a warning.");
        }
        AtomicFile.Write(modelPath, stream => ml.Model.Save(model, data.Schema, stream));
        return images.Count - counter.Skipped;
    }

    /// <summary>Passes every message on and counts the skipped-image warnings.</summary>
    private sealed class SkipCounter(IProgress<string> inner) : IProgress<string>
    {
        public int Skipped { get; private set; }

        public void Report(string value)
        {
            if (value.StartsWith(SkipWarningPrefix, StringComparison.Ordinal))
                Skipped++;
            inner.Report(value);
        }
    }

    public IImageScorer Load(string modelPath)
    {
        var ml = new MLContext();
        ml.DisableThreadSpinning();
        var (model, info) = Checked(modelPath, () => (ml.Model.LoadRkdeModel(modelPath, out _), ml.Model.ReadRkdeModelInfo(modelPath)));
        return new Scorer(ml.Model.CreatePredictionEngine<ImageInput, RkdePrediction>(model), info);
    }

    public UpdateSummary Update(string modelPath, IReadOnlyList<string> images, UpdateSettings settings, string outPath, IProgress<string> progress)
    {
        var ml = new MLContext();
        ml.DisableThreadSpinning();
        var (model, schema) = Checked(modelPath, () => (ml.Model.LoadRkdeModel(modelPath, out var s), s));
        RkdeUpdateResult result;
        try
        {
            result = ml.Model.UpdateRkde(model, Images(ml, images),
                new RkdeUpdateOptions { Sampling = settings.Sampling, SkipUnreadableImages = !settings.Strict, Progress = progress });
        }
        catch (InvalidDataException e)
        {
            throw new CliException($"--model '{modelPath}': {OneLine(e.Message)}");
        }
        AtomicFile.Write(outPath, stream => ml.Model.Save(result.Model, schema, stream));
        return new UpdateSummary(result.ImagesAdded, result.ImagesSkipped, result.RegionsAdded, result.RegionsSeen, result.TrainingPoints,
            result.ExplainedVariance, result.TrainingExplainedVariance, result.Threshold);
    }

    private static IDataView Images(MLContext ml, IReadOnlyList<string> images) =>
        ml.Data.LoadFromEnumerable(images.Select(p => new ImageInput { ImagePath = Path.GetFullPath(p) }));

    public void Export(string modelPath, string onnxPath, bool batched) =>
        Checked(modelPath, () => { new MLContext().Model.ExportRkdeOnnx(modelPath, onnxPath, batched); return 0; });

    public IImageScorer LoadExported(string modelPath, int batch)
    {
        var ml = new MLContext();
        return Checked(modelPath, () =>
        {
            var info = ml.Model.ReadRkdeModelInfo(modelPath);
            using var single = new MemoryStream();
            ml.Model.ExportRkdeOnnx(modelPath, single, batched: false);
            byte[]? batched = null;
            if (batch > 1)
            {
                using var stream = new MemoryStream();
                ml.Model.ExportRkdeOnnx(modelPath, stream, batched: true);
                batched = stream.ToArray();
            }
            return new OnnxScorer(single.ToArray(), batched, batch, info);
        });
    }

    /// <summary>Runs <paramref name="body"/>, turning the library's errors about the model file into one CLI line.</summary>
    private static T Checked<T>(string modelPath, Func<T> body)
    {
        try
        {
            return body();
        }
        catch (Exception e) when (e is InvalidDataException or FileNotFoundException)
        {
            throw new CliException($"--model could not be loaded: {OneLine(e.Message)}");
        }
    }

    private static string OneLine(string message) => message.ReplaceLineEndings(" ").Trim();

    private sealed class Scorer(PredictionEngine<ImageInput, RkdePrediction> engine, RkdeModelInfo info) : IImageScorer
    {
        public float? Threshold => info.Threshold;

        public double? FalsePositiveRate => info.FalsePositiveRate;

        public ImageScore Score(string imagePath, int width, int height)
        {
            var p = engine.Predict(new ImageInput { ImagePath = Path.GetFullPath(imagePath) });
            return ImageScore.From(p, width, height);
        }

        public void Dispose() => engine.Dispose();
    }
}
