using Microsoft.ML.OnnxRuntime;

namespace Rkde.MLNet.Onnx;

/// <summary>The ONNX Runtime session options R-KDE runs its own graphs with.</summary>
internal static class OnnxSessions
{
    /// <summary>All graph optimisations, and intra-op threads that sleep instead of spinning when idle.</summary>
    public static SessionOptions NonSpinning()
    {
        var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL };
        options.AddSessionConfigEntry("session.intra_op.allow_spinning", "0");
        return options;
    }
}
