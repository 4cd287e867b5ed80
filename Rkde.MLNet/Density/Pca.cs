using System.Numerics.Tensors;
using MathNet.Numerics.LinearAlgebra;
using MathNet.Numerics.LinearAlgebra.Factorization;

namespace Rkde.MLNet.Density;

/// <summary>
/// PCA of the training rows: centre on the mean, keep the top-k principal directions, project the rows.
/// Cost is linear in the number of rows: for D ≤ <see cref="ExactMaxDimension"/> (or k ≥ D/2) the exact D × D covariance and its
/// symmetric eigendecomposition (in double); for fewer rows than D, up to <see cref="ExactMaxRows"/>, the exact n × n Gram
/// matrix's (small training sets, where the iteration below converges slowly); otherwise a randomized subspace iteration with Rayleigh–Ritz
/// (<see cref="RandomizedComponents"/>) whose passes over the rows run on <see cref="MatrixKernels"/>.
/// Any orthonormal basis of the top-k subspace serves: the KDE after it is invariant to the basis.
/// </summary>
internal static unsafe class Pca
{
    /// <summary>Up to this feature dimension the covariance is formed and decomposed exactly.</summary>
    public const int ExactMaxDimension = 256;

    /// <summary>
    /// Up to this many rows (fewer than D) the n × n Gram matrix is decomposed exactly instead: about 0.2 s at 426 × 1,024 and
    /// 0.5 s at 512 rows on 2 cores, where the randomized iteration on real features may stop at its pass limit unconverged.
    /// </summary>
    public const int ExactMaxRows = 512;

    /// <summary>
    /// Randomized path: the iteration stops when the top-k subspace moves by less than this between passes (sine of
    /// the largest principal angle), or when the error left, extrapolated from the convergence rate, is below it.
    /// Measured on 4,000 and 12,000 × 1,024 power-law features (k = 16): log-densities within 3e-4 and 4e-4 of the
    /// exact PCA's (probabilities within 5e-6), in 5 and 7 passes; the tests hold them within 1e-3.
    /// </summary>
    public const double SubspaceTolerance = 1e-3;

    /// <summary>Randomized path: the warm-start stage on a row subset stops at this looser tolerance (its own sampling error is larger).</summary>
    public const double WarmStartTolerance = 1e-2;

    /// <summary>Randomized path: at most this many passes over the rows (per stage).</summary>
    public const int MaxIterations = 16;

    /// <summary>Randomized path: rows in the warm-start subset, used when there are at least twice as many rows.</summary>
    public const int WarmStartRows = 5000;

    /// <summary>The fitted PCA: float mean (used for centring everywhere), D × k components, n × k projections, and how it was solved (for progress).</summary>
    public sealed record Result(float[] Mean, float[] Components, double[] Projections, string Solved);

    /// <summary>Fits the PCA on <paramref name="rows"/>, keeping <paramref name="k"/> components; the randomized path is seeded with <paramref name="seed"/>.</summary>
    public static Result Fit(FeatureRows rows, int k, int seed, IProgress<string>? progress, PcaSolver solver = PcaSolver.Auto)
    {
        double[] meanD = rows.Mean();
        var mean = Array.ConvertAll(meanD, m => (float)m);
        // Fewer rows than dimensions: the n × n Gram matrix is the smaller exact problem (null when the rows span fewer than k
        // directions; the paths below then meet the same rank deficiency).
        if (rows.Count < rows.Dimension && (solver == PcaSolver.Exact || (solver == PcaSolver.Auto && rows.Count <= ExactMaxRows))
            && GramComponents(rows, mean, k) is var (gramComponents, gramProjections))
        {
            return new Result(mean, gramComponents, gramProjections, $"exactly ({rows.Count} × {rows.Count} Gram matrix)");
        }
        // The randomized path needs room for oversampling (l > k columns); with k near D the exact path is as cheap.
        if (solver == PcaSolver.Exact || (solver == PcaSolver.Auto && (rows.Dimension <= ExactMaxDimension || 2 * k >= rows.Dimension)))
        {
            var components = ExactComponents(rows, mean, k);
            return new Result(mean, components, Project(rows, mean, components, k), $"exactly ({rows.Dimension}-d covariance)");
        }
        return RandomizedComponents(rows, mean, k, seed, progress);
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
    /// is Xcᵀ·u_j / √λ_j and the rows project on it at √λ_j · u_j. Null when fewer than k directions carry variance (the rows
    /// span too few dimensions; the caller's path then reports it).
    /// </summary>
    private static (float[] Components, double[] Projections)? GramComponents(FeatureRows rows, float[] mean, int k)
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
        var projections = new double[(long)n * k];
        var direction = new double[dim];
        for (int j = 0; j < k; j++)
        {
            int column = n - 1 - j;
            double root = Math.Sqrt(evd.EigenValues[column].Real);
            Array.Clear(direction);
            for (int i = 0; i < n; i++)
            {
                double u = evd.EigenVectors[i, column];
                TensorPrimitives.MultiplyAdd(centred.AsSpan(i * dim, dim), u / root, direction, direction);
                projections[i * k + j] = root * u;
            }
            for (int d = 0; d < dim; d++) components[d * k + j] = (float)direction[d];
        }
        return (components, projections);
    }

    /// <summary>(row − mean) · components for every row, in double.</summary>
    private static double[] Project(FeatureRows rows, float[] mean, float[] components, int k)
    {
        int dim = rows.Dimension;
        var projections = new double[(long)rows.Count * k];
        Parallel.For(0, rows.Count, i =>
        {
            float* row = rows.Row(i);
            var y = projections.AsSpan(i * k, k);
            for (int d = 0; d < dim; d++)
            {
                double x = (double)row[d] - mean[d];
                for (int j = 0; j < k; j++) y[j] += x * components[d * k + j];
            }
        });
        return projections;
    }

    /// <summary>
    /// Randomized block iteration on the covariance C with l = k + max(k, 10) (rounded up to 4) columns: each pass
    /// over the rows computes Y = Xc·Q and Z = Xcᵀ·Y = C·Q·(n−1) together (Xc, the centred rows, is formed block by
    /// block in cache, never in full). Rayleigh–Ritz over the two latest blocks [Q_{t−1}, Q_t] (whose images are
    /// known) gives the top directions, and the next Q is C applied to the top-l Ritz vectors, orthonormalised; it
    /// stops when the top-k subspace moves by less than <see cref="SubspaceTolerance"/>. With many rows the
    /// iteration first converges on an evenly strided subset of about <see cref="WarmStartRows"/> rows (cheap
    /// passes), so that only a few passes over all rows remain. The projections come from the last Y's at no extra pass.
    /// </summary>
    private static Result RandomizedComponents(FeatureRows rows, float[] mean, int k, int seed, IProgress<string>? progress)
    {
        int dim = rows.Dimension;
        int l = Math.Min(RoundUp(k + Math.Max(k, 10), MatrixKernels.RowMultiple), dim / MatrixKernels.RowMultiple * MatrixKernels.RowMultiple);
        var random = new Random(seed);
        var q = new double[l * dim]; // Qᵀ: row j is column j of Q.
        for (int i = 0; i < q.Length; i++) q[i] = Gaussian(random);
        Orthonormalise(q, l, dim, random);

        int passes = 0;
        double[]? previous = null;
        if (rows.Count >= 2 * WarmStartRows)
        {
            var subset = rows.EveryNth(rows.Count / WarmStartRows);
            previous = Iterate(subset, mean, k, l, q, random, progress, WarmStartTolerance, ref passes, out _);
        }
        var u = Iterate(rows, mean, k, l, q, random, progress, SubspaceTolerance, ref passes, out var projections, previous);
        var components = new float[dim * k];
        for (int i = 0; i < k; i++)
        for (int d = 0; d < dim; d++) components[d * k + i] = (float)u[i * dim + d];
        return new Result(mean, components, projections, $"by randomized subspace iteration in {passes} passes over the rows");
    }

    /// <summary>
    /// Subspace iteration from Q (l × D, rows orthonormal; updated in place to the next iterate) until the top-k Ritz
    /// subspace moves by less than <paramref name="tolerance"/>, or the error left (extrapolated from the rate of the
    /// last two moves, when that rate is below ½ and the move below 10 × tolerance) is below it, starting the comparison from
    /// <paramref name="previous"/> when given. Returns the top-k Ritz vectors (k × D) and the rows' projections on them.
    /// </summary>
    private static double[] Iterate(FeatureRows rows, float[] mean, int k, int l, double[] q, Random random,
        IProgress<string>? progress, double tolerance, ref int passes, out double[] projections, double[]? previous = null)
    {
        int dim = rows.Dimension, n = rows.Count;
        int stride = RoundUp(dim, MatrixKernels.Pad);
        var y = new float[(long)n * l];
        var yPrevious = new float[(long)n * l];
        // The previous iterate Q and its image Xcᵀ·Xc·Q (l × D each) join the Rayleigh–Ritz basis: the 2l-wide block
        // Krylov space span(Q_{t−1}, C·Q_{t−1}) converges much faster than Q_t alone, at no extra pass.
        double[]? qPrevious = null, zPrevious = null;
        double lastMoved = 1;
        projections = [];
        for (int iteration = 1; ; iteration++)
        {
            double[] zt = Pass(rows, mean, q, l, stride, y);
            passes++;
            var z = new double[l * dim];
            for (int j = 0; j < l; j++) zt.AsSpan(j * stride, dim).CopyTo(z.AsSpan(j * dim, dim));
            var basis = qPrevious is null ? q : [.. qPrevious, .. q];
            var image = zPrevious is null ? z : [.. zPrevious, .. z];
            int m = basis.Length / dim;
            var coefficients = RayleighRitz(basis, image, m, dim, l); // m × l, top Ritz vectors first
            // Ritz vectors Uᵀ (k × D): U[:, i] = Σ_a coefficients[a, i] · basis_a.
            var u = Combine(basis, coefficients, m, l, k, dim);
            double moved = previous is null ? 1 : SubspaceSine(u, previous, k, dim);
            // The error left after this pass, from the geometric rate seen in the last two moves: ρ·moved/(1 − ρ).
            double rate = lastMoved < 1 ? moved / lastMoved : 1;
            double remaining = rate < 0.5 ? moved * rate / (1 - rate) : moved;
            lastMoved = moved;
            progress?.Report($"R-KDE PCA: randomized pass {passes} over {n} rows, top-{k} subspace moved {moved:0.##E+0}");
            bool done = moved <= tolerance || (remaining <= tolerance && moved <= 10 * tolerance) || iteration == MaxIterations;
            if (done)
            {
                var p = new double[(long)n * k];
                var yCurrent = y;
                var yBefore = yPrevious;
                Parallel.For(0, n, r =>
                {
                    var target = p.AsSpan(r * k, k);
                    for (int a = 0; a < m; a++)
                    {
                        double value = a < m - l ? yBefore[(long)r * l + a] : yCurrent[(long)r * l + a - (m - l)];
                        TensorPrimitives.MultiplyAdd(coefficients.AsSpan(a * l, k), value, target, target);
                    }
                });
                projections = p;
            }
            // Next iterate: Q ← orth(C · top-l Ritz vectors), whose images are combinations of the known images.
            qPrevious = q.ToArray();
            zPrevious = z;
            Combine(image, coefficients, m, l, l, dim).CopyTo(q, 0);
            Orthonormalise(q, l, dim, random);
            (y, yPrevious) = (yPrevious, y);
            if (done) return u;
            previous = u;
        }
    }

    /// <summary>
    /// Rayleigh–Ritz on a possibly dependent basis (m × D rows) with known images C·basis: returns the m × count
    /// coefficients of the top <paramref name="count"/> Ritz vectors (orthonormal, largest Ritz value first).
    /// </summary>
    private static double[] RayleighRitz(double[] basis, double[] image, int m, int dim, int count)
    {
        var gram = Matrix<double>.Build.Dense(m, m);
        var h = Matrix<double>.Build.Dense(m, m);
        for (int a = 0; a < m; a++)
        for (int b = 0; b < m; b++)
        {
            gram[a, b] = TensorPrimitives.Dot(basis.AsSpan(a * dim, dim), basis.AsSpan(b * dim, dim));
            h[a, b] = TensorPrimitives.Dot(basis.AsSpan(a * dim, dim), image.AsSpan(b * dim, dim));
        }
        h = (h + h.Transpose()) * 0.5;
        // Whiten the basis, dropping directions it spans only numerically (the two blocks align as they converge).
        var gramEvd = gram.Evd(Symmetricity.Symmetric);
        double largest = gramEvd.EigenValues[m - 1].Real;
        var kept = Enumerable.Range(0, m).Where(j => gramEvd.EigenValues[j].Real > 1e-10 * largest).ToArray();
        var whiten = Matrix<double>.Build.Dense(m, kept.Length,
            (a, j) => gramEvd.EigenVectors[a, kept[j]] / Math.Sqrt(gramEvd.EigenValues[kept[j]].Real));
        var evd = (whiten.TransposeThisAndMultiply(h) * whiten).Evd(Symmetricity.Symmetric);
        var all = whiten * evd.EigenVectors; // m × r, Ritz values ascending
        int r = kept.Length;
        var coefficients = new double[m * count];
        for (int a = 0; a < m; a++)
        for (int i = 0; i < count; i++) coefficients[a * count + i] = all[a, r - 1 - i];
        return coefficients;
    }

    /// <summary>Rows i &lt; <paramref name="count"/> of Σ_a coefficients[a, i] · rows_a (coefficients m × width).</summary>
    private static double[] Combine(double[] rows, double[] coefficients, int m, int width, int count, int dim)
    {
        var result = new double[count * dim];
        for (int i = 0; i < count; i++)
        {
            var target = result.AsSpan(i * dim, dim);
            for (int a = 0; a < m; a++) TensorPrimitives.MultiplyAdd(rows.AsSpan(a * dim, dim), coefficients[a * width + i], target, target);
        }
        return result;
    }

    /// <summary>One pass over the rows: fills y = Xc·Q (n × l) and returns Zᵀ = (Xcᵀ·y)ᵀ (l × stride).</summary>
    private static double[] Pass(FeatureRows rows, float[] mean, double[] q, int l, int stride, float[] y)
    {
        const int blockRows = 32;
        int dim = rows.Dimension;
        var qt = new float[l * stride];
        for (int j = 0; j < l; j++)
        for (int d = 0; d < dim; d++) qt[j * stride + d] = (float)q[j * dim + d];
        var total = new double[l * stride];
        FeatureRows.ParallelRanges(rows.Count,
            () => (Block: new float[blockRows * stride], Y: new float[blockRows * l], Z: new double[l * stride]),
            (start, end, s) =>
            {
                fixed (float* block = s.Block, yBlock = s.Y, pq = qt, pMean = mean)
                fixed (double* z = s.Z)
                {
                    for (int r0 = start; r0 < end; r0 += blockRows)
                    {
                        int count = Math.Min(blockRows, end - r0);
                        for (int r = 0; r < count; r++)
                        {
                            var source = new ReadOnlySpan<float>(rows.Row(r0 + r), dim);
                            TensorPrimitives.Subtract(source,
                                new ReadOnlySpan<float>(pMean, dim), new Span<float>(block + r * stride, dim));
                        }
                        int padded = RoundUp(count, MatrixKernels.RowMultiple);
                        new Span<float>(block + count * stride, (padded - count) * stride).Clear();
                        MatrixKernels.Project(block, pq, yBlock, padded, l, stride);
                        MatrixKernels.AccumulateTransposed(block, yBlock, z, padded, l, stride);
                        new Span<float>(yBlock, count * l).CopyTo(y.AsSpan(r0 * l, count * l));
                    }
                }
            },
            s => TensorPrimitives.Add(total, s.Z, total));
        return total;
    }

    /// <summary>Sine of the largest principal angle between the row spaces of two orthonormal k × D matrices.</summary>
    private static double SubspaceSine(double[] u, double[] v, int k, int dim)
    {
        var m = Matrix<double>.Build.Dense(k, k);
        for (int a = 0; a < k; a++)
        for (int b = 0; b < k; b++)
            m[a, b] = TensorPrimitives.Dot(u.AsSpan(a * dim, dim), v.AsSpan(b * dim, dim));
        double smallest = (m.TransposeThisAndMultiply(m)).Evd(Symmetricity.Symmetric).EigenValues[0].Real;
        return Math.Sqrt(Math.Max(0, 1 - smallest));
    }

    /// <summary>Modified Gram–Schmidt, twice, on the rows of a (count × dim); a row that vanishes is replaced by a random one.</summary>
    private static void Orthonormalise(double[] a, int count, int dim, Random random)
    {
        for (int j = 0; j < count; j++)
        {
            var row = a.AsSpan(j * dim, dim);
            for (int attempt = 0; ; attempt++)
            {
                double before = TensorPrimitives.Norm(row);
                for (int pass = 0; pass < 2; pass++)
                {
                    for (int i = 0; i < j; i++)
                    {
                        var other = a.AsSpan(i * dim, dim);
                        double dot = TensorPrimitives.Dot(row, other);
                        TensorPrimitives.MultiplyAdd(other, -dot, row, row);
                    }
                }
                double after = TensorPrimitives.Norm(row);
                if (after > 1e-10 * before && after > 0)
                {
                    TensorPrimitives.Divide(row, after, row);
                    break;
                }
                if (attempt > 8) throw new InvalidOperationException("R-KDE PCA could not build an orthonormal basis.");
                for (int d = 0; d < dim; d++) row[d] = Gaussian(random);
            }
        }
    }

    private static double Gaussian(Random random)
    {
        double u1 = 1.0 - random.NextDouble(), u2 = random.NextDouble();
        return Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
    }

    private static int RoundUp(int value, int multiple) => (value + multiple - 1) / multiple * multiple;
}

/// <summary>Which PCA solver <see cref="Pca.Fit"/> uses: Exact decomposes the covariance, or the Gram matrix when there are fewer rows than dimensions; Auto picks by both sizes.</summary>
internal enum PcaSolver
{
    Auto,
    Exact,
    Randomized,
}
