using System.Globalization;
using System.Numerics.Tensors;
using MathNet.Numerics.LinearAlgebra;
using MathNet.Numerics.LinearAlgebra.Factorization;

namespace Rkde.MLNet.Density;

/// <summary>
/// The top-k principal directions of many rows in many dimensions by LOBPCG, the locally optimal block
/// preconditioned conjugate gradient method (Knyazev, "Toward the optimal preconditioned eigensolver", SIAM J. Sci.
/// Comput. 23(2), 2001), here without a preconditioner and with the basis of Hetmaniuk &amp; Lehoucq ("Basis selection
/// in LOBPCG", J. Comput. Phys. 218, 2006), for the top l = k + <see cref="Oversampling"/> eigenpairs of the covariance
/// C, started from a Gaussian random block as a randomized range finder is (Halko, Martinsson &amp; Tropp, SIAM Rev.
/// 53(2), 2011).
/// Each iteration applies C once, to the block W of residuals, in one pass over the rows that forms Y = Xc·W and
/// Xcᵀ·Y together (Xc, the centred rows, is formed block by block in cache, never in full); Rayleigh–Ritz over
/// [X, W, P] (the Ritz vectors, the residuals and the last update, whose images C·X, C·W, C·P are all known) gives
/// the next Ritz vectors and update. Like block Krylov methods (Musco &amp; Musco, NeurIPS 2015) it converges much
/// faster than subspace iteration where the eigenvalues decay slowly.
/// It stops on what the KDE after the PCA depends on, the distance of the top-k Ritz subspace from the true one,
/// bounded from the Ritz residuals and the gap of the Ritz values to the (k+1)-th (<see cref="Error"/>,
/// <see cref="ErrorTolerance"/>), rather than after a fixed number of passes.
/// The passes run in float: each block is rounded to float before its pass and that rounded block is the basis
/// vector whose image the pass computes, so that basis and image stay consistent and float rounding limits only the
/// precision of each image. Where that precision is not enough (a close tie at the k-th eigenvalue: the error stops
/// falling), the iteration restarts from its Ritz vectors with passes in double.
/// With many rows the iteration first converges on an evenly strided subset of about <see cref="WarmStartRows"/>
/// rows (cheap passes), so that only a few passes over all rows remain.
/// Each pass over all rows also keeps Xc·B, the rows' coordinates along the block B it multiplies
/// (<see cref="PassCoordinates"/>); every later block is a combination of those blocks, so the same combination of the
/// kept coordinates gives the rows' coordinates along the final Ritz vectors: the projections the KDE needs, without a
/// pass of their own.
/// Blocks are stored transposed, l × stride (row j is column j, padded with zeros to <see cref="MatrixKernels.Pad"/>).
/// </summary>
internal static unsafe class Lobpcg
{
    /// <summary>
    /// The iteration stops when the estimated error of every one of the top-k Ritz vectors (<see cref="Error"/>) is at
    /// most this: log-densities move by about as much, relatively, so this keeps them well inside the 1e-5 of the exact
    /// PCA's that the conformance fixtures demand (docs/density-numerics.md).
    /// </summary>
    public const double ErrorTolerance = 1e-6;

    /// <summary>
    /// The warm-start stage on a row subset stops at this looser error: the subset's top-k subspace differs from all rows'
    /// by more (its sampling error), so converging further on it gains no pass over all rows.
    /// </summary>
    public const double WarmStartTolerance = 1e-2;

    /// <summary>At most this many passes over the rows per stage (a stage that reaches it reports its error).</summary>
    public const int MaxPasses = 50;

    /// <summary>Rows in the warm-start subset, used when there are at least <see cref="WarmStartFactor"/> times as many rows.</summary>
    public const int WarmStartRows = 5000;

    /// <summary>
    /// The warm start runs when the rows are at least this many times <see cref="WarmStartRows"/>: its passes must be cheap
    /// beside passes over all rows. Each pass also costs a Rayleigh–Ritz step of the same size for any row count, which is most
    /// of a pass with many components, and a subset of a third of the rows left the iteration over all rows as far from
    /// converged as a random start (docs/density-numerics.md).
    /// </summary>
    public const int WarmStartFactor = 4;

    /// <summary>Block columns beyond k: they speed up the convergence of the pairs near the k-th.</summary>
    public const int Oversampling = 16;

    /// <summary>Block size l = k + <see cref="Oversampling"/>, rounded up to the kernels' multiple.</summary>
    public static int BlockSize(int k) => MatrixKernels.RoundUp(k + Oversampling, MatrixKernels.RowMultiple);

    /// <summary>
    /// The top-k principal directions (D × k, row-major) of <paramref name="rows"/> centred on <paramref name="mean"/>, the
    /// rows' coordinates along them (n × k, row-major; null when the iteration took too many passes to keep them all), and how
    /// they were solved. <paramref name="near"/>: components (D × k) of rows much like these (the held-out folds' models start
    /// from the whole fit's), where the iteration starts instead of a random block and its warm start;
    /// <paramref name="tolerance"/>: where it stops (<see cref="ErrorTolerance"/> by default).
    /// </summary>
    public static (float[] Components, double[]? Projections, string Solved) Components(FeatureRows rows, float[] mean, int k, int seed,
        IProgress<string>? progress, float[]? near = null, double tolerance = ErrorTolerance)
    {
        var space = new Space(BlockSize(k), rows.Dimension, new Random(seed));
        var x = space.NewBlock();
        for (int j = 0; j < space.L; j++)
        for (int d = 0; d < space.Dim; d++)
            x[j * space.Stride + d] = near is not null && j < k ? near[d * k + j] : space.Gaussian();
        space.Orthonormalise(x, []);

        int passes = 0, warmPasses = 0, subsetRows = 0;
        if (near is null && rows.Count >= WarmStartFactor * WarmStartRows)
        {
            var subset = rows.EveryNth(rows.Count / WarmStartRows);
            subsetRows = subset.Count;
            x = Solve(space, subset, mean, k, x, progress, WarmStartTolerance, project: false, ref warmPasses).Ritz;
        }
        var (ritz, projections, error) = Solve(space, rows, mean, k, x, progress, tolerance, project: true, ref passes);
        var components = new float[space.Dim * k];
        for (int j = 0; j < k; j++)
        for (int d = 0; d < space.Dim; d++) components[d * k + j] = (float)ritz[j * space.Stride + d];
        string warm = warmPasses > 0 ? $" after {warmPasses} on a {subsetRows}-row subset" : "";
        string stopped = error <= tolerance ? "" : $", stopped at the pass limit short of {tolerance:0E+0}";
        return (components, projections, string.Create(CultureInfo.InvariantCulture,
            $"by LOBPCG in {passes} passes over all rows{warm} (estimated subspace error {error:0.0E+0}{stopped})"));
    }

    /// <summary>
    /// Iterates from the orthonormal block <paramref name="start"/> until the top-k estimated errors are at most
    /// <paramref name="tolerance"/> or <see cref="MaxPasses"/> is reached. Returns the top-l Ritz vectors (largest
    /// first), with <paramref name="project"/> the rows' coordinates along the top k (n × k, row-major; null when they
    /// could not be kept, see <see cref="PassCoordinates"/>), and the largest top-k estimated error.
    /// </summary>
    private static (double[] Ritz, double[]? Projections, double Residual) Solve(Space space, FeatureRows rows, float[] mean, int k,
        double[] start, IProgress<string>? progress, double tolerance, bool project, ref int passes)
    {
        int l = space.L, stride = space.Stride;
        var kept = project ? new PassCoordinates(rows.Count, l) : null;
        int cs = kept?.Stride ?? 0;
        bool precise = false;
        // One pass: the image of the block and, while passes are kept, its coefficients over them.
        (double[] Image, double[]? Coefficients) Pass(double[] block, int columns)
        {
            if (kept is { CanKeep: false }) kept = null;
            float[]? single = kept is not null && !precise ? kept.NewSingle() : null;
            double[]? @double = kept is not null && precise ? kept.NewDouble() : null;
            var image = precise ? ImageInDouble(space, rows, mean, block, @double) : ImageInFloat(space, rows, mean, block, single, columns);
            return (image, kept?.Keep(single, @double));
        }

        var x = (double[])start.Clone();
        RoundToFloat(x);
        var (ax, yx) = Pass(x, l);
        passes++;
        double[]? w = null, aw = null, yw = null, p = null, ap = null, yp = null;
        double previous = double.PositiveInfinity, slowPasses = 0;
        while (true)
        {
            // Rayleigh–Ritz over [X, W, P] (just X at a start), top l pairs.
            double[][] basis = w is null ? [x] : p is null ? [x, w] : [x, w, p];
            double[][] images = w is null ? [ax] : p is null ? [ax, aw!] : [ax, aw!, ap!];
            // yx, yw, yp: the blocks' coefficients over the kept passes (null once passes are no longer kept).
            double[][]? blockCoefficients = yx is null || (w is not null && yw is null) ? null : w is null ? [yx] : p is null ? [yx, yw!] : [yx, yw!, yp!];
            var (coefficients, theta) = RayleighRitz(space, basis, images);
            if (w is not null)
            {
                // P: the part of the update that came from W and P (Hetmaniuk & Lehoucq).
                p = space.Combine(basis, coefficients, firstBlock: 1, stride);
                ap = space.Combine(images, coefficients, firstBlock: 1, stride);
                yp = blockCoefficients is null ? null : space.Combine(blockCoefficients, coefficients, firstBlock: 1, cs);
            }
            x = space.Combine(basis, coefficients, firstBlock: 0, stride);
            ax = space.Combine(images, coefficients, firstBlock: 0, stride);
            yx = blockCoefficients is null ? null : space.Combine(blockCoefficients, coefficients, firstBlock: 0, cs);

            // Residuals R = C·X − X·Θ; the top k's estimated errors decide convergence.
            var r = space.NewBlock();
            double error = 0;
            for (int j = 0; j < l; j++)
            {
                var rj = r.AsSpan(j * stride, stride);
                TensorPrimitives.MultiplyAdd(x.AsSpan(j * stride, stride), -theta[j], ax.AsSpan(j * stride, stride), rj);
                if (j < k) error = Math.Max(error, Error(TensorPrimitives.Norm<double>(rj), theta[j], theta[k]));
            }
            progress?.Report(string.Create(CultureInfo.InvariantCulture,
                $"R-KDE PCA: LOBPCG pass {passes} over {rows.Count} rows{(precise ? " in double" : "")}, estimated error of the top-{k} subspace {error:0.0E+0}"));
            if (error <= tolerance || passes >= MaxPasses)
                return (x, yx is null ? null : kept!.Project(yx, k), error);

            // Near convergence, an error that stops falling has met float precision (a close tie at k): restart from
            // the Ritz vectors with passes in double.
            slowPasses = error > StallRatio * previous && error < 1e-3 ? slowPasses + 1 : 0;
            previous = error;
            if (!precise && slowPasses >= 2)
            {
                precise = true;
                kept?.Clear();
                (ax, yx) = Pass(x, l);
                w = aw = yw = p = ap = yp = null;
                passes++;
                continue;
            }

            // P orthonormal to X (with its image), W: the residuals orthonormal to X and P (rounded to float for a float
            // pass: its exact input), and its image.
            if (p is not null) space.OrthonormaliseWithImage(new(p, ap!, yp, cs), new(x, ax, yx, cs));
            space.Orthonormalise(r, p is null ? [x] : [x, p]);
            // Close to the tolerance over all rows, only the top k's residuals: the pass that finishes costs less.
            int columns = project && !precise && error < NarrowBelow * tolerance ? MatrixKernels.RoundUp(k, MatrixKernels.RowMultiple) : l;
            r.AsSpan(columns * stride).Clear();
            if (!precise) RoundToFloat(r);
            w = r;
            (aw, yw) = Pass(w, columns);
            passes++;
        }
    }

    /// <summary>
    /// Below this multiple of the tolerance the next float pass over all rows multiplies only the top k's residuals (the rest
    /// of W is zero, and Rayleigh–Ritz drops it): from there one pass finishes with or without the other l − k columns,
    /// which speed up the pairs near the k-th while they are far from converged. Not in the warm start, whose first passes
    /// are slowed by it (its tolerance is loose enough that the multiple is reached early).
    /// </summary>
    private const double NarrowBelow = 100;

    /// <summary>A pass that leaves the estimated error above this fraction of the last one counts as stalled.</summary>
    private const double StallRatio = 2.0 / 3;

    /// <summary>
    /// Rayleigh–Ritz on the blocks of <paramref name="basis"/> (nearly orthonormal) with their images: the m × l
    /// coefficients (m = blocks × l; row a, column i: weight of basis vector a in Ritz vector i) of the top l Ritz
    /// vectors, orthonormal, largest Ritz value first, and those values.
    /// </summary>
    private static (double[] Coefficients, double[] Values) RayleighRitz(Space space, double[][] basis, double[][] images)
    {
        int l = space.L, blocks = basis.Length, m = blocks * l;
        var gram = Matrix<double>.Build.Dense(m, m);
        var h = Matrix<double>.Build.Dense(m, m);
        for (int i = 0; i < blocks; i++)
        for (int j = 0; j < blocks; j++)
        {
            var g = space.Products(basis[i], basis[j]);
            var hij = space.Products(basis[i], images[j]);
            for (int a = 0; a < l; a++)
            for (int b = 0; b < l; b++)
            {
                gram[i * l + a, j * l + b] = g[a * l + b];
                h[i * l + a, j * l + b] = hij[a * l + b];
            }
        }
        h = (h + h.Transpose()) * 0.5;
        var (whiten, evd) = WhitenedEvd(gram, h);
        var all = whiten * evd.EigenVectors; // m × r, Ritz values ascending
        int r = whiten.ColumnCount;
        var coefficients = new double[m * l];
        var values = new double[l];
        for (int i = 0; i < l; i++)
        {
            values[i] = evd.EigenValues[r - 1 - i].Real;
            for (int a = 0; a < m; a++) coefficients[a * l + i] = all[a, r - 1 - i];
        }
        return (coefficients, values);
    }

    /// <summary>
    /// An m × r basis change <c>T</c> with <c>Tᵀ·G·T = I</c> and the symmetric eigendecomposition of <c>Tᵀ·H·T</c>. The basis is
    /// orthonormal up to rounding, except for the vectors that vanished into the others (zeroed, <see cref="Space.OrthonormaliseWithImage"/>),
    /// so the Cholesky factor of G without those is well conditioned and T = L⁻ᵀ costs one eigendecomposition less than
    /// whitening by G's own; where G is not that (a pivot below 1e-10 of the largest diagonal) it whitens by G's eigenvectors,
    /// dropping the directions the basis spans only numerically.
    /// </summary>
    internal static (Matrix<double> Whiten, Evd<double> Evd) WhitenedEvd(Matrix<double> gram, Matrix<double> h)
    {
        var whiten = CholeskyWhitening(gram) ?? EigenvectorWhitening(gram);
        return (whiten, (whiten.TransposeThisAndMultiply(h) * whiten).Evd(Symmetricity.Symmetric));
    }

    /// <summary>T = (L⁻¹)ᵀ on the live (non-zero) vectors, zero on the vanished ones; null where a pivot is too small.</summary>
    private static Matrix<double>? CholeskyWhitening(Matrix<double> gram)
    {
        int m = gram.RowCount;
        double largestDiagonal = Enumerable.Range(0, m).Max(i => gram[i, i]);
        var live = Enumerable.Range(0, m).Where(i => gram[i, i] > 1e-20 * largestDiagonal).ToArray();
        var g = Matrix<double>.Build.Dense(live.Length, live.Length, (a, b) => gram[live[a], live[b]]);
        if (CholeskyInverse(g, 1e-10 * largestDiagonal) is not { } inverse) return null;
        var whiten = Matrix<double>.Build.Dense(m, live.Length);
        for (int a = 0; a < live.Length; a++)
        for (int j = a; j < live.Length; j++) whiten[live[a], j] = inverse[j * live.Length + a];
        return whiten;
    }

    /// <summary>T = G's eigenvectors over the roots of their eigenvalues, dropping those below 1e-12 of the largest.</summary>
    private static Matrix<double> EigenvectorWhitening(Matrix<double> gram)
    {
        int m = gram.RowCount;
        var gramEvd = gram.Evd(Symmetricity.Symmetric);
        double largest = gramEvd.EigenValues[m - 1].Real;
        var kept = Enumerable.Range(0, m).Where(j => gramEvd.EigenValues[j].Real > 1e-12 * largest).ToArray();
        return Matrix<double>.Build.Dense(m, kept.Length,
            (a, j) => gramEvd.EigenVectors[a, kept[j]] / Math.Sqrt(gramEvd.EigenValues[kept[j]].Real));
    }

    /// <summary>
    /// L⁻¹ (row-major, lower triangular) of the Cholesky factor of <paramref name="g"/>, or null when a squared pivot falls
    /// below <paramref name="minimumPivot"/>.
    /// </summary>
    private static double[]? CholeskyInverse(Matrix<double> g, double minimumPivot)
    {
        int n = g.RowCount;
        var l = g.ToRowMajorArray();
        for (int j = 0; j < n; j++)
        {
            var rowJ = l.AsSpan(j * n, j);
            double pivot = l[j * n + j] - TensorPrimitives.Dot<double>(rowJ, rowJ);
            if (!(pivot > minimumPivot)) return null;
            double root = Math.Sqrt(pivot);
            l[j * n + j] = root;
            for (int i = j + 1; i < n; i++)
                l[i * n + j] = (l[i * n + j] - TensorPrimitives.Dot<double>(l.AsSpan(i * n, j), rowJ)) / root;
        }
        // Forward substitution for each column of the identity: L · inv = I, inv lower triangular.
        var inv = new double[n * n];
        var column = new double[n];
        for (int c = 0; c < n; c++)
        {
            for (int i = c; i < n; i++)
            {
                double sum = i == c ? 1 : 0;
                for (int t = c; t < i; t++) sum -= l[i * n + t] * column[t];
                column[i] = sum / l[i * n + i];
                inv[i * n + c] = column[i];
            }
        }
        return inv;
    }

    /// <summary>
    /// The estimated error that Ritz pair j (residual norm <paramref name="residual"/>, value <paramref name="theta"/>)
    /// brings into the KDE's whitened coordinates: its component outside the top-k eigenspace, at most
    /// ‖r‖ / (θ_j − λ_{k+1}) (with θ_{k+1} for λ_{k+1}), carries variance up to λ_{k+1} into a coordinate scaled by
    /// 1 / √θ_j. The gap is floored at 1e-3 θ_j: a closer tie leaves the subspace undetermined at float precision anyway.
    /// </summary>
    private static double Error(double residual, double theta, double next) =>
        residual / Math.Max(theta - next, 1e-3 * theta) * Math.Sqrt(Math.Max(next, 0) / theta);

    /// <summary>Rows per block in a float pass: enough that the block's products amortise a trip of Zᵀ through the caches.</summary>
    private const int BlockRows = 128;

    /// <summary>Rows per block in a double pass (twice the bytes per row).</summary>
    private const int DoubleBlockRows = 64;

    /// <summary>
    /// C·B for a block B by one pass over the rows (the scale n − 1 is left out: it cancels), in float for B's values
    /// rounded to float, multiplying only B's first <paramref name="columns"/> vectors (the rest are zero); with
    /// <paramref name="keep"/> (n × l), also stores Xc·B there, row-major.
    /// </summary>
    private static double[] ImageInFloat(Space space, FeatureRows rows, float[] mean, double[] block, float[]? keep, int columns)
    {
        int dim = rows.Dimension, l = space.L, stride = space.Stride;
        var qt = new float[columns * stride];
        for (int i = 0; i < qt.Length; i++) qt[i] = (float)block[i];
        var total = new double[l * stride];
        FeatureRows.ParallelRanges(rows.Count,
            () => (Block: new float[BlockRows * stride], Y: new float[BlockRows * l], Z: new double[l * stride]),
            (start, end, s) =>
            {
                fixed (float* rowBlock = s.Block, yBlock = s.Y, pq = qt, pMean = mean)
                fixed (double* z = s.Z)
                {
                    for (int r0 = start; r0 < end; r0 += BlockRows)
                    {
                        int count = Math.Min(BlockRows, end - r0);
                        for (int r = 0; r < count; r++)
                        {
                            TensorPrimitives.Subtract(new ReadOnlySpan<float>(rows.Row(r0 + r), dim),
                                new ReadOnlySpan<float>(pMean, dim), new Span<float>(rowBlock + r * stride, dim));
                        }
                        int padded = MatrixKernels.RoundUp(count, MatrixKernels.RowMultiple);
                        new Span<float>(rowBlock + count * stride, (padded - count) * stride).Clear();
                        MatrixKernels.Project(rowBlock, pq, yBlock, padded, columns, stride);
                        MatrixKernels.AccumulateTransposed(rowBlock, yBlock, z, padded, columns, stride);
                        if (keep is null) continue;
                        if (columns == l) new ReadOnlySpan<float>(yBlock, count * l).CopyTo(keep.AsSpan(r0 * l, count * l));
                        else
                            for (int r = 0; r < count; r++)
                                new ReadOnlySpan<float>(yBlock + r * columns, columns).CopyTo(keep.AsSpan((r0 + r) * l, columns));
                    }
                }
            },
            s => TensorPrimitives.Add(total, s.Z, total));
        return total;
    }

    /// <summary>The same in double throughout, the rows centred in double.</summary>
    private static double[] ImageInDouble(Space space, FeatureRows rows, float[] mean, double[] block, double[]? keep)
    {
        int dim = rows.Dimension, l = space.L, stride = space.Stride;
        var meanD = Array.ConvertAll(mean, m => (double)m);
        var total = new double[l * stride];
        FeatureRows.ParallelRanges(rows.Count,
            () => (Block: new double[DoubleBlockRows * stride], Y: new double[DoubleBlockRows * l], Z: new double[l * stride]),
            (start, end, s) =>
            {
                fixed (double* rowBlock = s.Block, yBlock = s.Y, pq = block, z = s.Z)
                {
                    for (int r0 = start; r0 < end; r0 += DoubleBlockRows)
                    {
                        int count = Math.Min(DoubleBlockRows, end - r0);
                        for (int r = 0; r < count; r++) CentreInDouble(rows.Row(r0 + r), meanD, new Span<double>(rowBlock + r * stride, dim));
                        int padded = MatrixKernels.RoundUp(count, MatrixKernels.RowMultiple);
                        new Span<double>(rowBlock + count * stride, (padded - count) * stride).Clear();
                        MatrixKernels.Project(rowBlock, pq, yBlock, padded, l, stride);
                        MatrixKernels.AccumulateTransposed(rowBlock, yBlock, z, padded, l, stride);
                        if (keep is not null) new ReadOnlySpan<double>(yBlock, count * l).CopyTo(keep.AsSpan(r0 * l, count * l));
                    }
                }
            },
            s => TensorPrimitives.Add(total, s.Z, total));
        return total;
    }

    /// <summary>target = row − mean in double (exact for float rows and means).</summary>
    internal static void CentreInDouble(float* row, double[] mean, Span<double> target)
    {
        TensorPrimitives.ConvertChecked<float, double>(new ReadOnlySpan<float>(row, target.Length), target);
        TensorPrimitives.Subtract(target, mean, target);
    }

    /// <summary>Rounds every value to the nearest float, in place: the block a float pass multiplies by, exactly.</summary>
    private static void RoundToFloat(double[] values)
    {
        for (int i = 0; i < values.Length; i++) values[i] = (float)values[i];
    }

    /// <summary>Block operations in the D-space of one problem: l vectors of D values, stored l × stride.</summary>
    private sealed class Space(int l, int dim, Random random)
    {
        public int L { get; } = l;

        public int Dim { get; } = dim;

        public int Stride { get; } = MatrixKernels.RowStride(dim);

        public double[] NewBlock() => new double[L * Stride];

        public double Gaussian()
        {
            double u1 = 1.0 - random.NextDouble(), u2 = random.NextDouble();
            return Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
        }

        /// <summary>The l × l products a_i · b_j.</summary>
        public double[] Products(double[] a, double[] b)
        {
            var result = new double[L * L];
            fixed (double* pa = a, pb = b, pr = result) MatrixKernels.Project(pa, pb, pr, L, L, Stride);
            return result;
        }

        /// <summary>target_j += Σ_i coefficients[i, j] · source_i (coefficients l × l, at <paramref name="offset"/>; rows <paramref name="stride"/> apart).</summary>
        private void AddCombination(double[] target, double[] source, double[] coefficients, int offset, int stride)
        {
            fixed (double* pt = target, ps = source, pc = coefficients)
                MatrixKernels.AccumulateTransposed(ps, pc + offset, pt, L, L, stride);
        }

        /// <summary>Σ_a coefficients[a, i] · vector_a over the vectors of blocks ≥ <paramref name="firstBlock"/>, for i &lt; l (rows <paramref name="stride"/> apart).</summary>
        public double[] Combine(double[][] blocks, double[] coefficients, int firstBlock, int stride)
        {
            var result = new double[(long)L * stride];
            for (int i = firstBlock; i < blocks.Length; i++) AddCombination(result, blocks[i], coefficients, i * L * L, stride);
            return result;
        }

        /// <summary>Removes from the rows of <paramref name="block"/> their components along the orthonormal rows of <paramref name="basis"/>.</summary>
        private void Project(double[] block, double[] basis)
        {
            var c = Products(basis, block); // c[i, j] = basis_i · block_j
            TensorPrimitives.Negate(c, c);
            AddCombination(block, basis, c, 0, Stride);
        }

        /// <summary>The same, applying the same combinations to the block's image and coefficients.</summary>
        private void Project(Tracked block, Tracked basis)
        {
            var c = Products(basis.Vectors, block.Vectors);
            TensorPrimitives.Negate(c, c);
            AddCombination(block.Vectors, basis.Vectors, c, 0, Stride);
            AddCombination(block.Image, basis.Image, c, 0, Stride);
            if (block.Coefficients is not null) AddCombination(block.Coefficients, basis.Coefficients!, c, 0, block.CoefficientStride);
        }

        /// <summary>
        /// Makes the rows of <paramref name="block"/> orthonormal to the orthonormal rows of each block in
        /// <paramref name="against"/> and to each other (each step twice); a row that vanishes is replaced by a random one.
        /// </summary>
        public void Orthonormalise(double[] block, double[][] against)
        {
            for (int pass = 0; pass < 2; pass++)
                foreach (var basis in against) Project(block, basis);
            for (int j = 0; j < L; j++)
            {
                var row = block.AsSpan(j * Stride, Stride);
                for (int attempt = 0; ; attempt++)
                {
                    double before = TensorPrimitives.Norm<double>(row);
                    for (int pass = 0; pass < 2; pass++)
                    {
                        // A replacement row starts with components along every basis; the block projection removed the others'.
                        if (attempt > 0) foreach (var basis in against) RemoveComponents(row, basis, L);
                        RemoveComponents(row, block, j);
                    }
                    double after = TensorPrimitives.Norm<double>(row);
                    if (after > 1e-10 * before && after > 0)
                    {
                        TensorPrimitives.Divide(row, after, row);
                        break;
                    }
                    if (attempt > 8) throw new InvalidOperationException("R-KDE PCA could not build an orthonormal basis.");
                    for (int d = 0; d < Dim; d++) row[d] = Gaussian();
                }
            }
        }

        /// <summary>
        /// Makes the rows of <paramref name="block"/> orthonormal to the orthonormal rows of <paramref name="x"/> and to each
        /// other (twice), applying the same combinations to its image and coefficients; a row that vanishes (its direction
        /// already in X) becomes zero, and Rayleigh–Ritz drops it.
        /// </summary>
        public void OrthonormaliseWithImage(Tracked block, Tracked x)
        {
            for (int pass = 0; pass < 2; pass++) Project(block, x);
            int cs = block.CoefficientStride;
            for (int j = 0; j < L; j++)
            {
                var row = block.Vectors.AsSpan(j * Stride, Stride);
                var rowImage = block.Image.AsSpan(j * Stride, Stride);
                var rowCoefficients = block.Coefficients is null ? default : block.Coefficients.AsSpan(j * cs, cs);
                double before = TensorPrimitives.Norm<double>(row);
                for (int pass = 0; pass < 2; pass++)
                {
                    for (int i = 0; i < j; i++)
                    {
                        double dot = TensorPrimitives.Dot<double>(row, block.Vectors.AsSpan(i * Stride, Stride));
                        TensorPrimitives.MultiplyAdd(block.Vectors.AsSpan(i * Stride, Stride), -dot, row, row);
                        TensorPrimitives.MultiplyAdd(block.Image.AsSpan(i * Stride, Stride), -dot, rowImage, rowImage);
                        if (block.Coefficients is not null)
                            TensorPrimitives.MultiplyAdd(block.Coefficients.AsSpan(i * cs, cs), -dot, rowCoefficients, rowCoefficients);
                    }
                }
                double after = TensorPrimitives.Norm<double>(row);
                double scale = after > 1e-10 * before ? 1 / after : 0;
                TensorPrimitives.Multiply(row, scale, row);
                TensorPrimitives.Multiply(rowImage, scale, rowImage);
                if (block.Coefficients is not null) TensorPrimitives.Multiply(rowCoefficients, scale, rowCoefficients);
            }
        }

        /// <summary>Removes from <paramref name="row"/> its components along the first <paramref name="count"/> rows of <paramref name="basis"/>.</summary>
        private void RemoveComponents(Span<double> row, double[] basis, int count)
        {
            for (int i = 0; i < count; i++)
            {
                var other = basis.AsSpan(i * Stride, Stride);
                TensorPrimitives.MultiplyAdd(other, -TensorPrimitives.Dot<double>(row, other), row, row);
            }
        }
    }

    /// <summary>
    /// A block of l vectors with its image and, in the final stage, its coefficients over the kept passes (l ×
    /// <paramref name="CoefficientStride"/>, <see cref="PassCoordinates"/>): combinations of the vectors apply to both alike.
    /// </summary>
    private readonly record struct Tracked(double[] Vectors, double[] Image, double[]? Coefficients, int CoefficientStride);
}
