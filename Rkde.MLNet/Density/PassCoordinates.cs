using System.Numerics.Tensors;

namespace Rkde.MLNet.Density;

/// <summary>
/// The rows' coordinates along each block that <see cref="Lobpcg"/>'s passes multiplied (Xc·B, n × l row-major, in the
/// pass's precision), so that the coordinates along any combination of those blocks, such as the final Ritz vectors,
/// follow from the combination's coefficients without another pass over the rows. A block's coefficients are l vectors
/// of <see cref="Stride"/> values (l per kept pass); the combinations LOBPCG applies to its blocks apply to them alike.
/// At most <see cref="MaxPasses"/> passes are kept; an iteration that needs more projects in a pass of its own.
/// </summary>
internal sealed class PassCoordinates(int rows, int l)
{
    /// <summary>Passes kept at most (per precision: a restart in double starts again).</summary>
    public const int MaxPasses = 12;

    private readonly List<(float[]? Single, double[]? Double)> _passes = [];

    /// <summary>Length of one coefficient vector (a multiple of the kernels' padding).</summary>
    public int Stride { get; } = MatrixKernels.RoundUp(MaxPasses * l, MatrixKernels.Pad);

    /// <summary>Whether another pass can be kept.</summary>
    public bool CanKeep => _passes.Count < MaxPasses;

    /// <summary>A buffer for a float pass's coordinates (n × l).</summary>
    public float[] NewSingle() => new float[(long)rows * l];

    /// <summary>A buffer for a double pass's coordinates (n × l).</summary>
    public double[] NewDouble() => new double[(long)rows * l];

    /// <summary>Keeps a pass's filled buffer (one of the two); returns the coefficients of the block it multiplied: the identity at its place.</summary>
    public double[] Keep(float[]? single, double[]? @double)
    {
        int slot = _passes.Count;
        _passes.Add((single, @double));
        var coefficients = new double[(long)l * Stride];
        for (int j = 0; j < l; j++) coefficients[(long)j * Stride + slot * l + j] = 1;
        return coefficients;
    }

    /// <summary>Forgets every kept pass (a restart: coefficients handed out before no longer apply).</summary>
    public void Clear() => _passes.Clear();

    /// <summary>The rows' coordinates (n × k, row-major, in double) along the first <paramref name="k"/> vectors of a block with these coefficients.</summary>
    public double[] Project(double[] coefficients, int k)
    {
        int m = _passes.Count * l;
        var weights = new double[m * k]; // weights[a, j]: vector j's coefficient on kept column a
        for (int j = 0; j < k; j++)
        for (int a = 0; a < m; a++) weights[a * k + j] = coefficients[(long)j * Stride + a];
        var projections = new double[(long)rows * k];
        var passes = _passes.ToArray();
        FeatureRows.ParallelRanges(rows, () => 0, (start, end, _) =>
        {
            for (int i = start; i < end; i++)
            {
                var target = projections.AsSpan((int)((long)i * k), k);
                for (int s = 0; s < passes.Length; s++)
                for (int c = 0; c < l; c++)
                {
                    long at = (long)i * l + c;
                    double y = passes[s].Single is { } single ? single[at] : passes[s].Double![at];
                    TensorPrimitives.MultiplyAdd(weights.AsSpan((s * l + c) * k, k), y, target, target);
                }
            }
        }, _ => { });
        return projections;
    }
}
