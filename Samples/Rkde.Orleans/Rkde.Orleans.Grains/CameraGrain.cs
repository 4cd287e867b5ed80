using Microsoft.Extensions.DependencyInjection;
using Orleans.Storage;
using Rkde.Orleans;

namespace Rkde.Orleans.Grains;

/// <summary>A camera's persisted state: the reference to its model and the model's description.</summary>
[GenerateSerializer]
internal sealed class CameraState
{
    [Id(0)] public ModelReference? Model { get; set; }

    [Id(1)] public CameraModelInfo? Info { get; set; }

    /// <summary>The fit request that made the current model, so that a retried request is answered, not fitted again.</summary>
    [Id(2)] public Guid FitRequest { get; set; }
}

/// <summary>
/// A camera's model. Fitting runs here (off the grain's scheduler, so <see cref="GetModel"/> keeps answering with the
/// model before it); the model's entries go to the blob store first and the reference to them to the camera's state
/// after, so a stored reference never names a missing entry.
/// </summary>
internal sealed class CameraGrain : Grain, ICameraGrain
{
    private readonly StoredState<CameraState> _camera;

    public CameraGrain([FromKeyedServices(RkdeStorage.Cameras)] IGrainStorage storage) => _camera = new StoredState<CameraState>(this, storage, "camera");

    private string Id => this.GetPrimaryKeyString();

    public async Task<CameraModelInfo> Fit(byte[][] images, CameraFitSettings settings, Guid request)
    {
        ArgumentNullException.ThrowIfNull(images);
        ArgumentNullException.ThrowIfNull(settings);
        string id = Id;
        if (images.Length == 0)
            throw new ArgumentException($"No images to fit camera '{id}' with.", nameof(images));
        var current = await _camera.Read($"Reading camera '{id}''s model");
        if (request != Guid.Empty && current.FitRequest == request && current.Info is not null)
            return current.Info;
        var fit = await Task.Run(() => CameraFitter.Fit(id, images, settings));
        var parts = ModelPackage.Split(fit.Zip);
        var stored = await RkdeStorage.FewAtATime(parts, p => GrainFactory.GetGrain<IModelBlobGrain>(p.Entry.Sha256).Store(p.Bytes));
        var model = new ModelReference(id, (current.Model?.Version ?? 0) + 1, parts.Select(p => p.Entry).ToArray(), fit.Threshold);
        var info = new CameraModelInfo
        {
            CameraId = id,
            Version = model.Version,
            ImagesFitted = fit.Fitted,
            ImagesSkipped = fit.Skipped,
            FittedAt = DateTimeOffset.UtcNow,
            ModelBytes = model.Length,
            NewBytesStored = parts.Where((_, i) => stored[i]).Sum(p => p.Entry.Length),
            Warnings = fit.Warnings,
            Settings = settings,
            Threshold = fit.Threshold,
        };
        await _camera.Write(new CameraState { Model = model, Info = info, FitRequest = request }, $"Storing camera '{id}''s model");
        return info;
    }

    // Interleaved with a fit: they read the state as last stored (Write swaps it only once it is written).
    public async Task<ModelReference?> GetModel() => (await _camera.Read($"Reading camera '{Id}''s model")).Model;

    public async Task<CameraModelInfo?> GetInfo() => (await _camera.Read($"Reading camera '{Id}''s model")).Info;
}
