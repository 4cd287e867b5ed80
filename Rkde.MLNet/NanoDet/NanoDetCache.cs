using Google.Protobuf;
using Rkde.MLNet.Files;

namespace Rkde.MLNet.NanoDet;

/// <summary>
/// The on-disk side of <see cref="NanoDetModels"/>: the package's files (<see cref="NpmPackage.Files"/>) and the
/// converted proposer of each input size, <c>ROOT/nanodet/proposer-WxH-BUILD.onnx</c>. BUILD identifies the Rkde.MLNet
/// assembly that converted it, so a cached graph is only ever reused by the code that wrote it.
/// </summary>
internal sealed class NanoDetCache(NpmPackage package, string root, string? source, string sourceOption,
    HttpMessageHandler? handler = null, IProgress<string>? progress = null)
{
    private static readonly string Build = typeof(NanoDetCache).Assembly.ManifestModule.ModuleVersionId.ToString("N")[..12];

    public string Root => root;

    /// <summary>Checks a given source at once (a wrong path fails even when the converted graph is cached).</summary>
    public void CheckSource()
    {
        if (source is not null)
            PackageFolder();
    }

    /// <summary>The folder holding nanodet.json and nanodet.bin, fetched or extracted when needed.</summary>
    public string PackageFolder() => package.Files(source, root, sourceOption, handler, progress);

    public string ProposerPath(int width, int height) => Path.Combine(root, "nanodet", $"proposer-{width}x{height}-{Build}.onnx");

    /// <summary>The converted proposer: read from the cache, else converted from the package's files and cached.</summary>
    public byte[] Proposer(int width, int height)
    {
        string path = ProposerPath(width, height);
        if (File.Exists(path))
        {
            byte[] cached = File.ReadAllBytes(path);
            if (Readable(cached))
                return cached;
        }
        string folder = PackageFolder();
        progress?.Report($"Converting NanoDet to ONNX for {width} × {height} input (once; cached as '{path}')");
        var model = TfjsGraphModel.Load(Path.Combine(folder, "nanodet.json"));
        var maps = NanoDetGraphs.Maps.Where(m => NanoDetModels.FeatureSources.Any(s => s.InputName == m.OutputName)).ToArray();
        byte[] bytes = NanoDetGraphs.Proposer(model, width, height, NanoDetModels.Metadata, maps);
        Write(path, bytes);
        return bytes;
    }

    private static bool Readable(byte[] bytes)
    {
        try
        {
            return global::Onnx.ModelProto.Parser.ParseFrom(bytes).Graph is not null;
        }
        catch (InvalidProtocolBufferException)
        {
            return false;
        }
    }

    /// <summary>Writes through a temporary file renamed into place, and removes this size's graphs from other builds.</summary>
    private static void Write(string path, byte[] bytes)
    {
        string folder = Path.GetDirectoryName(path)!;
        AtomicFile.Write(path, bytes);
        string stem = Path.GetFileName(path)[..^(Build.Length + ".onnx".Length)];
        foreach (var stale in Directory.GetFiles(folder, stem + "*.onnx").Where(f => f != path))
        {
            try
            {
                File.Delete(stale);
            }
            catch (IOException)
            {
                // In use by another process: left for a later run.
            }
        }
    }
}
