using System.Runtime.InteropServices;
using System.Text.RegularExpressions;
using Microsoft.ML.OnnxRuntime;
using DataType = Onnx.TensorProto.Types.DataType;

namespace Rkde.MLNet.Onnx;

/// <summary>
/// Decides once, before the ONNX stages are built, whether they can run on the requested CUDA device: a one-node graph is
/// opened with ONNX Runtime's CUDA execution provider on that device. When that fails, every stage runs on the CPU with a
/// warning through the progress sink, or the failure is raised when CPU fallback is off. ML.NET's own fallback is silent;
/// this makes it visible and makes all stages agree.
/// </summary>
internal static class GpuFallback
{
    /// <summary>What Microsoft.ML.OnnxRuntime.Gpu 1.32's CUDA execution provider loads (ONNX Runtime's CUDA EP requirements).</summary>
    public const string CudaRequirement = "CUDA 13.x and cuDNN 9.x";

    /// <summary>The device id the stages get: <paramref name="gpuDeviceId"/> when usable, else null (CPU) or an exception.</summary>
    public static int? Resolve(int? gpuDeviceId, bool fallbackToCpu, IProgress<string>? progress)
    {
        if (gpuDeviceId is not int id)
            return null;
        string? failure = Probe(id);
        if (failure is null)
            return id;
        string message = $"GpuDeviceId = {id}: the CUDA execution provider cannot run on this machine ({failure}). " +
            $"Microsoft.ML.OnnxRuntime.Gpu needs an NVIDIA GPU with {CudaRequirement} libraries on the library path.";
        if (!fallbackToCpu)
            throw new InvalidOperationException(message + " Set FallbackToCpu = true to run on the CPU instead.");
        progress?.Report("warning: " + message + " Every ONNX stage runs on the CPU.");
        return null;
    }

    private static string? Probe(int deviceId)
    {
        // ONNX Runtime logs a failed provider load on stderr through its process-wide logger; the caller reports the
        // failure in its own words, so that logger is quiet for the probe.
        var env = OrtEnv.Instance();
        var level = env.EnvLogLevel;
        env.EnvLogLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_FATAL;
        try
        {
            using var options = new SessionOptions();
            options.AppendExecutionProvider_CUDA(deviceId);
            var b = new OnnxGraphBuilder("rkde_gpu_probe");
            string x = b.Input("x", DataType.Float, 1);
            b.Output("y", b.Node("Identity", [x]), DataType.Float, 1);
            using var session = new InferenceSession(b.ToBytes(), options);
            return null;
        }
        catch (Exception e) when (e is OnnxRuntimeException or DllNotFoundException or EntryPointNotFoundException or BadImageFormatException)
        {
            string failure = e.Message.ReplaceLineEndings(" ").Trim();
            return ProviderLoadError() is string cause ? $"{failure}; {cause}" : failure;
        }
        finally
        {
            env.EnvLogLevel = level;
        }
    }

    /// <summary>
    /// Why the CUDA provider library does not load, in the loader's words (e.g. which CUDA library is missing), or that the
    /// application does not deploy it; null when it loads (the GPU itself is then what fails) or its place is unknown.
    /// </summary>
    private static string? ProviderLoadError()
    {
        bool windows = OperatingSystem.IsWindows();
        string name = windows ? "onnxruntime_providers_cuda.dll" : "libonnxruntime_providers_cuda.so";
        string rid = $"{(windows ? "win" : OperatingSystem.IsMacOS() ? "osx" : "linux")}-{RuntimeInformation.ProcessArchitecture.ToString().ToLowerInvariant()}";
        // Where a .NET app's native libraries sit: beside it (published for one platform) or under runtimes/<rid>/native.
        string? Find(string file) => new[] { AppContext.BaseDirectory, Path.Combine(AppContext.BaseDirectory, "runtimes", rid, "native") }
            .Select(folder => Path.Combine(folder, file)).FirstOrDefault(File.Exists);
        string? path = Find(name);
        if (path is null)
        {
            return Find(windows ? "onnxruntime.dll" : "libonnxruntime.so") is null
                ? null
                : $"{name} is not deployed with this application (it comes with the package Microsoft.ML.OnnxRuntime.Gpu)";
        }
        try
        {
            NativeLibrary.Free(NativeLibrary.Load(path));
            return null;
        }
        catch (DllNotFoundException e)
        {
            // On Linux the loader names the first dependency it cannot find; keep that, not .NET's advice around it.
            var missing = Regex.Match(e.Message, @"(\S+): cannot open shared object file");
            return missing.Success
                ? $"{name} needs {missing.Groups[1].Value}, which is not on the library path"
                : e.Message.ReplaceLineEndings(" ").Trim();
        }
    }
}
