using System.Numerics.Tensors;
using System.Runtime.Intrinsics;

namespace Rkde.MLNet.Density;

/// <summary>
/// A view of the training rows the density model is fitted on: the caller's pinned N × D row-major buffer, or the
/// native chunks of a <see cref="Reservoir"/>, plus an optional list of selected row indices (the training sample), so
/// the sample is never copied. Also holds the row-parallel loop and the streaming passes (finite check, mean) over that view.
/// </summary>
internal readonly unsafe struct FeatureRows
{
    private readonly float* _data;
    private readonly nint[]? _chunks;
    private readonly int _chunkRows;
    private readonly int[]? _index;

    /// <summary>A view of <paramref name="rowCount"/> contiguous rows at <paramref name="data"/>, or of those listed in <paramref name="index"/>.</summary>
    public FeatureRows(float* data, int rowCount, int dimension, int[]? index = null)
        : this(data, null, 0, rowCount, dimension, index)
    {
    }

    /// <summary>A view of <paramref name="rowCount"/> rows stored <paramref name="chunkRows"/> to a chunk at <paramref name="chunks"/>.</summary>
    public FeatureRows(nint[] chunks, int chunkRows, int rowCount, int dimension)
        : this(null, chunks, chunkRows, rowCount, dimension, null)
    {
    }

    private FeatureRows(float* data, nint[]? chunks, int chunkRows, int rowCount, int dimension, int[]? index)
    {
        _data = data;
        _chunks = chunks;
        _chunkRows = chunkRows;
        _index = index;
        Count = index?.Length ?? rowCount;
        Dimension = dimension;
    }

    /// <summary>Number of rows in the view.</summary>
    public int Count { get; }

    /// <summary>D, the length of a row.</summary>
    public int Dimension { get; }

    /// <summary>Pointer to row <paramref name="i"/> of the view.</summary>
    public float* Row(int i)
    {
        int source = SourceRow(i);
        return _chunks is null
            ? _data + (long)source * Dimension
            : (float*)_chunks[source / _chunkRows] + (long)(source % _chunkRows) * Dimension;
    }

    /// <summary>The index of row <paramref name="i"/> in the underlying rows.</summary>
    public int SourceRow(int i) => _index is null ? i : _index[i];

    /// <summary>The rows of this view listed in <paramref name="index"/> (indices into this view), as a view.</summary>
    public FeatureRows Subset(int[] index)
    {
        var source = new int[index.Length];
        for (int i = 0; i < index.Length; i++) source[i] = SourceRow(index[i]);
        return new FeatureRows(_data, _chunks, _chunkRows, 0, Dimension, source);
    }

    /// <summary>Every <paramref name="step"/>-th row of this view, as a view.</summary>
    public FeatureRows EveryNth(int step)
    {
        var index = new int[(Count + step - 1) / step];
        for (int i = 0; i < index.Length; i++) index[i] = i * step;
        return Subset(index);
    }

    /// <summary>
    /// Runs <paramref name="body"/> over contiguous row ranges, one worker per core; each worker gets its own
    /// state from <paramref name="createState"/>, and <paramref name="merge"/> folds the states in range order, so
    /// that sums come out the same whichever worker finishes first.
    /// </summary>
    public static void ParallelRanges<TState>(int count, Func<TState> createState, Action<int, int, TState> body,
        Action<TState> merge)
    {
        int workers = Math.Clamp(count / 64, 1, Environment.ProcessorCount);
        var states = new TState[workers];
        Parallel.For(0, workers, w =>
        {
            int start = (int)((long)count * w / workers), end = (int)((long)count * (w + 1) / workers);
            states[w] = createState();
            body(start, end, states[w]);
        });
        foreach (var state in states) merge(state);
    }

    /// <summary>The first (row, column) holding NaN or ±∞, or null when every value is finite.</summary>
    public (int Row, int Column)? FindNonFinite()
    {
        var self = this;
        int bad = int.MaxValue;
        ParallelRanges(Count, () => new int[] { int.MaxValue }, (start, end, first) =>
        {
            for (int i = start; i < end && first[0] == int.MaxValue; i++)
            {
                if (!AllFinite(self.Row(i), self.Dimension)) first[0] = i;
            }
        }, first => bad = Math.Min(bad, first[0]));
        if (bad == int.MaxValue) return null;
        float* row = Row(bad);
        int column = 0;
        while (column < Dimension - 1 && float.IsFinite(row[column])) column++;
        return (SourceRow(bad), column);
    }

    private static bool AllFinite(float* x, int n)
    {
        // x − x is 0 for finite x and NaN for NaN and ±∞; NaN never equals 0.
        int d = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            var ok = Vector256<float>.AllBitsSet;
            for (; d <= n - 8; d += 8)
            {
                var v = Vector256.Load(x + d);
                ok &= Vector256.Equals(v - v, Vector256<float>.Zero);
            }
            if (Vector256.ExtractMostSignificantBits(ok) != 0xFF) return false;
        }
        for (; d < n; d++)
        {
            if (!float.IsFinite(x[d])) return false;
        }
        return true;
    }

    /// <summary>
    /// The per-column sums of the view's values and of their squares (runs of 32 rows in float, added in double; portable
    /// TensorPrimitives: the platform's own SIMD), in one pass: the mean, and the rows' spread about it, without a second pass.
    /// </summary>
    public (double[] Sums, double[] Squares) ColumnSums()
    {
        var self = this;
        int dim = Dimension;
        var sums = new double[dim];
        var squares = new double[dim];
        // Runs of up to 32 rows are summed in float (exact enough for 32 terms, and half the work of double), then added in double.
        const int run = 32;
        ParallelRanges(Count, () => (Sum: new double[dim], Squares: new double[dim], RunSum: new float[dim], RunSquares: new float[dim], Wide: new double[dim]), (start, end, s) =>
        {
            for (int r0 = start; r0 < end; r0 += run)
            {
                Array.Clear(s.RunSum);
                Array.Clear(s.RunSquares);
                for (int i = r0; i < Math.Min(end, r0 + run); i++)
                {
                    var row = new ReadOnlySpan<float>(self.Row(i), dim);
                    TensorPrimitives.Add(s.RunSum, row, s.RunSum);
                    TensorPrimitives.FusedMultiplyAdd(row, row, s.RunSquares, s.RunSquares);
                }
                TensorPrimitives.ConvertChecked<float, double>(s.RunSum, s.Wide);
                TensorPrimitives.Add(s.Sum, s.Wide, s.Sum);
                TensorPrimitives.ConvertChecked<float, double>(s.RunSquares, s.Wide);
                TensorPrimitives.Add(s.Squares, s.Wide, s.Squares);
            }
        }, s =>
        {
            TensorPrimitives.Add(sums, s.Sum, sums);
            TensorPrimitives.Add(squares, s.Squares, squares);
        });
        return (sums, squares);
    }
}
