using System.Numerics.Tensors;

namespace Rkde.Benchmarks;

/// <summary>
/// Seeded synthetic region features with structure for PCA to find: positive offsets (like ReLU features),
/// a rank-64 part whose component scales decay as a power law, and isotropic noise.
/// </summary>
public static class SyntheticFeatures
{
    /// <summary>Rank of the structured part.</summary>
    public const int Rank = 64;

    /// <summary><paramref name="rows"/> × <paramref name="dimension"/> row-major features, the same for the same arguments.</summary>
    public static float[] Generate(int rows, int dimension, int seed = 42)
    {
        var random = new Random(seed);
        var basis = new float[Rank * dimension];
        for (int i = 0; i < basis.Length; i++) basis[i] = Gaussian(random);
        var offset = new float[dimension];
        for (int d = 0; d < dimension; d++) offset[d] = 1 + random.NextSingle();
        // Noise is read from a table at a random per-row offset: generating 10^8 Gaussians would dominate setup.
        var noise = new float[1 << 20];
        for (int i = 0; i < noise.Length; i++) noise[i] = 0.5f * Gaussian(random);

        var data = new float[(long)rows * dimension];
        Parallel.For(0, rows, r =>
        {
            var rowRandom = new Random(unchecked(seed * 1_000_003 + r)); // not HashCode.Combine: its seed differs per process
            var row = data.AsSpan(r * dimension, dimension);
            noise.AsSpan(rowRandom.Next(noise.Length - dimension), dimension).CopyTo(row);
            TensorPrimitives.Add(row, offset, row);
            for (int j = 0; j < Rank; j++)
            {
                float coefficient = 3f * MathF.Pow(j + 1, -0.7f) * Gaussian(rowRandom);
                TensorPrimitives.MultiplyAdd(basis.AsSpan(j * dimension, dimension), coefficient, row, row);
            }
        });
        return data;
    }

    private static float Gaussian(Random random)
    {
        double u1 = 1.0 - random.NextDouble(), u2 = random.NextDouble();
        return (float)(Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2));
    }
}
