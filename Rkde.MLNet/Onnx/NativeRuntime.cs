using Microsoft.ML.OnnxRuntime;

namespace Rkde.MLNet.Onnx;

/// <summary>
/// Whether ONNX Runtime's native library loads. Rkde.MLNet references the managed ONNX Runtime API only (as ML.NET does),
/// so an application that adds no runtime package would otherwise fail deep inside ML.NET with a type initializer error.
/// </summary>
internal static class NativeRuntime
{
    private static readonly Lazy<string?> Failure = new(() => Probe(() => OrtEnv.Instance()));

    /// <summary>Throws, naming the packages that provide it, when the native runtime cannot be loaded (checked once per process).</summary>
    public static void EnsureLoaded()
    {
        if (Failure.Value is string failure)
            throw new InvalidOperationException(Message(failure));
    }

    /// <summary>Runs <paramref name="load"/>; returns why the native library did not load, or null when it did.</summary>
    internal static string? Probe(Action load)
    {
        try
        {
            load();
            return null;
        }
        catch (Exception e) when (Missing(e) is DllNotFoundException missing)
        {
            // The loader's first sentence; .NET's advice on diagnosing loads follows it.
            string first = missing.Message.Split('\n')[0].Trim();
            int end = first.IndexOf(". ", StringComparison.Ordinal);
            return end < 0 ? first.TrimEnd('.') : first[..end];
        }
    }

    internal static string Message(string failure) =>
        $"ONNX Runtime's native library cannot be loaded ({failure}). Rkde.MLNet references only Microsoft.ML.OnnxRuntime.Managed: " +
        "add the package Microsoft.ML.OnnxRuntime (CPU) or Microsoft.ML.OnnxRuntime.Gpu (CUDA, also runs on the CPU) to the application.";

    private static DllNotFoundException? Missing(Exception e) => e switch
    {
        DllNotFoundException d => d,
        TypeInitializationException { InnerException: { } inner } => Missing(inner),
        _ => null,
    };
}
