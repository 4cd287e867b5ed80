using System.Globalization;
using Microsoft.Extensions.ObjectPool;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms.Image;
using Rkde.MLNet;
using Rkde.MLNet.Images;
using Rkde.Orleans;
using SkiaSharp;

namespace Rkde.Orleans.Grains;

/// <summary>
/// One camera model version loaded for scoring, with a pool of prediction engines over it. Images are scored from memory:
/// the saved chain's first stage (ML.NET's image loader, which reads a path) is skipped and the rest gets the image
/// decoded as that loader decodes it (<see cref="MLImage.CreateFromStream"/>), so nothing is written to disk.
/// </summary>
/// <remarks>
/// Engines are created with <c>OwnsTransformer = false</c> (disposing one must not dispose the shared model:
/// dotnet/machinelearning#5945). A model pushed out of the cache is retired: disposed once no score holds it.
/// </remarks>
internal sealed class LoadedModel
{
    private readonly ITransformer _model;
    private readonly ObjectPool<PredictionEngine<InMemoryImage, RkdePrediction>> _engines;
    private readonly object _gate = new();
    private int _users;
    private bool _retired, _disposed;

    private LoadedModel(ModelReference reference, ITransformer model, ObjectPool<PredictionEngine<InMemoryImage, RkdePrediction>> engines)
    {
        Reference = reference;
        _model = model;
        _engines = engines;
    }

    public ModelReference Reference { get; }

    /// <summary>Loads a model .zip as <c>mlContext.Model.Save</c> wrote it after fitting RkdeAnomaly.</summary>
    public static LoadedModel Load(Stream zip, ModelReference reference, int engines)
    {
        var ml = new MLContext();
        ml.DisableThreadSpinning();
        var model = ml.Model.Load(zip, out var inputSchema);
        if (model is not TransformerChain<ITransformer> chain || chain.FirstOrDefault() is not ImageLoadingTransformer loader)
        {
            (model as IDisposable)?.Dispose();
            throw new InvalidOperationException(
                $"Camera '{reference.CameraId}''s model version {reference.Version} does not start by loading images, as the models RkdeAnomaly fits do: fit the camera again.");
        }
        string imageColumn = loader.GetOutputSchema(inputSchema).Last(c => c.Type is ImageDataViewType).Name;
        var afterLoading = new TransformerChain<ITransformer>(chain.Skip(1).ToArray());
        var input = SchemaDefinition.Create(typeof(InMemoryImage));
        input[nameof(InMemoryImage.Image)].ColumnName = imageColumn;
        var options = new PredictionEngineOptions { OwnsTransformer = false, InputSchemaDefinition = input };
        var pool = new DefaultObjectPoolProvider { MaximumRetained = engines }.Create(
            new EnginePolicy(() => ml.Model.CreatePredictionEngine<InMemoryImage, RkdePrediction>(afterLoading, options)));
        return new LoadedModel(reference, model, pool);
    }

    /// <summary>Scores one encoded image; boxes in its own pixels, highest score first. Thread-safe.</summary>
    /// <exception cref="ArgumentException">The bytes are not a complete, decodable image, or it has too many pixels.</exception>
    public CameraScore Score(byte[] encoded, string silo)
    {
        CheckImage(encoded);
        MLImage image;
        try
        {
            image = MLImage.CreateFromStream(new MemoryStream(encoded, writable: false));
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException)
        {
            throw new ArgumentException(
                $"The image for camera '{Reference.CameraId}' cannot be decoded ({e.Message}): send an encoded PNG, JPEG, BMP, GIF or WebP file's bytes.", "image");
        }
        using (image)
        {
            var engine = _engines.Get();
            RkdePrediction p;
            try
            {
                p = engine.Predict(new InMemoryImage { Image = image });
            }
            catch
            {
                // An engine that threw may hold a half-filled row: drop it (this never disposes the shared model).
                engine.Dispose();
                throw;
            }
            _engines.Return(engine);
            return ToScore(p, image.Width, image.Height, silo);
        }
    }

    private CameraScore ToScore(RkdePrediction p, int width, int height, string silo)
    {
        float[] pixels = p.BoxesInPixels(width, height);
        var boxes = new float[5 * p.BoxCount];
        int k = 0;
        foreach (int i in Enumerable.Range(0, p.BoxCount).OrderByDescending(i => p.BoxScores[i]))
        {
            Array.Copy(pixels, 4 * i, boxes, k, 4);
            boxes[k + 4] = p.BoxScores[i];
            k += 5;
        }
        return new CameraScore
        {
            Score = p.Score, Boxes = boxes, Width = width, Height = height, ModelVersion = Reference.Version, Silo = silo,
            IsAnomaly = p.IsAnomaly, Threshold = Reference.Threshold,
        };
    }

    /// <summary>
    /// Refuses an image that cannot be scored as it is, as Rkde.MLNet's ImageCheck does for files: one whose header
    /// declares more pixels than it allows (before any pixel is allocated), and one that does not decode completely
    /// (ML.NET's decoder would fill a truncated PNG or JPEG in and score it).
    /// </summary>
    private void CheckImage(byte[] encoded)
    {
        using var codec = SKCodec.Create(new MemoryStream(encoded, writable: false), out var opened);
        if (codec is null)
            throw new ArgumentException(
                $"The image for camera '{Reference.CameraId}' is not an image SkiaSharp can read ({opened}): send an encoded PNG, JPEG, BMP, GIF or WebP file's bytes.", "image");
        var info = new SKImageInfo(codec.Info.Width, codec.Info.Height, SKColorType.Rgba8888, SKAlphaType.Premul);
        if ((long)info.Width * info.Height > ImageCheck.MaxPixels)
            throw new ArgumentException(string.Create(CultureInfo.InvariantCulture,
                $"The image for camera '{Reference.CameraId}' declares {info.Width} × {info.Height} pixels, more than the {ImageCheck.MaxPixels:N0} allowed: send it smaller."), "image");
        using var bitmap = new SKBitmap();
        if (!bitmap.TryAllocPixels(info))
            throw new ArgumentException(string.Create(CultureInfo.InvariantCulture,
                $"The image for camera '{Reference.CameraId}' declares {info.Width} × {info.Height} pixels, too many to decode in the silo's memory: send it smaller."), "image");
        var decoded = codec.GetPixels(info, bitmap.GetPixels());
        if (decoded == SKCodecResult.IncompleteInput)
            throw new ArgumentException(
                $"The image for camera '{Reference.CameraId}' is truncated: its bytes end before the image does; send the whole file.", "image");
        if (decoded != SKCodecResult.Success)
            throw new ArgumentException(
                $"The image for camera '{Reference.CameraId}' is corrupt (SkiaSharp: {decoded}): send it again or re-encode it.", "image");
    }

    /// <summary>Takes a use of the model; false once it is retired (the caller loads it again).</summary>
    public bool TryEnter()
    {
        lock (_gate)
        {
            if (_retired)
                return false;
            _users++;
            return true;
        }
    }

    public void Exit()
    {
        lock (_gate)
        {
            _users--;
            DisposeIfUnused();
        }
    }

    /// <summary>No new use from now on; disposed when the last one ends.</summary>
    public void Retire()
    {
        lock (_gate)
        {
            _retired = true;
            DisposeIfUnused();
        }
    }

    private void DisposeIfUnused()
    {
        if (!_retired || _users > 0 || _disposed)
            return;
        _disposed = true;
        (_engines as IDisposable)?.Dispose();
        (_model as IDisposable)?.Dispose();
    }

    /// <summary>The row a prediction engine reads: an image decoded in memory.</summary>
    internal sealed class InMemoryImage
    {
        // The size is the column type's annotation only: the chain resizes any image to the model's input size.
        [ImageType(1, 1)]
        public MLImage? Image { get; set; }
    }

    private sealed class EnginePolicy(Func<PredictionEngine<InMemoryImage, RkdePrediction>> create) : IPooledObjectPolicy<PredictionEngine<InMemoryImage, RkdePrediction>>
    {
        public PredictionEngine<InMemoryImage, RkdePrediction> Create() => create();

        public bool Return(PredictionEngine<InMemoryImage, RkdePrediction> obj) => true;
    }
}
