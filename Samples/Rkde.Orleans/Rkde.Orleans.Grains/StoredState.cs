using Orleans.Storage;

namespace Rkde.Orleans.Grains;

/// <summary>
/// A grain's state in a named Orleans storage provider, read on first use rather than at activation, so that a database
/// that cannot be reached fails the call with <see cref="ModelStoreUnavailableException"/> (which crosses to the client)
/// instead of failing the activation with the driver's exception (which Orleans cannot serialize).
/// </summary>
internal sealed class StoredState<T> where T : class, new()
{
    private readonly IGrainStorage _storage;
    private readonly string _stateName;
    private readonly IAddressable _grain;
    private GrainState<T> _state = new(new T());
    private Task? _reading;

    public StoredState(IAddressable grain, IGrainStorage storage, string stateName)
    {
        _storage = storage;
        _stateName = stateName;
        _grain = grain;
    }

    /// <summary>The state as last stored, read from storage on the first call (calls interleaved with it share that read).</summary>
    public async Task<T> Read(string what)
    {
        var reading = _reading ??= ReadOnce(what);
        try
        {
            await reading;
        }
        catch
        {
            if (ReferenceEquals(_reading, reading))
                _reading = null; // the next call tries again
            throw;
        }
        return _state.State ??= new T();
    }

    private Task ReadOnce(string what) => RkdeStorage.Guard(() => _storage.ReadStateAsync(_stateName, _grain.GetGrainId(), _state), what);

    /// <summary>
    /// Stores <paramref name="state"/> (after the first read); <see cref="Read"/> answers with it only once it is stored,
    /// and keeps answering with the previous state when the write fails.
    /// </summary>
    public async Task Write(T state, string what)
    {
        var next = new GrainState<T>(state) { ETag = _state.ETag, RecordExists = _state.RecordExists };
        await RkdeStorage.Guard(() => _storage.WriteStateAsync(_stateName, _grain.GetGrainId(), next), what);
        _state = next;
    }
}
