using Rkde.Orleans;

namespace Rkde.Orleans.Grains;

/// <summary>A camera's persisted state: the reference to its model and the model's description.</summary>
[GenerateSerializer]
internal sealed class CameraState
{
    [Id(0)] public ModelReference? Model { get; set; }

    [Id(1)] public CameraModelInfo? Info { get; set; }
}

/// <summary>
/// A camera's model. Fitting runs here (off the grain's scheduler, so <see cref="GetModel"/> keeps answering with the
/// model before it); the model's entries go to the blob store first and the reference to them to the camera's state
/// after, so a stored reference never names a missing entry.
/// </summary>
internal sealed class CameraGrain([PersistentState("camera", RkdeStorage.Cameras)] IPersistentState<CameraState> camera) : Grain, ICameraGrain
{
    public async Task<CameraModelInfo> Fit(byte[][] images, CameraFitSettings settings)
    {
        ArgumentNullException.ThrowIfNull(images);
        ArgumentNullException.ThrowIfNull(settings);
        string id = this.GetPrimaryKeyString();
        if (images.Length == 0)
            throw new ArgumentException($"No images to fit camera '{id}' with.", nameof(images));
        var fit = await Task.Run(() => CameraFitter.Fit(id, images, settings));
        var parts = ModelPackage.Split(fit.Zip);
        var stored = await Task.WhenAll(parts.Select(p => GrainFactory.GetGrain<IModelBlobGrain>(p.Entry.Sha256).Store(p.Bytes)));
        var model = new ModelReference(id, (camera.State.Model?.Version ?? 0) + 1, parts.Select(p => p.Entry).ToArray());
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
        };
        await Save(model, info, $"Storing camera '{id}''s model");
        return info;
    }

    public Task<ModelReference?> GetModel() => Task.FromResult(_published.Model);

    public Task<CameraModelInfo?> GetInfo() => Task.FromResult(_published.Info);

    /// <summary>What <see cref="GetModel"/> answers: the state as last stored, never one being written.</summary>
    private (ModelReference? Model, CameraModelInfo? Info) _published;

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        _published = (camera.State.Model, camera.State.Info);
        return Task.CompletedTask;
    }

    /// <summary>Writes the new model's reference; on failure the camera keeps its previous model, in memory as in storage.</summary>
    private async Task Save(ModelReference model, CameraModelInfo info, string what)
    {
        var (previousModel, previousInfo) = (camera.State.Model, camera.State.Info);
        camera.State.Model = model;
        camera.State.Info = info;
        try
        {
            await RkdeStorage.Guard(() => camera.WriteStateAsync(), what);
            _published = (model, info);
        }
        catch
        {
            camera.State.Model = previousModel;
            camera.State.Info = previousInfo;
            throw;
        }
    }
}
