using System.Diagnostics;
using System.Globalization;
using Rkde.MLNet.Density;

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
        ("density.score", DensityScoring),
        ("e2e", () => PipelineFigures.EndToEnd(int8: false)),
        ("e2e.int8", () => PipelineFigures.EndToEnd(int8: true)),
        ("soak", SoakFigure.Run),
    ];

    private const int Dimension = 4096;
    private const int Components = 16;

    /// <summary>
    /// Density fit on N × D (default 4,096) synthetic features, k = 16 (best of 3; D ≤ 256 takes the exact PCA), with the time per row to show linearity and
    /// the process CPU time of that run (on a busy machine, CPU time ÷ cores approximates the time on an idle one).
    /// </summary>
    public static void DensityFit(int rows, int dimension = Dimension)
    {
        var data = SyntheticFeatures.Generate(rows, dimension);
        var options = new DensityOptions { PcaComponents = Components };
        int passes = 0;
        var clock = Stopwatch.StartNew();
        bool trace = Environment.GetEnvironmentVariable("RKDE_TRACE") is not null;
        var progress = new SynchronousProgress(m =>
        {
            if (m.Contains("randomized pass", StringComparison.Ordinal)) passes++;
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
        Print($"density.fit {rows}x{dimension} k={Components}",
            $"{best:0.00} s ({best / rows * 1e6:0.0} µs/row, {(passes == 0 ? "exact PCA" : $"{passes} PCA passes")}, CPU {bestCpu:0.00} s on {Environment.ProcessorCount} cores)");
    }

    /// <summary>C#-side scoring (KdeDensityModel.LogDensities) of 100 boxes against a KDE of 40,000 points (median of 21).</summary>
    public static void DensityScoring()
    {
        const int rows = 40_000, boxes = 100;
        var data = SyntheticFeatures.Generate(rows + boxes, Dimension);
        var model = KdeDensityModel.Fit(data.AsSpan(0, rows * Dimension), rows, Dimension, new DensityOptions { PcaComponents = Components });
        var queries = data.AsSpan(rows * Dimension).ToArray();
        var output = new double[boxes];
        model.LogDensities(queries, output); // warm-up: JIT tiers, transposed caches
        var times = new List<double>();
        var cpu = Process.GetCurrentProcess().TotalProcessorTime;
        for (int repeat = 0; repeat < 21; repeat++)
        {
            var watch = Stopwatch.StartNew();
            model.LogDensities(queries, output);
            times.Add(watch.Elapsed.TotalMilliseconds);
        }
        double cpuPerRun = (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalMilliseconds / 21;
        times.Sort();
        Print($"density.score C# {boxes} boxes vs {rows} points",
            $"{times[times.Count / 2]:0.00} ms (median of 21, CPU {cpuPerRun:0.00} ms per run on {Environment.ProcessorCount} cores)");
    }

    private static void Print(string name, string value) =>
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{name}: {value}"));

    /// <summary>An <see cref="IProgress{T}"/> that reports on the calling thread.</summary>
    private sealed class SynchronousProgress(Action<string> report) : IProgress<string>
    {
        public void Report(string value) => report(value);
    }
}
