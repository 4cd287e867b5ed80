using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.Intrinsics;

namespace Rkde.MLNet.Density;

/// <summary>
/// The products behind the iterative PCA, on row blocks held in cache: <c>Y = B·Qᵀ</c> and <c>Zᵀ += Yᵀ·B</c>, in float
/// (with Z in double) and in double. Rows are padded with zeros to <see cref="Pad"/> values.
/// Where Vector256 is hardware accelerated (x64 with AVX2) they run as register-blocked Vector256 kernels; elsewhere
/// (ARM64, where Vector256 is emulated and slow) on portable TensorPrimitives loops, which use the platform's own SIMD.
/// Both give the same sums for <see cref="AccumulateTransposed(float*, float*, double*, int, int, int)"/> (the same fused
/// multiply-adds in the same order) and sums within float (double) rounding of each other for <c>Project</c>.
/// </summary>
internal static unsafe class MatrixKernels
{
    /// <summary>Row blocks and column counts are multiples of this; padded rows are zero.</summary>
    public const int RowMultiple = 4;

    /// <summary>Feature rows are padded to a multiple of this many floats.</summary>
    public const int Pad = 32;

    /// <summary><paramref name="value"/> rounded up to a multiple of <paramref name="multiple"/>.</summary>
    public static int RoundUp(int value, int multiple) => (value + multiple - 1) / multiple * multiple;

    /// <summary>
    /// The row stride for rows of <paramref name="dim"/> floats: a multiple of <see cref="Pad"/>, and <see cref="Pad"/> more where
    /// that multiple is one of 256. Rows a multiple of 1 KB apart (4,096 features: 16 KB) fall into the same few L1 cache sets,
    /// so a kernel that reads one strip of each of 32 rows evicts its own data; the extra strip spreads them over the sets.
    /// </summary>
    public static int RowStride(int dim)
    {
        int stride = RoundUp(dim, Pad);
        return stride % 256 == 0 ? stride + Pad : stride;
    }

    /// <summary>Rows whose products <see cref="AccumulateTransposed(float*, float*, double*, int, int, int)"/> sums in float before adding them to its double target.</summary>
    public const int FloatSumRows = 32;

    /// <summary>Columns of a float row processed per cache block in <see cref="Project(float*, float*, float*, int, int, int)"/>.</summary>
    private const int Chunk = 1024;

    private static readonly AsyncLocal<bool> Portable = new();

    /// <summary>Whether the Vector256 kernels run (not under <see cref="ForcePortable"/>).</summary>
    public static bool Vectorized => Vector256.IsHardwareAccelerated && !Portable.Value;

    /// <summary>Runs the portable kernels on this flow of execution (and the parallel work it starts) until disposed: for tests and the benchmark.</summary>
    public static IDisposable ForcePortable()
    {
        bool before = Portable.Value;
        Portable.Value = true;
        return new Restore(() => Portable.Value = before);
    }

    private sealed class Restore(Action restore) : IDisposable
    {
        public void Dispose() => restore();
    }

    /// <summary>
    /// <c>y[r, j] = Σ_d b[r, d] · qt[j, d]</c> for r &lt; <paramref name="rows"/>, j &lt; <paramref name="cols"/>:
    /// b is rows × stride, qt is cols × stride (Q transposed), y is rows × cols; rows and cols are multiples of 4,
    /// stride a multiple of <see cref="Pad"/>.
    /// </summary>
    public static void Project(float* b, float* qt, float* y, int rows, int cols, int stride)
    {
        if (Vectorized) ProjectVector256(b, qt, y, rows, cols, stride);
        else ProjectPortable(b, qt, y, rows, cols, stride);
    }

    /// <summary><see cref="Project(float*, float*, float*, int, int, int)"/> in double, same layout and multiples.</summary>
    public static void Project(double* b, double* qt, double* y, int rows, int cols, int stride)
    {
        if (Vectorized) ProjectVector256(b, qt, y, rows, cols, stride);
        else ProjectPortable(b, qt, y, rows, cols, stride);
    }

    /// <summary>
    /// <c>zt[j, d] += Σ_r y[r, j] · b[r, d]</c>: b is rows × stride, y is rows × cols, zt is cols × stride (Zᵀ, in
    /// double; the sum over each run of <see cref="FloatSumRows"/> rows is formed in float, then added); cols a multiple of
    /// 4, stride a multiple of <see cref="Pad"/>. Each part of zt is finished before the next is touched, so a block of
    /// many rows costs one trip of zt through the caches, not one per run.
    /// </summary>
    public static void AccumulateTransposed(float* b, float* y, double* zt, int rows, int cols, int stride)
    {
        if (Vectorized) AccumulateTransposedVector256(b, y, zt, rows, cols, stride);
        else AccumulateTransposedPortable(b, y, zt, rows, cols, stride);
    }

    /// <summary><see cref="AccumulateTransposed(float*, float*, double*, int, int, int)"/> in double throughout, same layout.</summary>
    public static void AccumulateTransposed(double* b, double* y, double* zt, int rows, int cols, int stride)
    {
        if (Vectorized) AccumulateTransposedVector256(b, y, zt, rows, cols, stride);
        else AccumulateTransposedPortable(b, y, zt, rows, cols, stride);
    }

    private static void ProjectPortable<T>(T* b, T* qt, T* y, int rows, int cols, int stride) where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int r = 0; r < rows; r++)
        {
            var row = new ReadOnlySpan<T>(b + (long)r * stride, stride);
            for (int j = 0; j < cols; j++) y[r * cols + j] = TensorPrimitives.Dot(row, new ReadOnlySpan<T>(qt + (long)j * stride, stride));
        }
    }

    private static void AccumulateTransposedPortable(float* b, float* y, double* zt, int rows, int cols, int stride)
    {
        var sum = new float[stride];
        var wide = new double[stride];
        for (int j = 0; j < cols; j++)
        {
            var target = new Span<double>(zt + (long)j * stride, stride);
            for (int r0 = 0; r0 < rows; r0 += FloatSumRows)
            {
                Array.Clear(sum);
                for (int r = r0; r < Math.Min(rows, r0 + FloatSumRows); r++)
                    TensorPrimitives.FusedMultiplyAdd(new ReadOnlySpan<float>(b + (long)r * stride, stride), y[r * cols + j], sum, sum);
                TensorPrimitives.ConvertChecked<float, double>(sum, wide);
                TensorPrimitives.Add(target, wide, target);
            }
        }
    }

    private static void AccumulateTransposedPortable(double* b, double* y, double* zt, int rows, int cols, int stride)
    {
        var sum = new double[stride];
        for (int j = 0; j < cols; j++)
        {
            Array.Clear(sum);
            for (int r = 0; r < rows; r++)
                TensorPrimitives.FusedMultiplyAdd(new ReadOnlySpan<double>(b + (long)r * stride, stride), y[r * cols + j], sum, sum);
            var target = new Span<double>(zt + (long)j * stride, stride);
            TensorPrimitives.Add(target, sum, target);
        }
    }

    /// <summary>
    /// The float <see cref="Project(float*, float*, float*, int, int, int)"/> with Vector256: 4 × 2 register blocks (8
    /// accumulators, one row vector live at a time), which fit the 16 vector registers of AVX2 without AVX-512; 4 × 4 blocks
    /// need 24 and spilled half their accumulators to the stack on every step.
    /// </summary>
    private static void ProjectVector256(float* b, float* qt, float* y, int rows, int cols, int stride)
    {
        new Span<float>(y, rows * cols).Clear();
        for (int d0 = 0; d0 < stride; d0 += Chunk)
        {
            int d1 = Math.Min(stride, d0 + Chunk);
            for (int i = 0; i < rows; i += 4)
            {
                float* b0 = b + (long)i * stride, b1 = b0 + stride, b2 = b1 + stride, b3 = b2 + stride;
                for (int j = 0; j < cols; j += 2)
                {
                    float* q0 = qt + (long)j * stride, q1 = q0 + stride;
                    Vector256<float> a00 = default, a01 = default, a10 = default, a11 = default;
                    Vector256<float> a20 = default, a21 = default, a30 = default, a31 = default;
                    for (int d = d0; d < d1; d += 8)
                    {
                        var w0 = Vector256.Load(q0 + d); var w1 = Vector256.Load(q1 + d);
                        var x = Vector256.Load(b0 + d);
                        a00 = Vector256.FusedMultiplyAdd(x, w0, a00); a01 = Vector256.FusedMultiplyAdd(x, w1, a01);
                        x = Vector256.Load(b1 + d);
                        a10 = Vector256.FusedMultiplyAdd(x, w0, a10); a11 = Vector256.FusedMultiplyAdd(x, w1, a11);
                        x = Vector256.Load(b2 + d);
                        a20 = Vector256.FusedMultiplyAdd(x, w0, a20); a21 = Vector256.FusedMultiplyAdd(x, w1, a21);
                        x = Vector256.Load(b3 + d);
                        a30 = Vector256.FusedMultiplyAdd(x, w0, a30); a31 = Vector256.FusedMultiplyAdd(x, w1, a31);
                    }
                    float* y0 = y + i * cols + j, y1 = y0 + cols, y2 = y1 + cols, y3 = y2 + cols;
                    y0[0] += Vector256.Sum(a00); y0[1] += Vector256.Sum(a01);
                    y1[0] += Vector256.Sum(a10); y1[1] += Vector256.Sum(a11);
                    y2[0] += Vector256.Sum(a20); y2[1] += Vector256.Sum(a21);
                    y3[0] += Vector256.Sum(a30); y3[1] += Vector256.Sum(a31);
                }
            }
        }
    }

    /// <summary>The double <see cref="Project(double*, double*, double*, int, int, int)"/> with Vector256, in the same 4 × 2 blocks.</summary>
    private static void ProjectVector256(double* b, double* qt, double* y, int rows, int cols, int stride)
    {
        new Span<double>(y, rows * cols).Clear();
        for (int d0 = 0; d0 < stride; d0 += Chunk / 2)
        {
            int d1 = Math.Min(stride, d0 + Chunk / 2);
            for (int i = 0; i < rows; i += 4)
            {
                double* b0 = b + (long)i * stride, b1 = b0 + stride, b2 = b1 + stride, b3 = b2 + stride;
                for (int j = 0; j < cols; j += 2)
                {
                    double* q0 = qt + (long)j * stride, q1 = q0 + stride;
                    Vector256<double> a00 = default, a01 = default, a10 = default, a11 = default;
                    Vector256<double> a20 = default, a21 = default, a30 = default, a31 = default;
                    for (int d = d0; d < d1; d += 4)
                    {
                        var w0 = Vector256.Load(q0 + d); var w1 = Vector256.Load(q1 + d);
                        var x = Vector256.Load(b0 + d);
                        a00 = Vector256.FusedMultiplyAdd(x, w0, a00); a01 = Vector256.FusedMultiplyAdd(x, w1, a01);
                        x = Vector256.Load(b1 + d);
                        a10 = Vector256.FusedMultiplyAdd(x, w0, a10); a11 = Vector256.FusedMultiplyAdd(x, w1, a11);
                        x = Vector256.Load(b2 + d);
                        a20 = Vector256.FusedMultiplyAdd(x, w0, a20); a21 = Vector256.FusedMultiplyAdd(x, w1, a21);
                        x = Vector256.Load(b3 + d);
                        a30 = Vector256.FusedMultiplyAdd(x, w0, a30); a31 = Vector256.FusedMultiplyAdd(x, w1, a31);
                    }
                    double* y0 = y + i * cols + j, y1 = y0 + cols, y2 = y1 + cols, y3 = y2 + cols;
                    y0[0] += Vector256.Sum(a00); y0[1] += Vector256.Sum(a01);
                    y1[0] += Vector256.Sum(a10); y1[1] += Vector256.Sum(a11);
                    y2[0] += Vector256.Sum(a20); y2[1] += Vector256.Sum(a21);
                    y3[0] += Vector256.Sum(a30); y3[1] += Vector256.Sum(a31);
                }
            }
        }
    }

    /// <summary>
    /// The float <see cref="AccumulateTransposed(float*, float*, double*, int, int, int)"/> with Vector256: 2 columns × 32
    /// floats per register block (8 accumulators and 4 row vectors, within AVX2's 16 registers), the row and y pointers
    /// stepped rather than recomputed per row.
    /// </summary>
    private static void AccumulateTransposedVector256(float* b, float* y, double* zt, int rows, int cols, int stride)
    {
        // Per strip of 32 columns, its part of zt (cols × 32 doubles) stays in L1 while runs of rows go by, and each run's
        // strip (32 rows × 32 floats) while the column pairs go by.
        for (int d = 0; d < stride; d += 32)
        for (int r0 = 0; r0 < rows; r0 += FloatSumRows)
        {
            int run = Math.Min(rows - r0, FloatSumRows);
            for (int j = 0; j < cols; j += 2)
            {
                Vector256<float> a00 = default, a01 = default, a02 = default, a03 = default;
                Vector256<float> a10 = default, a11 = default, a12 = default, a13 = default;
                float* br = b + (long)r0 * stride + d, yr = y + r0 * cols + j;
                for (int r = 0; r < run; r++, br += stride, yr += cols)
                {
                    var x0 = Vector256.Load(br); var x1 = Vector256.Load(br + 8);
                    var x2 = Vector256.Load(br + 16); var x3 = Vector256.Load(br + 24);
                    var c = Vector256.Create(yr[0]);
                    a00 = Vector256.FusedMultiplyAdd(c, x0, a00); a01 = Vector256.FusedMultiplyAdd(c, x1, a01);
                    a02 = Vector256.FusedMultiplyAdd(c, x2, a02); a03 = Vector256.FusedMultiplyAdd(c, x3, a03);
                    c = Vector256.Create(yr[1]);
                    a10 = Vector256.FusedMultiplyAdd(c, x0, a10); a11 = Vector256.FusedMultiplyAdd(c, x1, a11);
                    a12 = Vector256.FusedMultiplyAdd(c, x2, a12); a13 = Vector256.FusedMultiplyAdd(c, x3, a13);
                }
                AddWidened(zt + (long)j * stride + d, a00, a01, a02, a03);
                AddWidened(zt + (long)(j + 1) * stride + d, a10, a11, a12, a13);
            }
        }
    }

    /// <summary>The double <see cref="AccumulateTransposed(double*, double*, double*, int, int, int)"/> with Vector256: 2 columns × 16 doubles per register block.</summary>
    private static void AccumulateTransposedVector256(double* b, double* y, double* zt, int rows, int cols, int stride)
    {
        for (int d = 0; d < stride; d += 16)
        {
            for (int j = 0; j < cols; j += 2)
            {
                Vector256<double> a00 = default, a01 = default, a02 = default, a03 = default;
                Vector256<double> a10 = default, a11 = default, a12 = default, a13 = default;
                double* br = b + d, yr = y + j;
                for (int r = 0; r < rows; r++, br += stride, yr += cols)
                {
                    var x0 = Vector256.Load(br); var x1 = Vector256.Load(br + 4);
                    var x2 = Vector256.Load(br + 8); var x3 = Vector256.Load(br + 12);
                    var c = Vector256.Create(yr[0]);
                    a00 = Vector256.FusedMultiplyAdd(c, x0, a00); a01 = Vector256.FusedMultiplyAdd(c, x1, a01);
                    a02 = Vector256.FusedMultiplyAdd(c, x2, a02); a03 = Vector256.FusedMultiplyAdd(c, x3, a03);
                    c = Vector256.Create(yr[1]);
                    a10 = Vector256.FusedMultiplyAdd(c, x0, a10); a11 = Vector256.FusedMultiplyAdd(c, x1, a11);
                    a12 = Vector256.FusedMultiplyAdd(c, x2, a12); a13 = Vector256.FusedMultiplyAdd(c, x3, a13);
                }
                Add(zt + (long)j * stride + d, a00, a01, a02, a03);
                Add(zt + (long)(j + 1) * stride + d, a10, a11, a12, a13);
            }
        }
    }

    private static void Add(double* z, Vector256<double> v0, Vector256<double> v1, Vector256<double> v2, Vector256<double> v3)
    {
        Vector256.Store(Vector256.Load(z) + v0, z);
        Vector256.Store(Vector256.Load(z + 4) + v1, z + 4);
        Vector256.Store(Vector256.Load(z + 8) + v2, z + 8);
        Vector256.Store(Vector256.Load(z + 12) + v3, z + 12);
    }

    private static void AddWidened(double* z, Vector256<float> v0, Vector256<float> v1, Vector256<float> v2,
        Vector256<float> v3)
    {
        AddWidened(z, v0);
        AddWidened(z + 8, v1);
        AddWidened(z + 16, v2);
        AddWidened(z + 24, v3);
    }

    private static void AddWidened(double* z, Vector256<float> v)
    {
        var (lo, hi) = Vector256.Widen(v);
        Vector256.Store(Vector256.Load(z) + lo, z);
        Vector256.Store(Vector256.Load(z + 4) + hi, z + 4);
    }
}
