using Microsoft.ML;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.Runtime;
using Microsoft.ML.Transforms.Onnx;
using Rkde.MLNet.Onnx;

namespace Rkde.MLNet;

/// <summary>
/// ONNX Runtime threading for R-KDE models on CPU. A fitted model runs in one ONNX Runtime session (chains of the stage-level
/// estimators in one per stage) whose intra-op threads spin after every run by default; on few cores the spinning takes the
/// cores from ML.NET's image decoding, from other sessions' pools and from other programs, and adds CPU time per image. Session
/// options are not saved in a model .zip, so a scoring program sets this on its own <see cref="MLContext"/> before loading.
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
    internal static SessionOptions NonSpinning() => OnnxSessions.NonSpinning();
}
