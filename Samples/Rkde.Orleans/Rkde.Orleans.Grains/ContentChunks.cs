namespace Rkde.Orleans.Grains;

/// <summary>
/// Content-defined chunking (a gear rolling hash): cuts a byte sequence where the hash of the bytes just before has its
/// low bits zero, so a cut depends only on nearby content. Two model files that share a long run of bytes at different
/// offsets (every camera's fitted graph holds the same trunk weights, after a density part of its own) are cut into
/// the same chunks along that run, and the blob store keeps those chunks once.
/// </summary>
/// <remarks>
/// Reading never depends on where the cuts fall (a model names its chunks in order), so changing these constants only
/// changes what new fits share with old ones.
/// </remarks>
internal static class ContentChunks
{
    /// <summary>No cut before this many bytes of a chunk.</summary>
    public const int MinLength = 64 << 10;

    /// <summary>A cut at this length at the latest.</summary>
    public const int MaxLength = 1 << 20;

    /// <summary>Cut where these bits of the hash are zero: about one position in 256 Ki past <see cref="MinLength"/>.</summary>
    private const ulong Mask = (1UL << 18) - 1;

    /// <summary>A random value per byte value, fixed (SplitMix64 from a constant seed) so every silo cuts alike.</summary>
    private static readonly ulong[] Gear = MakeGear();

    /// <summary>The chunks' (start, length) in order; they cover <paramref name="data"/> exactly. An empty input has none.</summary>
    public static List<(int Start, int Length)> Split(ReadOnlySpan<byte> data)
    {
        var chunks = new List<(int, int)>();
        int start = 0;
        while (start < data.Length)
        {
            int length = Cut(data[start..]);
            chunks.Add((start, length));
            start += length;
        }
        return chunks;
    }

    private static int Cut(ReadOnlySpan<byte> data)
    {
        if (data.Length <= MinLength)
            return data.Length;
        int end = Math.Min(data.Length, MaxLength);
        ulong hash = 0;
        // The hash shifts one bit per byte, so only the last 64 bytes count: warm it up on those before the first allowed cut.
        for (int i = MinLength - 64; i < end; i++)
        {
            hash = (hash << 1) + Gear[data[i]];
            if (i + 1 >= MinLength && (hash & Mask) == 0)
                return i + 1;
        }
        return end;
    }

    private static ulong[] MakeGear()
    {
        var gear = new ulong[256];
        ulong state = 0x5EED_0F_A11_CA3E5UL;
        for (int i = 0; i < gear.Length; i++)
        {
            ulong z = state += 0x9E3779B97F4A7C15UL;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            gear[i] = z ^ (z >> 31);
        }
        return gear;
    }
}
