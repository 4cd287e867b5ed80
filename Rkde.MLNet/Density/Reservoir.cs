using System.Runtime.InteropServices;

namespace Rkde.MLNet.Density;

/// <summary>
/// A seeded uniform sample (Algorithm R) of at most <c>capacity</c> feature rows from a stream of unknown length.
/// Rows live in fixed-size native chunks allocated as the sample grows, so nothing is copied while it grows, the
/// memory held follows the rows held (at most one partly filled chunk more), and Dispose returns it at once.
/// </summary>
internal sealed unsafe class Reservoir : IDisposable
{
    /// <summary>Target size of one chunk of rows.</summary>
    private const int ChunkBytes = 4 << 20;

    private readonly int _capacity;
    private readonly int _chunkRows;
    private readonly Random _random;
    private readonly List<nint> _chunks = [];

    /// <summary>For each held row, its position in the stream (replaced rows take the newcomer's).</summary>
    private readonly List<long> _arrivals = [];

    /// <summary>An empty reservoir of up to <paramref name="capacity"/> rows; <paramref name="chunkRows"/> overrides the chunk size (about 4 MB).</summary>
    public Reservoir(int capacity, int dimension, int seed, int? chunkRows = null)
    {
        _capacity = capacity;
        Dimension = dimension;
        _chunkRows = chunkRows ?? (int)Math.Clamp(ChunkBytes / (4L * dimension), 1, capacity);
        _random = new Random(seed);
    }

    /// <summary>D, the length of a row.</summary>
    public int Dimension { get; }

    /// <summary>Rows offered so far.</summary>
    public long Seen { get; private set; }

    /// <summary>Rows held: min(Seen, capacity).</summary>
    public int Count => (int)Math.Min(Seen, _capacity);

    /// <summary>Offers one row: kept with probability capacity / (Seen + 1), replacing a uniformly chosen held row once full.</summary>
    public void Add(ReadOnlySpan<float> row)
    {
        long arrival = Seen;
        long slot = Seen < _capacity ? Seen : _random.NextInt64(Seen + 1);
        Seen++;
        if (slot >= _capacity) return;
        if (slot == _arrivals.Count) _arrivals.Add(arrival);
        else _arrivals[(int)slot] = arrival;
        int chunk = (int)(slot / _chunkRows);
        if (chunk == _chunks.Count)
            _chunks.Add((nint)NativeMemory.Alloc((nuint)_chunkRows * (nuint)Dimension, sizeof(float)));
        row.CopyTo(new Span<float>((float*)_chunks[chunk] + slot % _chunkRows * Dimension, Dimension));
    }

    /// <summary>The held rows as a view, valid until Dispose.</summary>
    public FeatureRows Rows() => new([.. _chunks], _chunkRows, Count, Dimension);

    /// <summary>The held rows' indices in <see cref="Rows"/>, oldest first (the identity until rows are replaced).</summary>
    public int[] ArrivalOrder()
    {
        var order = Enumerable.Range(0, Count).ToArray();
        Array.Sort(_arrivals.ToArray(), order);
        return order;
    }

    /// <summary>Frees the rows.</summary>
    public void Dispose()
    {
        foreach (nint chunk in _chunks) NativeMemory.Free((void*)chunk);
        _chunks.Clear();
        _arrivals.Clear();
        Seen = 0;
    }
}
