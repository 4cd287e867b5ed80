using Rkde.MLNet.Files;

namespace Rkde.MLNet.Tests.Files;

[TestClass]
public sealed class AtomicFileTests
{
    [TestMethod]
    public void AFailedWriteLeavesTheOldFileAndNoTemporaryOne()
    {
        string folder = Directory.CreateTempSubdirectory("rkde-atomic-").FullName;
        try
        {
            string path = Path.Combine(folder, "sub", "model.onnx");
            AtomicFile.Write(path, [1, 2, 3]);
            CollectionAssert.AreEqual(new byte[] { 1, 2, 3 }, File.ReadAllBytes(path), "written, its folder created");

            Assert.ThrowsExactly<InvalidDataException>(() => AtomicFile.WriteFile(path, temporary =>
            {
                File.WriteAllBytes(temporary, [9, 9]);
                throw new InvalidDataException("the check after writing failed");
            }));
            CollectionAssert.AreEqual(new byte[] { 1, 2, 3 }, File.ReadAllBytes(path), "the old file is untouched");
            CollectionAssert.AreEqual(new[] { "model.onnx" }, Directory.GetFiles(Path.GetDirectoryName(path)!).Select(Path.GetFileName).ToArray(),
                "no temporary file left");

            AtomicFile.Write(path, [4]);
            CollectionAssert.AreEqual(new byte[] { 4 }, File.ReadAllBytes(path), "replaced");
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
