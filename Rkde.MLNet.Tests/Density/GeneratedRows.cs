using System.Globalization;
using System.Numerics.Tensors;
using System.Text.Json;

namespace Rkde.MLNet.Tests.Density;

/// <summary>
/// Rebuilds the rows of a generated density fixture bit for bit from its "generator" spec ("rkde-int-lowrank-v1",
/// defined in scripts/kde_fixtures.py): exact integers X[i, d] = m_i (Σ_j c_j u[i, j] b[j, d] + w e[i, d]) + o[d]
/// from a counter-based SplitMix64, scaled to float32 as (float)((double)X · 2^−s). Every intermediate is an integer
/// far below 2^53, so double arithmetic is exact in any order and the rows equal numpy's; the checksums prove it.
/// </summary>
internal static class GeneratedRows
{
    private static readonly Dictionary<string, (float[] Train, float[] Test)> Cache = [];

    /// <summary>The training rows (rows × dimension) and test rows of <paramref name="generator"/>, checked against its checksums.</summary>
    public static (float[] Train, float[] Test, int Rows, int Dimension) Build(JsonElement generator)
    {
        Assert.AreEqual("rkde-int-lowrank-v1", generator.GetProperty("kind").GetString(), "generator kind");
        int seed = generator.GetProperty("seed").GetInt32();
        int n = generator.GetProperty("rows").GetInt32(), dim = generator.GetProperty("dimension").GetInt32();
        var multipliers = generator.GetProperty("test_multipliers").EnumerateArray().Select(e => e.GetDouble()).ToArray();
        var scales = generator.GetProperty("column_scales").EnumerateArray().Select(e => e.GetDouble()).ToArray();
        int coefficientRange = generator.GetProperty("coefficient_range").GetInt32();
        int basisRange = generator.GetProperty("basis_range").GetInt32();
        int noiseRange = generator.GetProperty("noise_range").GetInt32();
        double noiseScale = generator.GetProperty("noise_scale").GetDouble();
        int offsetRange = generator.GetProperty("offset_range").GetInt32();
        double unit = Math.ScaleB(1.0, -generator.GetProperty("exponent").GetInt32());
        string key = generator.GetRawText();
        lock (Cache)
        {
            if (!Cache.TryGetValue(key, out var rows))
            {
                int m = multipliers.Length, r = scales.Length, total = n + m;
                var basis = Integers(seed, 1, (long)r * dim, basisRange);
                var offsets = Integers(seed, 3, dim, offsetRange);
                var all = new float[(long)total * dim];
                Parallel.For(0, total, i =>
                {
                    var coefficients = Integers(seed, 0, r, coefficientRange, (long)i * r);
                    var x = Integers(seed, 2, dim, noiseRange, (long)i * dim);
                    TensorPrimitives.Multiply(x, noiseScale, x);
                    for (int j = 0; j < r; j++)
                        TensorPrimitives.MultiplyAdd(basis.AsSpan(j * dim, dim), coefficients[j] * scales[j], x, x);
                    double multiplier = i < n ? 1 : multipliers[i - n];
                    var target = all.AsSpan((int)((long)i * dim), dim);
                    for (int d = 0; d < dim; d++) target[d] = (float)((multiplier * x[d] + offsets[d] + offsetRange) * unit);
                });
                rows = (all.AsSpan(0, n * dim).ToArray(), all.AsSpan(n * dim).ToArray());
                Cache[key] = rows;
            }
            Assert.AreEqual(generator.GetProperty("train_checksum").GetString(), Checksum(rows.Train), "training rows' checksum: the C# generator must match numpy's");
            Assert.AreEqual(generator.GetProperty("test_checksum").GetString(), Checksum(rows.Test), "test rows' checksum");
            return (rows.Train, rows.Test, n, dim);
        }
    }

    /// <summary>Elements first … first + count − 1 of stream <paramref name="stream"/>: splitmix((seed·8 + stream)·2^40 + i) mod (2h + 1) − h.</summary>
    private static double[] Integers(int seed, int stream, long count, int halfRange, long first = 0)
    {
        var values = new double[count];
        ulong key = ((ulong)seed * 8 + (ulong)stream) << 40;
        ulong modulus = (ulong)(2 * halfRange + 1);
        for (long i = 0; i < count; i++)
            values[i] = (long)(SplitMix(key + (ulong)(first + i)) % modulus) - halfRange;
        return values;
    }

    private static ulong SplitMix(ulong x)
    {
        unchecked
        {
            ulong z = (x + 1) * 0x9E3779B97F4A7C15UL;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            return z ^ (z >> 31);
        }
    }

    /// <summary>Σ_i bits(values[i]) · (2i + 1) mod 2^64, as scripts/kde_fixtures.py computes it.</summary>
    private static string Checksum(float[] values)
    {
        ulong sum = 0;
        unchecked
        {
            for (long i = 0; i < values.Length; i++)
                sum += BitConverter.SingleToUInt32Bits(values[i]) * (2 * (ulong)i + 1);
        }
        return sum.ToString(CultureInfo.InvariantCulture);
    }
}
