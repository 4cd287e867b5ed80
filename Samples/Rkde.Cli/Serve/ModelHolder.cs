namespace Rkde.Cli.Serve;

/// <summary>
/// The model that requests score with, swappable while they run. A request takes a <see cref="Lease"/> and scores
/// with <see cref="Lease.Model"/> until it disposes the lease; <see cref="Swap"/> makes new leases go to the new model
/// at once, lets leases already taken finish on the old one, and disposes the old one when its last lease ends (at
/// once when none is out). So a swap drops no request and no request ever sees a disposed model.
/// </summary>
/// <remarks>
/// Each model carries a count: one for being current, one per lease. A lease is taken by raising a non-zero count
/// (compare-and-swap), so once a retired model's count reaches zero nothing can revive it, and a request that raced
/// with the swap simply retries on the model that is current now.
/// </remarks>
internal sealed class ModelHolder<T> : IDisposable where T : class, IDisposable
{
    private Counted _current;
    private int _version = 1;
    private int _leasesOut;
    private volatile bool _disposed;

    public ModelHolder(T initial) => _current = new Counted(initial, 1);

    /// <summary>The model new leases get.</summary>
    public T Current => Volatile.Read(ref _current).Model;

    /// <summary>1 for the first model, one more for each swap.</summary>
    public int Version => Volatile.Read(ref _current).Version;

    /// <summary>Leases out now, over all models still alive.</summary>
    public int LeasesOut => Volatile.Read(ref _leasesOut);

    /// <summary>A lease on the current model; dispose it when the request is done with the model.</summary>
    public Lease Acquire()
    {
        while (true)
        {
            var current = Volatile.Read(ref _current);
            if (current.TryAddRef())
            {
                Interlocked.Increment(ref _leasesOut);
                return new Lease(this, current);
            }
            // It was retired and released between the read and the increment: the holder has a newer one.
            ObjectDisposedException.ThrowIf(_disposed, this);
        }
    }

    /// <summary>Makes <paramref name="next"/> current; returns its version. The old model is disposed when no lease holds it.</summary>
    public int Swap(T next)
    {
        ArgumentNullException.ThrowIfNull(next);
        ObjectDisposedException.ThrowIf(_disposed, this);
        var counted = new Counted(next, Interlocked.Increment(ref _version));
        var old = Interlocked.Exchange(ref _current, counted);
        old.Release();
        return counted.Version;
    }

    /// <summary>Retires the current model; it is disposed when its last lease ends.</summary>
    public void Dispose()
    {
        if (_disposed)
            return;
        _disposed = true;
        Volatile.Read(ref _current).Release();
    }

    /// <summary>A request's hold on one model.</summary>
    public sealed class Lease : IDisposable
    {
        private readonly ModelHolder<T> _holder;
        private Counted? _counted;

        internal Lease(ModelHolder<T> holder, Counted counted)
        {
            _holder = holder;
            _counted = counted;
        }

        public T Model => (_counted ?? throw new ObjectDisposedException(nameof(Lease))).Model;

        /// <summary>The version of <see cref="Model"/>.</summary>
        public int Version => (_counted ?? throw new ObjectDisposedException(nameof(Lease))).Version;

        public void Dispose()
        {
            var counted = Interlocked.Exchange(ref _counted, null);
            if (counted is null)
                return;
            Interlocked.Decrement(ref _holder._leasesOut);
            counted.Release();
        }
    }

    internal sealed class Counted(T model, int version)
    {
        private int _references = 1;

        public T Model { get; } = model;

        public int Version { get; } = version;

        public bool TryAddRef()
        {
            int seen = Volatile.Read(ref _references);
            while (seen > 0)
            {
                int before = Interlocked.CompareExchange(ref _references, seen + 1, seen);
                if (before == seen)
                    return true;
                seen = before;
            }
            return false;
        }

        public void Release()
        {
            if (Interlocked.Decrement(ref _references) == 0)
                Model.Dispose();
        }
    }
}
