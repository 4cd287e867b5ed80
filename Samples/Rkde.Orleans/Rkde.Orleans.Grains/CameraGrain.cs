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

    /// <summary>The fit or update request that made the current model, so that a retried request is answered, not run again.</summary>
    [Id(2)] public Guid FitRequest { get; set; }
}

/// <summary>
/// A camera's model. Fitting and updating run here (off the grain's scheduler, so <see cref="GetModel"/> keeps answering
/// with the model before them, and one after the other, as Orleans runs one non-interleaving call of a grain at a time).
/// </summary>
internal sealed class CameraGrain : Grain, ICameraGrain
{
    private readonly StoredState<CameraState> _camera;
    private readonly LoadedModels _models;

    public CameraGrain([FromKeyedServices(RkdeStorage.Cameras)] IGrainStorage storage, LoadedModels models)
    {
        _camera = new StoredState<CameraState>(this, storage, "camera");
        _models = models;
    }

    private string Id => this.GetPrimaryKeyString();

    public async Task<CameraModelInfo> Fit(byte[][] images, CameraFitSettings settings, Guid request)
    {
        ArgumentNullException.ThrowIfNull(settings);
        string id = Id;
        var (current, done) = await Begin(images, "fit", request);
        if (done is not null)
            return done;
        var fit = await Task.Run(() => CameraFitter.Fit(id, images, settings));
        return await Store(current, fit, request, model => new CameraModelInfo
        {
            CameraId = id,
            Version = model.Version,
            ImagesFitted = fit.Used,
            ImagesSkipped = fit.Skipped,
            FittedAt = DateTimeOffset.UtcNow,
            Warnings = fit.Warnings,
            Settings = settings,
        });
    }

    public async Task<CameraModelInfo> Update(byte[][] images, Guid request)
    {
        string id = Id;
        var (current, done) = await Begin(images, "update", request);
        if (done is not null)
            return done;
        if (current.Model is null || current.Info is null)
            throw new CameraNotFittedException(id);
        using var zip = await _models.Zip(current.Model);
        var update = await Task.Run(() => CameraFitter.Update(id, zip.ToArray(), images));
        var before = current.Info;
        return await Store(current, update, request, model => before with
        {
            Version = model.Version,
            ImagesSkipped = update.Skipped,
            Warnings = update.Warnings,
            ImagesAdded = before.ImagesAdded + update.Used,
            UpdatedAt = DateTimeOffset.UtcNow,
        });
    }

    /// <summary>
    /// The camera's state before a fit or update; and what this request made, when it is a retry of one that ran (so it
    /// is answered, not run again).
    /// </summary>
    private async Task<(CameraState Current, CameraModelInfo? Done)> Begin(byte[][] images, string verb, Guid request)
    {
        ArgumentNullException.ThrowIfNull(images);
        if (images.Length == 0)
            throw new ArgumentException($"No images to {verb} camera '{Id}' with.", nameof(images));
        var current = await _camera.Read($"Reading camera '{Id}''s model");
        return (current, request != Guid.Empty && current.FitRequest == request ? current.Info : null);
    }

    /// <summary>
    /// Stores a fit's or update's model as the camera's next version: its chunks first, then the camera's state that
    /// names them (so a stored reference never names a missing chunk).
    /// </summary>
    private async Task<CameraModelInfo> Store(CameraState current, CameraFitter.Result made, Guid request, Func<ModelReference, CameraModelInfo> describe)
    {
        var parts = ModelPackage.Split(made.Zip);
        var stored = await RkdeStorage.FewAtATime(parts, p => GrainFactory.GetGrain<IModelBlobGrain>(p.Entry.Sha256).Store(p.Bytes));
        var model = new ModelReference(Id, (current.Model?.Version ?? 0) + 1, parts.Select(p => p.Entry).ToArray(), made.Threshold);
        var info = describe(model) with
        {
            ModelBytes = model.Length,
            NewBytesStored = parts.Where((_, i) => stored[i]).Sum(p => p.Entry.Length),
            Threshold = made.Threshold,
        };
        await _camera.Write(new CameraState { Model = model, Info = info, FitRequest = request }, $"Storing camera '{Id}''s model");
        return info;
    }

    // Interleaved with a fit or update: they read the state as last stored (Write swaps it only once it is written).
    public async Task<ModelReference?> GetModel() => (await _camera.Read($"Reading camera '{Id}''s model")).Model;

    public async Task<CameraModelInfo?> GetInfo() => (await _camera.Read($"Reading camera '{Id}''s model")).Info;
}
