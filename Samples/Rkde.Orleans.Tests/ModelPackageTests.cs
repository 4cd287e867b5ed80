using System.IO.Compression;
using Rkde.Orleans.Grains;

namespace Rkde.Orleans.Tests;

[TestClass]
public sealed class ModelPackageTests
{
    private static byte[] Zip(params (string Name, byte[] Bytes)[] entries)
    {
        using var stream = new MemoryStream();
        using (var archive = new ZipArchive(stream, ZipArchiveMode.Create, leaveOpen: true))
        {
            foreach (var (name, bytes) in entries)
            {
                using var target = archive.CreateEntry(name, CompressionLevel.Optimal).Open();
                target.Write(bytes);
            }
        }
        return stream.ToArray();
    }

    [TestMethod]
    public void EntriesAreNamedByTheirContentAndAssembleIntoTheSameArchive()
    {
        byte[] shared = Enumerable.Range(0, 5000).Select(i => (byte)(i % 251)).ToArray();
        byte[] a = Zip(("Model/OnnxModel", shared), ("Density/OnnxModel", [1, 2, 3]), ("Schema", []));
        byte[] b = Zip(("Model/OnnxModel", shared), ("Density/OnnxModel", [4, 5, 6]), ("Schema", []));

        var partsA = ModelPackage.Split(a);
        var partsB = ModelPackage.Split(b);
        CollectionAssert.AreEqual(new[] { "Model/OnnxModel", "Density/OnnxModel", "Schema" }, partsA.Select(p => p.Entry.Name).ToArray());
        Assert.AreEqual(partsA[0].Entry.Sha256, partsB[0].Entry.Sha256, "an entry equal in two models has one key");
        Assert.AreNotEqual(partsA[1].Entry.Sha256, partsB[1].Entry.Sha256);
        Assert.AreEqual(5000, partsA[0].Entry.Length);

        var reference = new ModelReference("cam", 1, partsA.Select(p => p.Entry).ToArray());
        using var assembled = ModelPackage.Assemble(reference, partsA.ToDictionary(p => p.Entry.Sha256, p => p.Bytes));
        var again = ModelPackage.Split(assembled.ToArray());
        CollectionAssert.AreEqual(partsA.Select(p => p.Entry).ToArray(), again.Select(p => p.Entry).ToArray());
        for (int i = 0; i < again.Count; i++)
            CollectionAssert.AreEqual(partsA[i].Bytes, again[i].Bytes);
    }

    [TestMethod]
    public void ModelsSharingALongRunInAnEntryStoreItOnceAndAssembleAsTheyWere()
    {
        var random = new Random(11);
        byte[] Bytes(int n)
        {
            var b = new byte[n];
            random.NextBytes(b);
            return b;
        }
        // As in two cameras' fitted graphs: the same trunk weights after a density part of each camera's own size.
        byte[] trunk = Bytes(3_000_000);
        byte[] a = Zip(("Model/OnnxModel", [.. Bytes(90_000), .. trunk]), ("Schema", [1]));
        byte[] b = Zip(("Model/OnnxModel", [.. Bytes(140_001), .. trunk]), ("Schema", [1]));

        var partsA = ModelPackage.Split(a);
        var partsB = ModelPackage.Split(b);
        var storedByA = partsA.Select(p => p.Entry.Sha256).ToHashSet();
        long newForB = partsB.Where(p => !storedByA.Contains(p.Entry.Sha256)).Sum(p => p.Entry.Length);
        Assert.IsTrue(newForB < 140_001 + 2 * ContentChunks.MaxLength, $"the second model adds {newForB} bytes, not its whole {partsB.Sum(p => p.Entry.Length)}");

        var reference = new ModelReference("cam", 1, partsB.Select(p => p.Entry).ToArray());
        var store = partsA.Concat(partsB).DistinctBy(p => p.Entry.Sha256).ToDictionary(p => p.Entry.Sha256, p => p.Bytes);
        using var assembled = ModelPackage.Assemble(reference, store);
        using var archive = new ZipArchive(assembled, ZipArchiveMode.Read);
        CollectionAssert.AreEqual(new[] { "Model/OnnxModel", "Schema" }, archive.Entries.Select(e => e.FullName).ToArray());
        using var original = new ZipArchive(new MemoryStream(b), ZipArchiveMode.Read);
        foreach (var entry in original.Entries)
            CollectionAssert.AreEqual(Read(entry), Read(archive.GetEntry(entry.FullName)!), entry.FullName);
    }

    private static byte[] Read(ZipArchiveEntry entry)
    {
        using var stream = entry.Open();
        using var buffer = new MemoryStream();
        stream.CopyTo(buffer);
        return buffer.ToArray();
    }
}
