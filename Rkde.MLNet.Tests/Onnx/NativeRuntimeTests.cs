using Rkde.MLNet.Onnx;

namespace Rkde.MLNet.Tests.Onnx;

/// <summary>
/// An application without an ONNX Runtime package gets one error naming the packages to add, not ML.NET's type initializer
/// failure. (This test project references Microsoft.ML.OnnxRuntime.Gpu, so here the native library loads.)
/// </summary>
[TestClass]
public sealed class NativeRuntimeTests
{
    [TestMethod]
    public void TheNativeRuntimeLoadsWhereTheApplicationReferencesAPackage()
    {
        NativeRuntime.EnsureLoaded();
        Assert.IsNull(NativeRuntime.Probe(() => { }));
    }

    [TestMethod]
    public void AMissingNativeLibraryIsNamedWithThePackagesThatProvideIt()
    {
        // What ONNX Runtime's managed API throws on first use when libonnxruntime is not deployed.
        var missing = new TypeInitializationException("Microsoft.ML.OnnxRuntime.NativeMethods",
            new DllNotFoundException("Unable to load shared library 'onnxruntime' or one of its dependencies. In order to help diagnose loading problems, consider using a tool like strace.\nlibonnxruntime.so: cannot open shared object file"));
        string? failure = NativeRuntime.Probe(() => throw missing);
        Assert.AreEqual("Unable to load shared library 'onnxruntime' or one of its dependencies", failure);
        string message = NativeRuntime.Message(failure!);
        StringAssert.Contains(message, "Microsoft.ML.OnnxRuntime (CPU)");
        StringAssert.Contains(message, "Microsoft.ML.OnnxRuntime.Gpu");
        Assert.ThrowsExactly<InvalidOperationException>(() => NativeRuntime.Probe(() => throw new InvalidOperationException("other")),
            "only a missing library is translated");
    }
}
