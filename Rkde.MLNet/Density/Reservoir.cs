using System.Runtime.InteropServices;

namespace Rkde.MLNet.Density;

/// <summary>
/// A seeded uniform sample (Algorithm R; Vitter, "Random sampling with a reservoir", ACM TOMS 11(1), 1985) of at most
/// <c>capacity</c> feature rows from a stream of unknown length: R-KDE's one training sampler, for streamed rows
/// (<see cref="Add"/>) and for rows already in memory (<see cref="Sample"/>), so both keep the same rows for one seed.
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

    /// <summary>
    /// The training sample of rows held in memory: the indices of the rows a reservoir of <paramref name="capacity"/>
    /// seeded with <paramref name="seed"/> keeps when offered rows 0 … <paramref name="rowCount"/> − 1, in slot order
    /// (so the same rows, in the same order, as <see cref="Add"/> keeps from the same stream); null when all fit.
    /// </summary>
    public static int[]? Sample(int rowCount, int capacity, int seed)
    {
        if (rowCount <= capacity) return null;
        var held = new int[capacity];
        var random = new Random(seed);
        for (int seen = 0; seen < rowCount; seen++)
        {
            long slot = Slot(random, seen, capacity);
            if (slot < capacity) held[slot] = seen;
        }
        return held;
    }

    /// <summary>
    /// Offers one row: kept with probability capacity / (Seen + 1), replacing a uniformly chosen held row once full.
    /// Returns the index of the held row it now occupies, or −1 when it was not kept.
    /// </summary>
    public int Add(ReadOnlySpan<float> row)
    {
        long arrival = Seen;
        long slot = Slot(_random, Seen, _capacity);
        Seen++;
        if (slot >= _capacity) return -1;
        if (slot == _arrivals.Count) _arrivals.Add(arrival);
        else _arrivals[(int)slot] = arrival;
        int chunk = (int)(slot / _chunkRows);
        if (chunk == _chunks.Count)
            _chunks.Add((nint)NativeMemory.Alloc((nuint)_chunkRows * (nuint)Dimension, sizeof(float)));
        row.CopyTo(new Span<float>((float*)_chunks[chunk] + slot % _chunkRows * Dimension, Dimension));
        return (int)slot;
    }

    /// <summary>Algorithm R's slot for the item offered after <paramref name="seen"/> others: a slot below capacity keeps it there.</summary>
    private static long Slot(Random random, long seen, int capacity) => seen < capacity ? seen : random.NextInt64(seen + 1);

    /// <summary>The held rows as a view, valid until Dispose.</summary>
    public FeatureRows Rows() => new([.. _chunks], _chunkRows, Count, Dimension);

    /// <summary>
    /// The held rows as a view, oldest first (the order they were offered in; <see cref="Rows"/> holds them in slot order,
    /// which replacements shuffle), valid until Dispose. A fit keeps its sample in this order, so that an update in Window
    /// mode drops the oldest rows first.
    /// </summary>
    public FeatureRows RowsOldestFirst()
    {
        var order = OldestFirst();
        return order is null ? Rows() : Rows().Subset(order);
    }

    /// <summary>The held rows' slots oldest first (what <see cref="RowsOldestFirst"/> lists); null when that is slot order.</summary>
    public int[]? OldestFirst()
    {
        if (Seen <= _capacity) return null;
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
