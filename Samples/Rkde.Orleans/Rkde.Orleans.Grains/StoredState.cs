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
    private readonly GrainState<T> _state = new(new T());
    private bool _read;

    public StoredState(IAddressable grain, IGrainStorage storage, string stateName)
    {
        _storage = storage;
        _stateName = stateName;
        _grain = grain;
    }

    /// <summary>The state, read from storage on the first call.</summary>
    public async Task<T> Read(string what)
    {
        if (!_read)
        {
            await RkdeStorage.Guard(() => _storage.ReadStateAsync(_stateName, _grain.GetGrainId(), _state), what);
            _read = true;
        }
        return _state.State ??= new T();
    }


    /// <summary>Writes <paramref name="state"/>; the held state changes only once it is stored.</summary>
    public async Task Write(T state, string what)
    {
        var previous = _state.State;
        _state.State = state;
        try
        {
            await RkdeStorage.Guard(() => _storage.WriteStateAsync(_stateName, _grain.GetGrainId(), _state), what);
        }
        catch
        {
            _state.State = previous;
            throw;
        }
    }
}
