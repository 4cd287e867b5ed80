namespace Rkde.MLNet.Density;

/// <summary>
/// SplitMix64 (Steele, Lea &amp; Flood, "Fast splittable pseudorandom number generators", OOPSLA 2014): a generator whose whole
/// state is one 64-bit word, so a model can save it and an update continue the same stream. <see cref="Random"/>'s state
/// cannot be saved.
/// </summary>
internal struct SplitMix64(ulong state)
{
    /// <summary>The state to save; a generator built from it continues where this one stands.</summary>
    public ulong State { get; private set; } = state;

    /// <summary>
    /// The state a fit with <paramref name="seed"/> starts from: the seed scrambled, so that nearby seeds start far apart
    /// in the generator's cycle (the plain seed would make seed s + 1's stream seed s's shifted by one draw).
    /// </summary>
    public static ulong FromSeed(int seed) => Mix((ulong)(uint)seed ^ 0x2545F4914F6CDD1DUL);

    public ulong Next() => Mix(State += Gamma);

    private const ulong Gamma = 0x9E3779B97F4A7C15UL;

    /// <summary>SplitMix64's output function (a bijection of 64-bit words).</summary>
    private static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>A uniform integer in [0, <paramref name="bound"/>), without modulo bias (Lemire's multiply-and-reject).</summary>
    public long NextBelow(long bound)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(bound, 1);
        ulong range = (ulong)bound;
        ulong high = Math.BigMul(Next(), range, out ulong low);
        if (low < range)
        {
            ulong threshold = (0 - range) % range;
            while (low < threshold)
                high = Math.BigMul(Next(), range, out low);
        }
        return (long)high;
    }
}
