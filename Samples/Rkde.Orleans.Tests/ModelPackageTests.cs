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
}
