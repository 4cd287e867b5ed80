using System.Numerics.Tensors;
using MathNet.Numerics.LinearAlgebra;
using MathNet.Numerics.LinearAlgebra.Factorization;

namespace Rkde.MLNet.Density;

/// <summary>
/// PCA of the training rows: centre on the mean, keep the top-k principal directions, project the rows.
/// Cost is linear in the number of rows: for D ≤ <see cref="ExactMaxDimension"/> the exact D × D covariance and its
/// symmetric eigendecomposition (in double); above it a randomized subspace iteration with Rayleigh–Ritz
/// (<see cref="RandomizedComponents"/>) whose passes over the rows run on <see cref="MatrixKernels"/>.
/// Any orthonormal basis of the top-k subspace serves: the KDE after it is invariant to the basis.
/// </summary>
internal static unsafe class Pca
{
    /// <summary>Up to this feature dimension the covariance is formed and decomposed exactly.</summary>
    public const int ExactMaxDimension = 256;

    /// <summary>Randomized path: the iteration stops when the top-k subspace moves by less than this (sine of the largest principal angle).</summary>
    public const double SubspaceTolerance = 1e-4;

    /// <summary>Randomized path: at most this many passes over the rows.</summary>
    public const int MaxIterations = 16;

    /// <summary>The fitted PCA: float mean (used for centring everywhere), D × k components, n × k projections.</summary>
    public sealed record Result(float[] Mean, float[] Components, double[] Projections, int Iterations);

    public static Result Fit(FeatureRows rows, int k, int seed, IProgress<string>? progress, PcaSolver solver = PcaSolver.Auto)
    {
        double[] meanD = rows.Mean();
        var mean = Array.ConvertAll(meanD, m => (float)m);
        if (solver == PcaSolver.Exact || (solver == PcaSolver.Auto && rows.Dimension <= ExactMaxDimension))
        {
            var components = ExactComponents(rows, mean, k);
            return new Result(mean, components, Project(rows, mean, components, k), 1);
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
    /// Randomized subspace iteration on the covariance with l = k + max(k, 10) (rounded up to 4) columns: each pass
    /// over the rows computes Y = Xc·Q and Z = Xcᵀ·Y together (Xc, the centred rows, is formed block by block in
    /// cache, never in full); Rayleigh–Ritz on Qᵀ·Z gives the top-k directions; Q ← orth(Z) until the top-k subspace
    /// moves by less than <see cref="SubspaceTolerance"/>. The projections come from the last Y at no extra pass.
    /// </summary>
    private static Result RandomizedComponents(FeatureRows rows, float[] mean, int k, int seed, IProgress<string>? progress)
    {
        int dim = rows.Dimension, n = rows.Count;
        int l = Math.Min(RoundUp(k + Math.Max(k, 10), MatrixKernels.RowMultiple), dim / MatrixKernels.RowMultiple * MatrixKernels.RowMultiple);
        int stride = RoundUp(dim, MatrixKernels.Pad);
        var random = new Random(seed);
        var q = new double[l * dim]; // Qᵀ: row j is column j of Q.
        for (int i = 0; i < q.Length; i++) q[i] = Gaussian(random);
        Orthonormalise(q, l, dim, random);

        var y = new float[(long)n * l];
        double[]? previous = null;
        for (int iteration = 1; ; iteration++)
        {
            double[] zt = Pass(rows, mean, q, l, stride, y);
            // Rayleigh–Ritz: H = Qᵀ·Z = Qᵀ Xcᵀ Xc Q.
            var h = Matrix<double>.Build.Dense(l, l);
            for (int a = 0; a < l; a++)
            for (int b = 0; b < l; b++)
            {
                double s = 0;
                for (int d = 0; d < dim; d++) s += q[a * dim + d] * zt[(long)b * stride + d];
                h[a, b] = s;
            }
            h = (h + h.Transpose()) * 0.5;
            var evd = h.Evd(Symmetricity.Symmetric);
            // Ritz vectors Uᵀ (k × D), largest first: U[:, i] = Q · W[:, l−1−i].
            var u = new double[k * dim];
            for (int i = 0; i < k; i++)
            {
                int column = l - 1 - i;
                var target = u.AsSpan(i * dim, dim);
                for (int a = 0; a < l; a++)
                {
                    TensorPrimitives.MultiplyAdd(q.AsSpan(a * dim, dim), evd.EigenVectors[a, column], target, target);
                }
            }
            double moved = previous is null ? 1 : SubspaceSine(u, previous, k, dim);
            progress?.Report($"R-KDE PCA: randomized pass {iteration}, top-{k} subspace moved {moved:0.##E+0}");
            if (moved <= SubspaceTolerance || iteration == MaxIterations)
            {
                var components = new float[dim * k];
                for (int i = 0; i < k; i++)
                for (int d = 0; d < dim; d++) components[d * k + i] = (float)u[i * dim + d];
                var projections = new double[(long)n * k];
                Parallel.For(0, n, r =>
                {
                    for (int i = 0; i < k; i++)
                    {
                        double s = 0;
                        for (int a = 0; a < l; a++) s += y[(long)r * l + a] * evd.EigenVectors[a, l - 1 - i];
                        projections[(long)r * k + i] = s;
                    }
                });
                return new Result(mean, components, projections, iteration);
            }
            previous = u;
            for (int j = 0; j < l; j++) zt.AsSpan(j * stride, dim).CopyTo(q.AsSpan(j * dim, dim));
            Orthonormalise(q, l, dim, random);
        }
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

/// <summary>Which PCA solver <see cref="Pca.Fit"/> uses; Auto picks by feature dimension.</summary>
internal enum PcaSolver
{
    Auto,
    Exact,
    Randomized,
}
