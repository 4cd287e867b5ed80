using Microsoft.ML;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.Runtime;
using Microsoft.ML.Transforms.Onnx;

namespace Rkde.MLNet;

/// <summary>
/// ONNX Runtime threading for the R-KDE chain on CPU. Each of the chain's ONNX stages has its own intra-op thread pool whose
/// threads spin after every run; with four stages run one after another on few cores, the idle pools' spinning takes the
/// cores from the busy one, and an image costs a multiple of its CPU time. Session options are not saved in a model
/// .zip, so a scoring program sets this on its own <see cref="MLContext"/> before loading.
/// </summary>
public static class OnnxThreading
{
    /// <summary>
    /// Makes every ONNX session that <paramref name="mlContext"/> creates from now on (fitting, or <c>Model.Load</c>) run on
    /// the CPU with intra-op threads that sleep instead of spinning when idle. Without Rkde.MLNet, the same is:
    /// <c>((IHostEnvironment)ml).SetOnnxSessionOption(new OnnxSessionOptions { CreateSessionOptions = () => { var o = new SessionOptions();
    /// o.AddSessionConfigEntry("session.intra_op.allow_spinning", "0"); return o; } })</c>.
    /// </summary>
    public static void DisableThreadSpinning(this MLContext mlContext)
    {
        ArgumentNullException.ThrowIfNull(mlContext);
        ((IHostEnvironment)mlContext).SetOnnxSessionOption(new OnnxSessionOptions { CreateSessionOptions = NonSpinning });
    }

    /// <summary>Session options with all graph optimisations and non-spinning intra-op threads.</summary>
    internal static SessionOptions NonSpinning()
    {
        var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL };
        options.AddSessionConfigEntry("session.intra_op.allow_spinning", "0");
        return options;
    }
}
