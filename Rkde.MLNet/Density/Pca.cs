using System.Numerics.Tensors;
using MathNet.Numerics.LinearAlgebra;
using MathNet.Numerics.LinearAlgebra.Factorization;

namespace Rkde.MLNet.Density;

/// <summary>
/// PCA of the training rows: centre on the mean, keep the top-k principal directions, project the rows.
/// Cost is linear in the number of rows: for D ≤ <see cref="ExactMaxDimension"/> the exact D × D covariance and its
/// symmetric eigendecomposition (in double); for fewer rows than D, up to <see cref="ExactMaxRows"/>, the exact n × n Gram
/// matrix's; otherwise LOBPCG (<see cref="Lobpcg"/>) on the covariance, whose passes over the rows run on
/// <see cref="MatrixKernels"/>. The exact paths form the projections in double from the float components the model keeps;
/// LOBPCG's come out of its passes (<see cref="PassCoordinates"/>), so they cost no pass of their own.
/// Any orthonormal basis of the top-k subspace serves: the KDE after it is invariant to rotations inside it.
/// </summary>
internal static unsafe class Pca
{
    /// <summary>Up to this feature dimension the covariance is formed and decomposed exactly.</summary>
    public const int ExactMaxDimension = 256;

    /// <summary>Up to this many rows (fewer than D) the n × n Gram matrix is decomposed exactly instead.</summary>
    public const int ExactMaxRows = 512;

    /// <summary>
    /// The fitted PCA: float mean (used for centring everywhere), D × k components, n × k projections, Σ‖row − mean‖² (for
    /// the explained variance), and how it was solved (for progress).
    /// </summary>
    public sealed record Result(float[] Mean, float[] Components, double[] Projections, double CentredSquares, string Solved);

    /// <summary>
    /// Fits the PCA on <paramref name="rows"/>, keeping <paramref name="k"/> components; the iterative path is seeded with
    /// <paramref name="seed"/>, starts from <paramref name="near"/> when given and stops at <paramref name="tolerance"/>
    /// (<see cref="Lobpcg.Components"/>).
    /// </summary>
    public static Result Fit(FeatureRows rows, int k, int seed, IProgress<string>? progress, PcaSolver solver = PcaSolver.Auto,
        float[]? near = null, double tolerance = Lobpcg.ErrorTolerance)
    {
        var (sums, squares) = rows.ColumnSums();
        var mean = Array.ConvertAll(sums, sum => (float)(sum / rows.Count));
        double centred = ExplainedVariance.CentredSquares(sums, squares, mean, rows.Count);
        // Fewer rows than dimensions: the n × n Gram matrix is the smaller exact problem (null when the rows span fewer than k
        // directions; the paths below then meet the same rank deficiency).
        if (rows.Count < rows.Dimension && (solver == PcaSolver.Exact || (solver == PcaSolver.Auto && rows.Count <= ExactMaxRows))
            && GramComponents(rows, mean, k) is { } gramComponents)
        {
            return new Result(mean, gramComponents, Project(rows, mean, gramComponents, k), centred, $"exactly ({rows.Count} × {rows.Count} Gram matrix)");
        }
        // LOBPCG's basis holds 3 blocks of l > k columns; with k near D the exact path is as cheap.
        if (solver == PcaSolver.Exact || (solver == PcaSolver.Auto && (rows.Dimension <= ExactMaxDimension || 3 * Lobpcg.BlockSize(k) > rows.Dimension)))
        {
            var components = ExactComponents(rows, mean, k);
            return new Result(mean, components, Project(rows, mean, components, k), centred, $"exactly ({rows.Dimension}-d covariance)");
        }
        var (randomized, projections, solved) = Lobpcg.Components(rows, mean, k, seed, progress, near, tolerance);
        return new Result(mean, randomized, projections ?? Project(rows, mean, randomized, k), centred, solved);
    }

    /// <summary>Top-k eigenvectors of the covariance, formed in double by rank-1 updates.</summary>
    private static float[] ExactComponents(FeatureRows rows, float[] mean, int k)
    {
        int dim = rows.Dimension;
        var scatter = new double[dim * dim];
        FeatureRows.ParallelRanges(rows.Count, () => (Sum: new double[dim * dim], X: new double[dim]), (start, end, s) =>
        {
            for (int i = start; i < end; i++)
            {
                float* row = rows.Row(i);
                for (int d = 0; d < dim; d++) s.X[d] = (double)row[d] - mean[d];
                for (int a = 0; a < dim; a++)
                {
                    var target = s.Sum.AsSpan(a * dim, dim);
                    TensorPrimitives.MultiplyAdd(s.X, s.X[a], target, target);
                }
            }
        }, s => TensorPrimitives.Add(scatter, s.Sum, scatter));
        var evd = Matrix<double>.Build.Dense(dim, dim, scatter).Evd(Symmetricity.Symmetric);
        // Eigenvalues come ascending: the last k columns, largest first.
        var components = new float[dim * k];
        for (int j = 0; j < k; j++)
        {
            int column = dim - 1 - j;
            for (int d = 0; d < dim; d++) components[d * k + j] = (float)evd.EigenVectors[d, column];
        }
        return components;
    }

    /// <summary>
    /// Top-k principal directions from the n × n Gram matrix of the centred rows (for n &lt; D): with Gram = U·Λ·Uᵀ, direction j
    /// is Xcᵀ·u_j / √λ_j. Null when fewer than k directions carry variance (the rows span too few dimensions; the caller's
    /// path then reports it).
    /// </summary>
    private static float[]? GramComponents(FeatureRows rows, float[] mean, int k)
    {
        int n = rows.Count, dim = rows.Dimension;
        var centred = new double[(long)n * dim];
        Parallel.For(0, n, i =>
        {
            float* row = rows.Row(i);
            var target = centred.AsSpan(i * dim, dim);
            for (int d = 0; d < dim; d++) target[d] = (double)row[d] - mean[d];
        });
        var gram = new double[n * n];
        Parallel.For(0, n, i =>
        {
            var a = centred.AsSpan(i * dim, dim);
            for (int j = 0; j <= i; j++) gram[i * n + j] = gram[j * n + i] = TensorPrimitives.Dot(a, centred.AsSpan(j * dim, dim));
        });
        var evd = Matrix<double>.Build.Dense(n, n, gram).Evd(Symmetricity.Symmetric);
        double largest = evd.EigenValues[n - 1].Real;
        if (!(evd.EigenValues[n - k].Real > 1e-10 * largest))
            return null;
        var components = new float[dim * k];
        var direction = new double[dim];
        for (int j = 0; j < k; j++)
        {
            int column = n - 1 - j;
            double root = Math.Sqrt(evd.EigenValues[column].Real);
            Array.Clear(direction);
            for (int i = 0; i < n; i++)
                TensorPrimitives.MultiplyAdd(centred.AsSpan(i * dim, dim), evd.EigenVectors[i, column] / root, direction, direction);
            for (int d = 0; d < dim; d++) components[d * k + j] = (float)direction[d];
        }
        return components;
    }

    /// <summary>
    /// (row − mean) · components for every row, in double from the float rows, mean and components (every product exact),
    /// so that the KDE's points are the projections on exactly the components the model scores with.
    /// </summary>
    private static double[] Project(FeatureRows rows, float[] mean, float[] components, int k)
    {
        const int blockRows = 32;
        int dim = rows.Dimension, cols = MatrixKernels.RoundUp(k, MatrixKernels.RowMultiple), stride = MatrixKernels.RowStride(dim);
        var ct = new double[cols * stride];
        for (int j = 0; j < k; j++)
        for (int d = 0; d < dim; d++) ct[j * stride + d] = components[d * k + j];
        var projections = new double[(long)rows.Count * k];
        FeatureRows.ParallelRanges(rows.Count, () => (Block: new double[blockRows * stride], Y: new double[blockRows * cols]), (start, end, s) =>
        {
            fixed (double* block = s.Block, yBlock = s.Y, pc = ct)
            {
                for (int r0 = start; r0 < end; r0 += blockRows)
                {
                    int count = Math.Min(blockRows, end - r0);
                    for (int r = 0; r < count; r++)
                    {
                        float* row = rows.Row(r0 + r);
                        double* target = block + r * stride;
                        for (int d = 0; d < dim; d++) target[d] = (double)row[d] - mean[d];
                    }
                    int padded = MatrixKernels.RoundUp(count, MatrixKernels.RowMultiple);
                    new Span<double>(block + count * stride, (padded - count) * stride).Clear();
                    MatrixKernels.Project(block, pc, yBlock, padded, cols, stride);
                    for (int r = 0; r < count; r++)
                        new Span<double>(yBlock + r * cols, k).CopyTo(projections.AsSpan((r0 + r) * k, k));
                }
            }
        }, _ => { });
        return projections;
    }

}

/// <summary>Which PCA solver <see cref="Pca.Fit"/> uses: Exact decomposes the covariance, or the Gram matrix when there are fewer rows than dimensions; Auto picks by both sizes.</summary>
internal enum PcaSolver
{
    Auto,
    Exact,
    Randomized,
}
