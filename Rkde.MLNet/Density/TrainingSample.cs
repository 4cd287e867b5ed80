namespace Rkde.MLNet.Density;

/// <summary>The training sample: a seeded uniform random subset of the rows when there are more than the KDE keeps.</summary>
internal static class TrainingSample
{
    /// <summary>
    /// Null when all <paramref name="rowCount"/> rows fit in <paramref name="maxPoints"/>; otherwise
    /// <paramref name="maxPoints"/> distinct row indices drawn uniformly without replacement with
    /// <paramref name="seed"/>, in ascending order (so passes over the sample read memory forwards).
    /// </summary>
    public static int[]? Select(int rowCount, int maxPoints, int seed)
    {
        if (rowCount <= maxPoints) return null;
        // Partial Fisher–Yates: the first maxPoints slots end up a uniform sample without replacement.
        var indices = new int[rowCount];
        for (int i = 0; i < rowCount; i++) indices[i] = i;
        var random = new Random(seed);
        for (int i = 0; i < maxPoints; i++)
        {
            int j = random.Next(i, rowCount);
            (indices[i], indices[j]) = (indices[j], indices[i]);
        }
        var sample = indices.AsSpan(0, maxPoints).ToArray();
        Array.Sort(sample);
        return sample;
    }
}
