using System.Runtime.InteropServices;
using Rkde.MLNet.Onnx;

namespace Rkde.MLNet.Tests.Onnx;

/// <summary>GpuFallback's probe on a machine where the CUDA execution provider cannot run: one warning in our words, nothing from ONNX Runtime on stderr.</summary>
[TestClass]
[DoNotParallelize]
public sealed class GpuFallbackTests
{
    [TestMethod]
    public void ProbeFailureIsOneWarningNamingTheCauseAndOrtStaysQuietOnStderr()
    {
        if (!OperatingSystem.IsLinux())
            Assert.Inconclusive("The stderr capture uses Linux file descriptors.");
        var warnings = new List<string>();
        int? device = null;
        string stderr = CaptureNativeStderr(() => device = GpuFallback.Resolve(0, fallbackToCpu: true, new SynchronousProgress(warnings.Add)));
        if (device is not null)
            Assert.Inconclusive("CUDA device 0 is usable on this machine: there is no fallback to see.");

        Assert.AreEqual("", stderr, "ONNX Runtime's own log lines reach stderr");
        Assert.HasCount(1, warnings);
        StringAssert.Contains(warnings[0], "GpuDeviceId = 0");
        StringAssert.Contains(warnings[0], GpuFallback.CudaRequirement);

        // Where the provider library is deployed (this test project references Microsoft.ML.OnnxRuntime.Gpu) but cannot be
        // loaded, the warning carries the loader's reason: the first CUDA library it did not find.
        string provider = Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native", "libonnxruntime_providers_cuda.so");
        if (RuntimeInformation.ProcessArchitecture == Architecture.X64 && File.Exists(provider) && !NativeLibrary.TryLoad(provider, out _))
            StringAssert.Matches(warnings[0], new System.Text.RegularExpressions.Regex(@"libonnxruntime_providers_cuda\.so needs lib\S+, which is not on the library path"));
    }

    /// <summary>Runs <paramref name="action"/> with file descriptor 2 redirected into a pipe; returns what native code wrote there.</summary>
    private static string CaptureNativeStderr(Action action)
    {
        var ends = new int[2];
        Assert.AreEqual(0, Pipe(ends));
        int saved = Dup(2);
        Assert.AreEqual(2, Dup2(ends[1], 2));
        try
        {
            action();
        }
        finally
        {
            Dup2(saved, 2);
            Close(saved);
            Close(ends[1]);
        }
        using var reader = new StreamReader(new FileStream(new Microsoft.Win32.SafeHandles.SafeFileHandle(ends[0], ownsHandle: true), FileAccess.Read));
        return reader.ReadToEnd();
    }

    [DllImport("libc", EntryPoint = "pipe")]
    private static extern int Pipe([Out] int[] fds);

    [DllImport("libc", EntryPoint = "dup")]
    private static extern int Dup(int fd);

    [DllImport("libc", EntryPoint = "dup2")]
    private static extern int Dup2(int from, int to);

    [DllImport("libc", EntryPoint = "close")]
    private static extern int Close(int fd);
}
