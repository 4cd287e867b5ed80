using System.Diagnostics;

namespace Rkde.Orleans.Silo;

/// <summary>
/// A temporary folder of this silo process's own. ML.NET writes every ONNX graph of a loaded model to a temporary file
/// (tens of MB per model) and deletes it only when the model is disposed, which a killed process never does; with the
/// files in a folder named for the process, the next silo on the machine deletes what a dead one left.
/// </summary>
internal static class PrivateTemp
{
    private const string Prefix = "rkde-silo-";

    /// <summary>Creates this process's folder, points TMPDIR (so <see cref="Path.GetTempPath"/>) at it, and removes the folders of processes that are gone.</summary>
    public static string Claim()
    {
        string root = Path.GetTempPath();
        foreach (var stale in Directory.EnumerateDirectories(root, Prefix + "*"))
        {
            if (int.TryParse(Path.GetFileName(stale)[Prefix.Length..], out int pid) && !Alive(pid))
                TryDelete(stale);
        }
        string folder = Path.Combine(root, Prefix + Environment.ProcessId);
        Directory.CreateDirectory(folder);
        Environment.SetEnvironmentVariable("TMPDIR", folder);
        return folder;
    }

    public static void TryDelete(string folder)
    {
        try
        {
            Directory.Delete(folder, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // In use or gone: the next silo's sweep tries again.
        }
    }

    private static bool Alive(int pid)
    {
        try
        {
            using var process = Process.GetProcessById(pid);
            return !process.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }
}
