[assembly: Parallelize(Scope = ExecutionScope.MethodLevel)]

namespace Rkde.Cli.Tests
{
    [TestClass]
    public sealed class TestRunCleanup
    {
        [AssemblyCleanup]
        public static void DeleteTempFolders() => TestData.DeleteTempFolders();
    }
}
