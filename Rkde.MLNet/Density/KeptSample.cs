namespace Rkde.MLNet.Density;

/// <summary>
/// A model's training sample (projected rows, k values each, oldest first) taking in new rows one at a time, at most
/// <c>capacity</c> of them. Reservoir: Algorithm R (Vitter 1985) continued over the rows already seen, so the sample stays
/// uniform over every row ever offered (given that it was uniform before). Window: each row beyond the capacity replaces the
/// oldest. Rows live in slots with arrival stamps, so a replacement moves nothing; <see cref="Rows"/> puts them back in arrival order.
/// </summary>
internal sealed class KeptSample
{
    private readonly int _k;
    private readonly int _capacity;
    private readonly UpdateSampling _sampling;
    private SplitMix64 _random;
    private double[] _rows;
    private long[] _stamps;
    private long _nextStamp;
    private int _oldest;

    /// <summary>Continues <paramref name="sample"/> (n × k, oldest first), a sample of <paramref name="seen"/> rows.</summary>
    public KeptSample(double[] sample, int k, long seen, ulong randomState, int capacity, UpdateSampling sampling)
    {
        int n = sample.Length / k;
        // Below the capacity nothing was ever dropped, so the sample holds every row it stands for.
        if (n > capacity || seen < n || (n < capacity && seen != n))
            throw new ArgumentException($"A sample of {n} rows cannot stand for {seen} rows seen with capacity {capacity}.", nameof(sample));
        _k = k;
        _capacity = capacity;
        _sampling = sampling;
        _random = new SplitMix64(randomState);
        _rows = new double[(long)Math.Min(capacity, Math.Max(2L * n, n + 1024)) * k];
        sample.CopyTo(_rows, 0);
        _stamps = new long[_rows.Length / k];
        for (int i = 0; i < n; i++) _stamps[i] = i;
        _nextStamp = n;
        Count = n;
        Seen = seen;
    }

    /// <summary>Rows held.</summary>
    public int Count { get; private set; }

    /// <summary>Rows the sample stands for: those of the model plus every row offered.</summary>
    public long Seen { get; private set; }

    /// <summary>The generator's state now, for the next update to continue.</summary>
    public ulong RandomState => _random.State;

    /// <summary>Offers one row (k values): kept while there is room; beyond, as the sampling says.</summary>
    public void Offer(ReadOnlySpan<double> row)
    {
        long slot;
        if (Count < _capacity)
        {
            slot = Count++;
            Grow();
        }
        else if (_sampling == UpdateSampling.Window)
        {
            slot = _oldest;
            _oldest = (_oldest + 1) % _capacity;
        }
        else
        {
            slot = _random.NextBelow(Seen + 1);
        }
        Seen++;
        if (slot >= _capacity) return;
        row.CopyTo(_rows.AsSpan((int)slot * _k, _k));
        _stamps[slot] = _nextStamp++;
    }

    /// <summary>The held rows in arrival order, n × k.</summary>
    public double[] Rows()
    {
        var stamps = _stamps.AsSpan(0, Count);
        var rows = _rows.AsSpan(0, Count * _k);
        bool inOrder = true;
        for (int i = 1; i < stamps.Length && inOrder; i++) inOrder = stamps[i - 1] < stamps[i];
        if (inOrder) return rows.ToArray();
        var order = Enumerable.Range(0, Count).ToArray();
        Array.Sort(stamps.ToArray(), order);
        var sorted = new double[rows.Length];
        for (int i = 0; i < Count; i++) rows.Slice(order[i] * _k, _k).CopyTo(sorted.AsSpan(i * _k, _k));
        return sorted;
    }

    /// <summary>Makes room for one more row in the slot arrays (doubling, up to the capacity).</summary>
    private void Grow()
    {
        if (Count * _k <= _rows.Length) return;
        int slots = (int)Math.Min(_capacity, 2L * _stamps.Length);
        Array.Resize(ref _rows, slots * _k);
        Array.Resize(ref _stamps, slots);
    }
}
