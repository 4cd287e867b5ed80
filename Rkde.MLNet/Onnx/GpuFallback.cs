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
            return e.Message.ReplaceLineEndings(" ").Trim();
        }
    }
}
