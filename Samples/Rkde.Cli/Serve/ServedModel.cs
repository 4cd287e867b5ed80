using System.Runtime;
using System.Runtime.InteropServices;
using Microsoft.Extensions.ObjectPool;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms.Image;
using Rkde.Cli.Scoring;
using Rkde.MLNet;

namespace Rkde.Cli.Serve;

/// <summary>
/// One loaded model .zip and its pool of prediction engines. An upload is scored from memory: the saved chain's first
/// stage (ML.NET's image loader, which reads a file path) is skipped and the rest gets the image decoded as that loader
/// decodes it (<see cref="MLImage.CreateFromStream"/>), so a score equals <c>rkde score</c>'s for the same file and no
/// upload is ever written to disk.
/// </summary>
/// <remarks>
/// A <see cref="PredictionEngine{TSrc, TDst}"/> is not thread-safe, so each concurrent request takes its own from the pool;
/// all of them share the one loaded model, and are created with <c>OwnsTransformer = false</c> so that disposing an engine
/// never disposes the model under the others (dotnet/machinelearning#5945). The model is disposed with this object,
/// which <see cref="ModelHolder{T}"/> does only when no request holds it.
/// </remarks>
internal sealed class ServedModel : IDisposable
{
    private readonly ITransformer _model;
    private readonly ObjectPool<PredictionEngine<UploadedImage, RkdePrediction>> _engines;
    private int _disposed;

    private ServedModel(string path, (long, DateTime) stamp, ITransformer model, DataViewSchema inputSchema, string imageColumn, float? threshold,
        ObjectPool<PredictionEngine<UploadedImage, RkdePrediction>> engines)
    {
        Path = path;
        Threshold = threshold;
        FileStamp = stamp;
        _model = model;
        InputSchema = inputSchema;
        ImagePathColumn = imageColumn;
        _engines = engines;
        LoadedAt = DateTimeOffset.UtcNow;
    }

    /// <summary>The loaded chain, for <c>POST /normal</c> to update (read-only use; requests score through their own engines).</summary>
    public ITransformer Model => _model;

    /// <summary>The model's input schema, as saved with it.</summary>
    public DataViewSchema InputSchema { get; }

    private const string PathColumnKey = "rkde_option_ImageColumnName", DefaultPathColumn = "ImagePath";

    /// <summary>The input column of image paths the model's first stage reads (the model records it).</summary>
    public string ImagePathColumn { get; }

    /// <summary>The file it was loaded from.</summary>
    public string Path { get; }

    public DateTimeOffset LoadedAt { get; }

    /// <summary>The threshold the model was fitted with (<c>IsAnomaly</c>'s, moved by updates); null for a model without one (format 1, or never anomalous).</summary>
    public float? Threshold { get; }

    /// <summary>The file's length and last write time when it was loaded: a reload happens only when they change.</summary>
    public (long Length, DateTime WrittenUtc) FileStamp { get; }

    public bool IsDisposed => Volatile.Read(ref _disposed) != 0;

    /// <summary>
    /// Loads <paramref name="path"/> with Rkde.MLNet's checks (a clear error for a file that is not an R-KDE .zip), with
    /// non-spinning ONNX Runtime threads, keeping up to <paramref name="engines"/> idle engines, and scores one small image
    /// so the first request does not pay for ONNX Runtime's first run.
    /// </summary>
    /// <exception cref="CliException">The file is missing, not an R-KDE model, or not the chain <c>rkde fit</c> saves.</exception>
    public static ServedModel Load(string path, int engines)
    {
        // Taken before reading, so that a file replaced during the load is seen as new afterwards.
        var stamp = Stamp(path);
        var ml = new MLContext();
        ml.DisableThreadSpinning();
        ITransformer model;
        DataViewSchema inputSchema;
        try
        {
            model = ml.Model.LoadRkdeModel(path, out inputSchema);
        }
        catch (Exception e) when (e is InvalidDataException or FileNotFoundException or IOException)
        {
            throw new CliException($"--model could not be loaded: {e.Message.ReplaceLineEndings(" ").Trim()}");
        }
        float? threshold = null;
        string pathColumn = DefaultPathColumn;
        try
        {
            var info = ml.Model.ReadRkdeModelInfo(path);
            // +∞ (fitted on too few images to hold any out) decides nothing, as no threshold does.
            threshold = float.IsFinite(info.Threshold) ? info.Threshold : null;
            pathColumn = info.Metadata.GetValueOrDefault(PathColumnKey) ?? DefaultPathColumn;
        }
        catch (InvalidDataException)
        {
            // A model of format 1 records neither.
        }
        return Create(ml, path, stamp, model, inputSchema, pathColumn, threshold, engines);
    }

    /// <summary>
    /// Serves <paramref name="model"/> (which it then owns) as if loaded from <paramref name="path"/> with file stamp
    /// <paramref name="stamp"/>: for a model updated in memory by <c>POST /normal</c>.
    /// </summary>
    public static ServedModel Create(MLContext ml, string path, (long, DateTime) stamp, ITransformer model, DataViewSchema inputSchema, string pathColumn,
        float? threshold, int engines)
    {
        if (model is not TransformerChain<ITransformer> chain || chain.FirstOrDefault() is not ImageLoadingTransformer loader)
        {
            (model as IDisposable)?.Dispose();
            throw new CliException($"--model '{path}' does not start by loading images from a path column, as the models rkde fit saves do; fit it again with rkde fit.");
        }
        string imageColumn = loader.GetOutputSchema(inputSchema).Last(c => c.Type is ImageDataViewType).Name;
        var afterLoading = new TransformerChain<ITransformer>(chain.Skip(1).ToArray());
        var input = SchemaDefinition.Create(typeof(UploadedImage));
        input[nameof(UploadedImage.Image)].ColumnName = imageColumn;
        var options = new PredictionEngineOptions { OwnsTransformer = false, InputSchemaDefinition = input };
        // For a disposable type the provider makes a pool that disposes the engines it drops or holds when disposed.
        var pool = new DefaultObjectPoolProvider { MaximumRetained = engines }.Create(
            new EnginePolicy(() => ml.Model.CreatePredictionEngine<UploadedImage, RkdePrediction>(afterLoading, options)));
        var served = new ServedModel(path, stamp, model, inputSchema, pathColumn, threshold, pool);
        try
        {
            served.Score(WarmUpImage.Value);
        }
        catch
        {
            served.Dispose();
            throw;
        }
        return served;
    }

    /// <summary>
    /// Scores an encoded image that <see cref="UploadCheck"/> passed; boxes in its own pixels, highest first.
    /// Thread-safe: each call scores on an engine of its own.
    /// </summary>
    public ImageScore Score(byte[] encoded)
    {
        ObjectDisposedException.ThrowIf(IsDisposed, this);
        var engine = _engines.Get();
        try
        {
            using var stream = new MemoryStream(encoded, writable: false);
            using var image = MLImage.CreateFromStream(stream);
            var prediction = engine.Predict(new UploadedImage { Image = image });
            var result = ImageScore.From(prediction, image.Width, image.Height);
            _engines.Return(engine);
            return result;
        }
        catch
        {
            // An engine that threw may hold a half-filled row; drop it (this never disposes the shared model).
            engine.Dispose();
            throw;
        }
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
            return;
        // Idle engines first (they do not own the model), then the model and its ONNX Runtime sessions.
        (_engines as IDisposable)?.Dispose();
        (_model as IDisposable)?.Dispose();
        // Off the request that released it: a model is hundreds of MB of large objects and native buffers.
        ThreadPool.QueueUserWorkItem(_ => ReturnMemory());
    }

    /// <summary>
    /// Gives a retired model's memory back to the system: a compacting full collection (its large arrays sit on the
    /// large object heap, which is otherwise not compacted) and, on glibc, <c>malloc_trim</c> for ONNX Runtime's freed
    /// buffers. Without it the resident set steps up with each of the first swaps; with it, it levels off (docs/serve.md).
    /// One pause of the whole process per swap, which is rare.
    /// </summary>
    private static void ReturnMemory()
    {
        GCSettings.LargeObjectHeapCompactionMode = GCLargeObjectHeapCompactionMode.CompactOnce;
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
        if (!OperatingSystem.IsLinux())
            return;
        try
        {
            MallocTrim(0);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            // Not glibc (e.g. musl): nothing to trim with.
        }
    }

    [DllImport("libc", EntryPoint = "malloc_trim")]
    private static extern int MallocTrim(nuint pad);

    /// <summary>A file's length and last write time; (0, default) when it does not exist.</summary>
    internal static (long, DateTime) Stamp(string path)
    {
        var file = new FileInfo(path);
        return file.Exists ? (file.Length, file.LastWriteTimeUtc) : (0, default);
    }

    /// <summary>The row a prediction engine reads: an image decoded in memory.</summary>
    internal sealed class UploadedImage
    {
        // The size is the column type's annotation only: the chain resizes any image to the model's input size.
        [ImageType(1, 1)]
        public MLImage? Image { get; set; }
    }

    /// <summary>A grey 64 × 48 PNG, scored once at load.</summary>
    private static readonly Lazy<byte[]> WarmUpImage = new(() =>
    {
        using var bitmap = new SkiaSharp.SKBitmap(64, 48);
        bitmap.Erase(new SkiaSharp.SKColor(128, 128, 128));
        using var data = bitmap.Encode(SkiaSharp.SKEncodedImageFormat.Png, 100);
        return data.ToArray();
    });

    private sealed class EnginePolicy(Func<PredictionEngine<UploadedImage, RkdePrediction>> create)
        : IPooledObjectPolicy<PredictionEngine<UploadedImage, RkdePrediction>>
    {
        public PredictionEngine<UploadedImage, RkdePrediction> Create() => create();

        public bool Return(PredictionEngine<UploadedImage, RkdePrediction> obj) => true;
    }
}
