namespace Rkde.Cli.Scenes;

/// <summary>
/// A small, explicitly specified pseudo-random generator (SplitMix64) so that scenes are byte-identical for a seed
/// on every .NET version and platform (System.Random's seeded sequence is not a documented contract).
/// </summary>
internal sealed class SceneRandom
{
    private ulong _state;

    public SceneRandom(ulong seed) => _state = seed;

    /// <summary>A generator for one named stream, e.g. ("test/bag", 12), independent of every other stream.</summary>
    public static SceneRandom ForStream(int seed, string stream, int index)
    {
        ulong h = 14695981039346656037UL; // FNV-1a over the stream name
        foreach (char c in stream)
        {
            h = (h ^ c) * 1099511628211UL;
        }
        return new SceneRandom(Mix((ulong)(uint)seed ^ Mix(h + (ulong)index * 0x9E3779B97F4A7C15UL)));
    }

    public ulong NextUInt64()
    {
        _state += 0x9E3779B97F4A7C15UL;
        return Mix(_state);
    }

    /// <summary>Uniform in [0, 1).</summary>
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

    /// <summary>Uniform in [min, max).</summary>
    public double Uniform(double min, double max) => min + (max - min) * NextDouble();

    /// <summary>Uniform integer in [min, maxExclusive).</summary>
    public int Next(int min, int maxExclusive)
    {
        if (maxExclusive <= min)
        {
            return min;
        }
        return min + (int)(NextUInt64() % (ulong)(maxExclusive - min));
    }

    private static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
