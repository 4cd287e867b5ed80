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

    /// <summary>The warm-start stage on a row subset stops at this looser error: its own sampling error is larger.</summary>
    public const double WarmStartTolerance = 1e-3;

    /// <summary>At most this many passes over the rows per stage (a stage that reaches it reports its error).</summary>
    public const int MaxPasses = 50;

    /// <summary>Rows in the warm-start subset, used when there are at least twice as many rows.</summary>
    public const int WarmStartRows = 5000;

    /// <summary>Block columns beyond k: they speed up the convergence of the pairs near the k-th.</summary>
    public const int Oversampling = 16;

    /// <summary>Block size l = k + <see cref="Oversampling"/>, rounded up to the kernels' multiple.</summary>
    public static int BlockSize(int k) => MatrixKernels.RoundUp(k + Oversampling, MatrixKernels.RowMultiple);

    /// <summary>The top-k principal directions (D × k, row-major) of <paramref name="rows"/> centred on <paramref name="mean"/>, and how they were solved.</summary>
    public static (float[] Components, string Solved) Components(FeatureRows rows, float[] mean, int k, int seed, IProgress<string>? progress)
    {
        var space = new Space(BlockSize(k), rows.Dimension, new Random(seed));
        var x = space.NewBlock();
        for (int j = 0; j < space.L; j++)
        for (int d = 0; d < space.Dim; d++) x[j * space.Stride + d] = space.Gaussian();
        space.Orthonormalise(x, []);

        int passes = 0, warmPasses = 0, subsetRows = 0;
        if (rows.Count >= 2 * WarmStartRows)
        {
            var subset = rows.EveryNth(rows.Count / WarmStartRows);
            subsetRows = subset.Count;
            x = Solve(space, subset, mean, k, x, progress, WarmStartTolerance, ref warmPasses).Ritz;
        }
        var (ritz, error) = Solve(space, rows, mean, k, x, progress, ErrorTolerance, ref passes);
        var components = new float[space.Dim * k];
        for (int j = 0; j < k; j++)
        for (int d = 0; d < space.Dim; d++) components[d * k + j] = (float)ritz[j * space.Stride + d];
        string warm = warmPasses > 0 ? $" after {warmPasses} on a {subsetRows}-row subset" : "";
        string stopped = error <= ErrorTolerance ? "" : $", stopped at the pass limit short of {ErrorTolerance:0E+0}";
        return (components, string.Create(CultureInfo.InvariantCulture,
            $"by LOBPCG in {passes} passes over all rows{warm} (estimated subspace error {error:0.0E+0}{stopped})"));
    }

    /// <summary>
    /// Iterates from the orthonormal block <paramref name="start"/> until the top-k estimated errors are at most
    /// <paramref name="tolerance"/> or <see cref="MaxPasses"/> is reached. Returns the top-l Ritz vectors (largest
    /// first) and the largest top-k estimated error.
    /// </summary>
    private static (double[] Ritz, double Residual) Solve(Space space, FeatureRows rows, float[] mean, int k, double[] start,
        IProgress<string>? progress, double tolerance, ref int passes)
    {
        int l = space.L, stride = space.Stride;
        var x = (double[])start.Clone();
        bool precise = false;
        RoundToFloat(x);
        var ax = Image(space, rows, mean, x, precise);
        passes++;
        double[]? w = null, aw = null, p = null, ap = null;
        double previous = double.PositiveInfinity, slowPasses = 0;
        while (true)
        {
            // Rayleigh–Ritz over [X, W, P] (just X at a start), top l pairs.
            double[][] basis = w is null ? [x] : p is null ? [x, w] : [x, w, p];
            double[][] images = w is null ? [ax] : p is null ? [ax, aw!] : [ax, aw!, ap!];
            var (coefficients, theta) = RayleighRitz(space, basis, images);
            if (w is not null)
            {
                // P: the part of the update that came from W and P (Hetmaniuk & Lehoucq).
                p = space.Combine(basis, coefficients, firstBlock: 1);
                ap = space.Combine(images, coefficients, firstBlock: 1);
            }
            x = space.Combine(basis, coefficients, firstBlock: 0);
            ax = space.Combine(images, coefficients, firstBlock: 0);

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
                return (x, error);

            // Near convergence, an error that stops falling has met float precision (a close tie at k): restart from
            // the Ritz vectors with passes in double.
            slowPasses = error > StallRatio * previous && error < 1e-3 ? slowPasses + 1 : 0;
            previous = error;
            if (!precise && slowPasses >= 2)
            {
                precise = true;
                ax = Image(space, rows, mean, x, precise);
                w = aw = p = ap = null;
                passes++;
                continue;
            }

            // P orthonormal to X (with its image), W: the residuals orthonormal to X and P (rounded to float for a float
            // pass: its exact input), and its image.
            if (p is not null) space.OrthonormaliseWithImage(p, ap!, x, ax);
            space.Orthonormalise(r, p is null ? [x] : [x, p]);
            if (!precise) RoundToFloat(r);
            w = r;
            aw = Image(space, rows, mean, w, precise);
            passes++;
        }
    }

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
        // Whiten the basis, dropping directions it spans only numerically (P can vanish into X near convergence).
        var gramEvd = gram.Evd(Symmetricity.Symmetric);
        double largest = gramEvd.EigenValues[m - 1].Real;
        var kept = Enumerable.Range(0, m).Where(j => gramEvd.EigenValues[j].Real > 1e-12 * largest).ToArray();
        var whiten = Matrix<double>.Build.Dense(m, kept.Length,
            (a, j) => gramEvd.EigenVectors[a, kept[j]] / Math.Sqrt(gramEvd.EigenValues[kept[j]].Real));
        var evd = (whiten.TransposeThisAndMultiply(h) * whiten).Evd(Symmetricity.Symmetric);
        var all = whiten * evd.EigenVectors; // m × r, Ritz values ascending
        int r = kept.Length;
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
    /// The estimated error that Ritz pair j (residual norm <paramref name="residual"/>, value <paramref name="theta"/>)
    /// brings into the KDE's whitened coordinates: its component outside the top-k eigenspace, at most
    /// ‖r‖ / (θ_j − λ_{k+1}) (with θ_{k+1} for λ_{k+1}), carries variance up to λ_{k+1} into a coordinate scaled by
    /// 1 / √θ_j. The gap is floored at 1e-3 θ_j: a closer tie leaves the subspace undetermined at float precision anyway.
    /// </summary>
    private static double Error(double residual, double theta, double next) =>
        residual / Math.Max(theta - next, 1e-3 * theta) * Math.Sqrt(Math.Max(next, 0) / theta);

    /// <summary>
    /// C·B for a block B by one pass over the rows (the scale n − 1 is left out: it cancels): in float for B's
    /// values rounded to float, or, <paramref name="precise"/>, in double throughout, the rows centred in double.
    /// </summary>
    private static double[] Image(Space space, FeatureRows rows, float[] mean, double[] block, bool precise)
        => precise ? ImageInDouble(space, rows, mean, block) : ImageInFloat(space, rows, mean, block);

    private const int BlockRows = 32;

    private static double[] ImageInFloat(Space space, FeatureRows rows, float[] mean, double[] block)
    {
        int dim = rows.Dimension, l = space.L, stride = space.Stride;
        var qt = new float[l * stride];
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
                        MatrixKernels.Project(rowBlock, pq, yBlock, padded, l, stride);
                        MatrixKernels.AccumulateTransposed(rowBlock, yBlock, z, padded, l, stride);
                    }
                }
            },
            s => TensorPrimitives.Add(total, s.Z, total));
        return total;
    }

    private static double[] ImageInDouble(Space space, FeatureRows rows, float[] mean, double[] block)
    {
        int dim = rows.Dimension, l = space.L, stride = space.Stride;
        var meanD = Array.ConvertAll(mean, m => (double)m);
        var total = new double[l * stride];
        FeatureRows.ParallelRanges(rows.Count,
            () => (Block: new double[BlockRows * stride], Y: new double[BlockRows * l], Z: new double[l * stride]),
            (start, end, s) =>
            {
                fixed (double* rowBlock = s.Block, yBlock = s.Y, pq = block, z = s.Z)
                {
                    for (int r0 = start; r0 < end; r0 += BlockRows)
                    {
                        int count = Math.Min(BlockRows, end - r0);
                        for (int r = 0; r < count; r++) CentreInDouble(rows.Row(r0 + r), meanD, new Span<double>(rowBlock + r * stride, dim));
                        int padded = MatrixKernels.RoundUp(count, MatrixKernels.RowMultiple);
                        new Span<double>(rowBlock + count * stride, (padded - count) * stride).Clear();
                        MatrixKernels.Project(rowBlock, pq, yBlock, padded, l, stride);
                        MatrixKernels.AccumulateTransposed(rowBlock, yBlock, z, padded, l, stride);
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

        public int Stride { get; } = MatrixKernels.RoundUp(dim, MatrixKernels.Pad);

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

        /// <summary>target_j += Σ_i coefficients[i, j] · source_i (coefficients l × l, at <paramref name="offset"/>).</summary>
        private void AddCombination(double[] target, double[] source, double[] coefficients, int offset)
        {
            fixed (double* pt = target, ps = source, pc = coefficients)
                MatrixKernels.AccumulateTransposed(ps, pc + offset, pt, L, L, Stride);
        }

        /// <summary>Σ_a coefficients[a, i] · vector_a over the vectors of blocks ≥ <paramref name="firstBlock"/>, for i &lt; l.</summary>
        public double[] Combine(double[][] blocks, double[] coefficients, int firstBlock)
        {
            var result = NewBlock();
            for (int i = firstBlock; i < blocks.Length; i++) AddCombination(result, blocks[i], coefficients, i * L * L);
            return result;
        }

        /// <summary>Removes from the rows of <paramref name="block"/> their components along the orthonormal rows of <paramref name="basis"/>, and the same combinations from <paramref name="image"/>.</summary>
        private void Project(double[] block, double[]? image, double[] basis, double[]? basisImage)
        {
            var c = Products(basis, block); // c[i, j] = basis_i · block_j
            TensorPrimitives.Negate(c, c);
            AddCombination(block, basis, c, 0);
            if (image is not null) AddCombination(image, basisImage!, c, 0);
        }

        /// <summary>
        /// Makes the rows of <paramref name="block"/> orthonormal to the orthonormal rows of each block in
        /// <paramref name="against"/> and to each other (each step twice); a row that vanishes is replaced by a random one.
        /// </summary>
        public void Orthonormalise(double[] block, double[][] against)
        {
            for (int pass = 0; pass < 2; pass++)
                foreach (var basis in against) Project(block, null, basis, null);
            for (int j = 0; j < L; j++)
            {
                var row = block.AsSpan(j * Stride, Stride);
                for (int attempt = 0; ; attempt++)
                {
                    double before = TensorPrimitives.Norm<double>(row);
                    for (int pass = 0; pass < 2; pass++)
                    {
                        // A replacement row starts with components along every basis; the block projection removed the others'.
                        if (attempt > 0) foreach (var basis in against) RemoveComponents(row, null, basis, null, L);
                        RemoveComponents(row, null, block, null, j);
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
        /// other (twice), applying the same combinations to <paramref name="image"/>; a row that vanishes (its direction
        /// already in X) becomes zero, and Rayleigh–Ritz drops it.
        /// </summary>
        public void OrthonormaliseWithImage(double[] block, double[] image, double[] x, double[] ax)
        {
            for (int pass = 0; pass < 2; pass++) Project(block, image, x, ax);
            for (int j = 0; j < L; j++)
            {
                var row = block.AsSpan(j * Stride, Stride);
                var rowImage = image.AsSpan(j * Stride, Stride);
                double before = TensorPrimitives.Norm<double>(row);
                for (int pass = 0; pass < 2; pass++) RemoveComponents(row, rowImage, block, image, j);
                double after = TensorPrimitives.Norm<double>(row);
                double scale = after > 1e-10 * before ? 1 / after : 0;
                TensorPrimitives.Multiply(row, scale, row);
                TensorPrimitives.Multiply(rowImage, scale, rowImage);
            }
        }

        /// <summary>Removes from <paramref name="row"/> its components along the first <paramref name="count"/> rows of <paramref name="basis"/> (and the same from <paramref name="rowImage"/>).</summary>
        private void RemoveComponents(Span<double> row, Span<double> rowImage, double[] basis, double[]? basisImage, int count)
        {
            for (int i = 0; i < count; i++)
            {
                var other = basis.AsSpan(i * Stride, Stride);
                double dot = TensorPrimitives.Dot<double>(row, other);
                TensorPrimitives.MultiplyAdd(other, -dot, row, row);
                if (basisImage is not null) TensorPrimitives.MultiplyAdd(basisImage.AsSpan(i * Stride, Stride), -dot, rowImage, rowImage);
            }
        }
    }
}
