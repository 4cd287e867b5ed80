using Rkde.Cli.Scoring;
using Rkde.MLNet.Files;

namespace Rkde.Cli.Tests.Scoring;

[TestClass]
public sealed class AtomicFileTests
{
    [TestMethod]
    public void AFailedWriteLeavesTheOldFileAndNoTemporaryFile()
    {
        string folder = TestData.TempFolder();
        string path = Path.Combine(folder, "model.zip");
        File.WriteAllText(path, "old model");
        Assert.ThrowsExactly<IOException>(() => AtomicFile.Write(path, stream =>
        {
            stream.Write("half a new mo"u8);
            throw new IOException("disk full");
        }));
        Assert.AreEqual("old model", File.ReadAllText(path));
        CollectionAssert.AreEqual(new[] { path }, Directory.GetFiles(folder));
    }

    [TestMethod]
    public void AWriteReplacesTheFileWholeAndCreatesItsFolder()
    {
        string folder = TestData.TempFolder();
        string path = Path.Combine(folder, "new", "model.zip");
        AtomicFile.Write(path, stream => stream.Write("first"u8));
        Assert.AreEqual("first", File.ReadAllText(path));
        // While the new content is written, the path still holds the old content in full.
        AtomicFile.Write(path, stream =>
        {
            stream.Write("second, longer"u8);
            Assert.AreEqual("first", File.ReadAllText(path));
        });
        Assert.AreEqual("second, longer", File.ReadAllText(path));
        CollectionAssert.AreEqual(new[] { path }, Directory.GetFiles(Path.GetDirectoryName(path)!));
    }
}
