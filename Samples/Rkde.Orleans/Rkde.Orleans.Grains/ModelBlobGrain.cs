using Microsoft.Extensions.DependencyInjection;
using Orleans.Storage;
using Rkde.Orleans;

namespace Rkde.Orleans.Grains;

/// <summary>A stored model entry's bytes.</summary>
[GenerateSerializer]
internal sealed class ModelBlobState
{
    [Id(0)] public byte[]? Bytes { get; set; }
}

/// <summary>
/// One immutable model entry, keyed by the SHA-256 of its bytes, persisted in <see cref="RkdeStorage.Blobs"/>. Entries
/// equal across cameras (the default models' ONNX graphs, equal for equal fit settings) are stored once. The activation
/// leaves memory after each call: readers cache what they read, so keeping tens of MB per entry resident serves no one.
/// </summary>
internal sealed class ModelBlobGrain : Grain, IModelBlobGrain
{
    private readonly StoredState<ModelBlobState> _blob;

    public ModelBlobGrain([FromKeyedServices(RkdeStorage.Blobs)] IGrainStorage storage) => _blob = new StoredState<ModelBlobState>(this, storage, "blob");

    private string Key => this.GetPrimaryKeyString();

    public async Task<bool> Store(byte[] bytes)
    {
        DeactivateOnIdle();
        string hash = ModelPackage.Sha256(bytes);
        if (!string.Equals(hash, Key, StringComparison.Ordinal))
            throw new ArgumentException($"The bytes hash to {hash}, not to the blob's key {Key}: a blob is stored under the SHA-256 of its bytes.", nameof(bytes));
        var state = await _blob.Read($"Reading model entry {Key}");
        if (state.Bytes is not null)
            return false;
        await _blob.Write(new ModelBlobState { Bytes = bytes }, $"Storing model entry {Key}");
        return true;
    }

    public async Task<byte[]> Read()
    {
        DeactivateOnIdle();
        var bytes = (await _blob.Read($"Reading model entry {Key}")).Bytes ?? throw new InvalidOperationException(
            $"Model entry {Key} is not in the blob store ({RkdeStorage.Blobs}): the store was cleared or is another than the one the model was fitted into.");
        if (!string.Equals(ModelPackage.Sha256(bytes), Key, StringComparison.Ordinal))
            throw new InvalidOperationException($"Model entry {Key} in the blob store is damaged: its bytes no longer hash to its key. Fit the camera again.");
        return bytes;
    }
}
