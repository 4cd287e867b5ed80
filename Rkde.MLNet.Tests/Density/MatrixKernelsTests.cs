using Rkde.MLNet.Density;

namespace Rkde.MLNet.Tests.Density;

/// <summary>
/// The Vector256 kernels against the portable ones (what ARM64 runs), forced with <see cref="MatrixKernels.ForcePortable"/>,
/// on random blocks of ragged sizes (rows and columns padded up to the kernels' multiples, rows padded with zeros).
/// </summary>
[TestClass]
public sealed unsafe class MatrixKernelsTests
{
    public static IEnumerable<object[]> Shapes =>
    [
        [1, 1, 1], [3, 5, 7], [4, 4, 32], [13, 9, 100], [32, 24, 300], [29, 80, 1024], [32, 20, 1030],
    ];

    private static (int Rows, int Cols, int Stride) Padded(int rows, int cols, int dim) =>
        (MatrixKernels.RoundUp(rows, MatrixKernels.RowMultiple), MatrixKernels.RoundUp(cols, MatrixKernels.RowMultiple),
            MatrixKernels.RoundUp(dim, MatrixKernels.Pad));

    /// <summary>A rows × stride block: random in the first <paramref name="used"/> rows and <paramref name="dim"/> columns, zero elsewhere.</summary>
    private static double[] Block(Random random, int rows, int stride, int used, int dim)
    {
        var block = new double[rows * stride];
        for (int r = 0; r < used; r++)
        for (int d = 0; d < dim; d++) block[r * stride + d] = random.NextDouble() * 2 - 1;
        return block;
    }

    private static T Run<T>(bool portable, Func<T> kernel)
    {
        if (!portable) return kernel();
        using (MatrixKernels.ForcePortable()) return kernel();
    }

    [TestMethod]
    public void ThePortablePathIsWhatTheSwitchSelects()
    {
        using (MatrixKernels.ForcePortable()) Assert.IsFalse(MatrixKernels.Vectorized);
        Assert.AreEqual(System.Runtime.Intrinsics.Vector256.IsHardwareAccelerated, MatrixKernels.Vectorized);
    }

    [TestMethod]
    [DynamicData(nameof(Shapes))]
    public void ProjectAgreesWithAPlainSumOnBothPaths(int usedRows, int usedCols, int dim)
    {
        var (rows, cols, stride) = Padded(usedRows, usedCols, dim);
        var random = new Random(usedRows * 1000 + dim);
        var b = Block(random, rows, stride, usedRows, dim);
        var q = Block(random, cols, stride, usedCols, dim);
        var bf = Array.ConvertAll(b, v => (float)v);
        var qf = Array.ConvertAll(q, v => (float)v);
        foreach (bool portable in new[] { false, true })
        {
            var yf = Run(portable, () =>
            {
                var y = new float[rows * cols];
                fixed (float* pb = bf, pq = qf, py = y) MatrixKernels.Project(pb, pq, py, rows, cols, stride);
                return y;
            });
            var yd = Run(portable, () =>
            {
                var y = new double[rows * cols];
                fixed (double* pb = b, pq = q, py = y) MatrixKernels.Project(pb, pq, py, rows, cols, stride);
                return y;
            });
            for (int r = 0; r < rows; r++)
            for (int j = 0; j < cols; j++)
            {
                double exact = 0, magnitude = 0, exactFloat = 0;
                for (int d = 0; d < stride; d++)
                {
                    exact += b[r * stride + d] * q[j * stride + d];
                    exactFloat += (double)bf[r * stride + d] * qf[j * stride + d];
                    magnitude += Math.Abs(b[r * stride + d] * q[j * stride + d]);
                }
                // Rounding bounds: each sum's error is at most its length times the unit roundoff times Σ|terms|.
                Assert.AreEqual(exact, yd[r * cols + j], stride * 1.2e-16 * magnitude + 1e-300, $"double, portable {portable}, [{r}, {j}]");
                Assert.AreEqual(exactFloat, yf[r * cols + j], stride * 6e-8 * magnitude + 1e-30, $"float, portable {portable}, [{r}, {j}]");
            }
        }
    }

    [TestMethod]
    [DynamicData(nameof(Shapes))]
    public void AccumulateTransposedGivesTheSameSumsOnBothPaths(int usedRows, int usedCols, int dim)
    {
        var (rows, cols, stride) = Padded(usedRows, usedCols, dim);
        var random = new Random(usedCols * 1000 + dim);
        var b = Block(random, rows, stride, usedRows, dim);
        var y = Block(random, rows, cols, usedRows, usedCols);
        var start = Block(random, cols, stride, cols, stride);
        var bf = Array.ConvertAll(b, v => (float)v);
        var yf = Array.ConvertAll(y, v => (float)v);
        double[] FloatSums(bool portable) => Run(portable, () =>
        {
            var z = (double[])start.Clone();
            fixed (float* pb = bf, py = yf) fixed (double* pz = z) MatrixKernels.AccumulateTransposed(pb, py, pz, rows, cols, stride);
            return z;
        });
        double[] DoubleSums(bool portable) => Run(portable, () =>
        {
            var z = (double[])start.Clone();
            fixed (double* pb = b, py = y, pz = z) MatrixKernels.AccumulateTransposed(pb, py, pz, rows, cols, stride);
            return z;
        });
        // The same fused multiply-adds in the same order: bit for bit.
        CollectionAssert.AreEqual(FloatSums(false), FloatSums(true), "float blocks");
        CollectionAssert.AreEqual(DoubleSums(false), DoubleSums(true), "double blocks");
        var sums = DoubleSums(true);
        for (int j = 0; j < cols; j++)
        for (int d = 0; d < stride; d++)
        {
            double exact = start[j * stride + d];
            for (int r = 0; r < rows; r++) exact += y[r * cols + j] * b[r * stride + d];
            Assert.AreEqual(exact, sums[j * stride + d], 1e-13, $"[{j}, {d}]");
        }
    }

    [TestMethod]
    public void ADensityFitOnThePortableKernelsMatchesTheVectorisedOne()
    {
        // 300-d with 16 components: LOBPCG, whose passes and projections run on these kernels.
        const int rows = 1200, dim = 300, test = 20;
        var random = new Random(5);
        var basis = new double[24 * dim];
        for (int i = 0; i < basis.Length; i++) basis[i] = random.NextDouble() * 2 - 1;
        var data = new float[(rows + test) * dim];
        for (int r = 0; r < rows + test; r++)
        {
            var c = Enumerable.Range(0, 24).Select(j => (random.NextDouble() * 2 - 1) * Math.Pow(j + 1, -0.3)).ToArray();
            for (int d = 0; d < dim; d++)
                data[r * dim + d] = (float)(1 + 0.05 * random.NextDouble() + Enumerable.Range(0, 24).Sum(j => c[j] * basis[j * dim + d]));
        }
        var options = new RkdeDensityOptions { PcaComponents = 16 };
        var train = data.AsSpan(0, rows * dim).ToArray();
        var vectorised = KdeDensityModel.Fit(train, rows, dim, options, 0, null, PcaSolver.Randomized);
        KdeDensityModel portable;
        using (MatrixKernels.ForcePortable()) portable = KdeDensityModel.Fit(train, rows, dim, options, 0, null, PcaSolver.Randomized);
        for (int i = 0; i < test; i++)
        {
            var row = data.AsSpan((rows + i) * dim, dim);
            double expected = vectorised.LogDensity(row);
            Assert.AreEqual(expected, portable.LogDensity(row), 1e-5 * Math.Max(1, Math.Abs(expected)), $"test row {i}");
        }
    }
}
