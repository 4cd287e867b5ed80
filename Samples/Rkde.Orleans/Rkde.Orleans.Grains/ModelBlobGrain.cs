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
internal sealed class ModelBlobGrain([PersistentState("blob", RkdeStorage.Blobs)] IPersistentState<ModelBlobState> blob) : Grain, IModelBlobGrain
{
    public async Task<bool> Store(byte[] bytes)
    {
        DeactivateOnIdle();
        string key = this.GetPrimaryKeyString();
        string hash = ModelPackage.Sha256(bytes);
        if (!string.Equals(hash, key, StringComparison.Ordinal))
            throw new ArgumentException($"The bytes hash to {hash}, not to the blob's key {key}: a blob is stored under the SHA-256 of its bytes.", nameof(bytes));
        if (blob.RecordExists && blob.State.Bytes is not null)
            return false;
        blob.State.Bytes = bytes;
        await RkdeStorage.Guard(() => blob.WriteStateAsync(), $"Storing model entry {key}");
        return true;
    }

    public Task<byte[]> Read()
    {
        DeactivateOnIdle();
        var bytes = blob.State.Bytes ?? throw new InvalidOperationException(
            $"Model entry {this.GetPrimaryKeyString()} is not in the blob store ({RkdeStorage.Blobs}): the store was cleared or is another than the one the model was fitted into.");
        if (!string.Equals(ModelPackage.Sha256(bytes), this.GetPrimaryKeyString(), StringComparison.Ordinal))
            throw new InvalidOperationException($"Model entry {this.GetPrimaryKeyString()} in the blob store is damaged: its bytes no longer hash to its key. Fit the camera again.");
        return Task.FromResult(bytes);
    }
}
