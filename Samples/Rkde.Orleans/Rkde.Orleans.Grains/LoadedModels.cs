using Microsoft.Extensions.Logging;
using Rkde.Orleans;

namespace Rkde.Orleans.Grains;

/// <summary>How many camera models a silo keeps loaded, and how many stored entries' bytes it keeps to load them from.</summary>
public sealed class LoadedModelsOptions
{
    /// <summary>Models kept loaded per silo (least recently used first out). Default 16.</summary>
    public int MaxLoadedModels { get; set; } = 16;

    /// <summary>Bytes of model entries kept per silo, so entries many cameras share (the default models) are fetched once. Default 256 MiB.</summary>
    public long EntryCacheBytes { get; set; } = 256L << 20;

    /// <summary>Idle prediction engines kept per loaded model. Default: the processor count.</summary>
    public int EnginesPerModel { get; set; } = Environment.ProcessorCount;
}

/// <summary>
/// The silo's loaded camera models, by model version: each is loaded once per silo, from the blob store's entries,
/// however many scoring activations ask for it at the same time, and shared by all of them.
/// </summary>
internal sealed class LoadedModels
{
    private readonly IGrainFactory _grains;
    private readonly LoadedModelsOptions _options;
    private readonly ILogger<LoadedModels> _log;
    private readonly LruCache<ModelKey, Task<LoadedModel>> _models;
    private readonly LruCache<string, byte[]> _entries;
    private readonly object _gate = new();

    public LoadedModels(IGrainFactory grains, LoadedModelsOptions options, ILogger<LoadedModels> log)
    {
        _grains = grains;
        _options = options;
        _log = log;
        _models = new(Math.Max(1, options.MaxLoadedModels), _ => 1, Retire);
        _entries = new(options.EntryCacheBytes, b => b.Length);
    }

    /// <summary>Loads counted since the silo started (a model pushed out and needed again counts again).</summary>
    public int Loads => Volatile.Read(ref _loads);

    private int _loads;

    /// <summary>Scores with the model <paramref name="reference"/> names, loading it first if this silo has not.</summary>
    public async Task<CameraScore> Score(ModelReference reference, byte[] image, string silo)
    {
        while (true)
        {
            var model = await Get(reference);
            if (!model.TryEnter())
                continue; // retired between the lookup and the use: the next lookup loads it again
            try
            {
                return model.Score(image, silo);
            }
            finally
            {
                model.Exit();
            }
        }
    }

    /// <summary>
    /// The loaded model <paramref name="reference"/> names. Loading a camera's new version drops the silo's copies of its
    /// older ones (disposed once no score holds them): every score asks the camera's grain for its current model first,
    /// so they would only sit in memory.
    /// </summary>
    private Task<LoadedModel> Get(ModelReference reference)
    {
        var key = ModelKey.Of(reference);
        lock (_gate)
        {
            if (_models.TryGet(key, out var loading) && !loading.IsFaulted && !loading.IsCanceled)
                return loading;
            loading = Load(reference);
            _models.Set(key, loading);
            int dropped = _models.RemoveWhere(k => k.Camera == key.Camera && k.Version <= key.Version && k != key);
            if (dropped > 0)
                _log.LogInformation("Dropped {Count} older model(s) of camera {Camera} for version {Version}", dropped, key.Camera, key.Version);
            return loading;
        }
    }

    private async Task<LoadedModel> Load(ModelReference reference)
    {
        Interlocked.Increment(ref _loads);
        using var zip = await Zip(reference);
        var model = await Task.Run(() => LoadedModel.Load(zip, reference, _options.EnginesPerModel));
        _log.LogInformation("Loaded camera {Camera}'s model version {Version} ({Bytes} bytes)", reference.CameraId, reference.Version, reference.Length);
        return model;
    }

    /// <summary>The model .zip <paramref name="reference"/> names, from the silo's chunk cache and the blob store.</summary>
    public async Task<MemoryStream> Zip(ModelReference reference)
    {
        var bytes = new Dictionary<string, byte[]>();
        var missing = new List<string>();
        foreach (string hash in reference.Entries.Select(e => e.Sha256).Distinct())
        {
            if (_entries.TryGet(hash, out var cached))
                bytes[hash] = cached;
            else
                missing.Add(hash);
        }
        var read = await RkdeStorage.FewAtATime(missing, hash => RkdeStorage.Guard(() => _grains.GetGrain<IModelBlobGrain>(hash).Read(),
            $"Loading camera '{reference.CameraId}''s model version {reference.Version}"));
        for (int i = 0; i < missing.Count; i++)
        {
            _entries.Set(missing[i], read[i]);
            bytes[missing[i]] = read[i];
        }
        return ModelPackage.Assemble(reference, bytes);
    }

    private static void Retire(Task<LoadedModel> loading) =>
        loading.ContinueWith(t => t.Result.Retire(), CancellationToken.None, TaskContinuationOptions.OnlyOnRanToCompletion, TaskScheduler.Default);

    /// <summary>A model version's cache key: its camera, version and chunks (a camera whose state was reset fits version 1 again).</summary>
    private readonly record struct ModelKey(string Camera, int Version, string Chunks)
    {
        public static ModelKey Of(ModelReference r) =>
            new(r.CameraId, r.Version, string.Join('/', r.Entries.Select(e => e.Sha256[..16])));
    }
}
