using Rkde.Orleans.Grains;

namespace Rkde.Orleans.Tests;

[TestClass]
public sealed class ContentChunksTests
{
    private static byte[] Random(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    [TestMethod]
    public void ChunksCoverTheInputInOrderWithinTheLengthBounds()
    {
        byte[] data = [.. Random(3_000_000, 1), .. new byte[2_500_000], .. Random(10, 2)];
        var chunks = ContentChunks.Split(data);
        int next = 0;
        foreach (var (start, length) in chunks)
        {
            Assert.AreEqual(next, start, "chunks follow each other");
            Assert.IsTrue(length <= ContentChunks.MaxLength, $"a chunk of {length} bytes");
            next = start + length;
        }
        Assert.AreEqual(data.Length, next, "the chunks cover the input");
        Assert.IsTrue(chunks.SkipLast(1).All(c => c.Length >= ContentChunks.MinLength), "only the last chunk may be short");
        Assert.IsTrue(chunks.Count >= 8, $"{chunks.Count} chunks: random bytes are cut by content, a zero run at the maximum length");
        Assert.AreEqual(0, ContentChunks.Split([]).Count);
        Assert.AreEqual(1, ContentChunks.Split(new byte[100]).Count);
    }

    [TestMethod]
    public void ARunSharedAtDifferentOffsetsIsCutIntoTheSameChunks()
    {
        byte[] shared = Random(4_000_000, 3);
        byte[] a = [.. Random(100_000, 4), .. shared, .. Random(300_000, 5)];
        byte[] b = [.. Random(37_123, 6), .. shared, .. Random(10_000, 7)];
        var chunksOfA = ContentChunks.Split(a).Select(c => Convert.ToHexString(a.AsSpan(c.Start, c.Length))).ToHashSet();
        long sharedBytes = ContentChunks.Split(b).Where(c => chunksOfA.Contains(Convert.ToHexString(b.AsSpan(c.Start, c.Length)))).Sum(c => (long)c.Length);
        Assert.IsTrue(sharedBytes >= shared.Length - 2 * ContentChunks.MaxLength,
            $"{sharedBytes} of the {shared.Length} shared bytes are in chunks both inputs have");
    }
}
