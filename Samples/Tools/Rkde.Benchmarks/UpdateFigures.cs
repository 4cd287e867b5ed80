using System.Diagnostics;
using Onnx;
using Rkde.MLNet.Density;

namespace Rkde.Benchmarks;

/// <summary>
/// Model-update figures: the density update alone (a saved density graph's state read back, new regions added, bandwidth
/// recomputed, graph emitted) against a full refit on the old and new regions together, in the same run.
/// </summary>
public static class UpdateFigures
{
    private const int ModelPoints = 40_000, Images = 100;

    /// <summary>
    /// <c>density.update</c>: a model of 40,000 points (D = 1,024, k = 64, the embedded models' shape) updated with the regions of
    /// 100 images at <paramref name="regionsPerImage"/> each, from graph bytes to graph bytes, median of 7 after a warm-up, with
    /// the phases' medians (read: parse and read the state; add: project and sample the new regions; finish: bandwidth; emit:
    /// the new graph's bytes); the full refit (PCA + KDE on the 40,000 old rows and the new ones, capped at 40,000, then the
    /// graph) median of 3.
    /// </summary>
    public static void DensityUpdate(int regionsPerImage, int dimension = 1024, int components = 64)
    {
        int added = Images * regionsPerImage;
        var data = SyntheticFeatures.Generate(ModelPoints + added, dimension);
        var options = new DensityOptions { PcaComponents = components };
        byte[] graph = DensityGraph.Build(KdeDensityModel.Fit(data.AsSpan(0, ModelPoints * dimension), ModelPoints, dimension, options));
        var newRows = data.AsSpan(ModelPoints * dimension).ToArray();

        var phases = new List<double[]>();
        var runs = new List<(double Wall, double Cpu)>();
        for (int run = 0; run < 8; run++)
        {
            var cpu = Process.GetCurrentProcess().TotalProcessorTime;
            var clock = Stopwatch.StartNew();
            var update = new DensityUpdate(DensityGraph.Read(ModelProto.Parser.ParseFrom(graph)), UpdateSampling.Reservoir);
            double read = clock.Elapsed.TotalSeconds;
            for (int image = 0; image < Images; image++)
                update.Add(newRows.AsSpan(image * regionsPerImage * dimension, regionsPerImage * dimension), regionsPerImage);
            double add = clock.Elapsed.TotalSeconds;
            var model = update.Finish();
            double finish = clock.Elapsed.TotalSeconds;
            GC.KeepAlive(DensityGraph.Build(model));
            double emit = clock.Elapsed.TotalSeconds;
            if (run == 0) continue; // warm-up: JIT, caches
            runs.Add((emit, (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalSeconds));
            phases.Add([read, add - read, finish - add, emit - finish]);
        }
        var (refit, refitCpu) = Median(3, () => DensityGraph.Build(KdeDensityModel.Fit(data, ModelPoints + added, dimension, options)));
        var (wall, cpuSeconds) = runs.OrderBy(r => r.Wall).ElementAt(runs.Count / 2);
        double Phase(int i) => phases.Select(p => p[i]).Order().ElementAt(phases.Count / 2) * 1000;
        Figures.Print($"density.update {ModelPoints} points + {Images} images × {regionsPerImage} regions, D={dimension} k={components}",
            $"update {wall:0.000} s (CPU {cpuSeconds:0.000} s; read {Phase(0):0} ms, add {Phase(1):0} ms, bandwidth {Phase(2):0} ms, emit {Phase(3):0} ms), " +
            $"full refit {refit:0.00} s (CPU {refitCpu:0.00} s): {refit / wall:0.0}× faster; medians of 7 and 3 on {Environment.ProcessorCount} cores; " +
            $"graph {graph.Length / 1e6:0.0} MB");
    }

    /// <summary>Runs <paramref name="work"/> once to warm up, then <paramref name="runs"/> times: the median wall and process CPU seconds.</summary>
    internal static (double Seconds, double CpuSeconds) Median(int runs, Func<object> work)
    {
        work();
        var times = new List<(double Wall, double Cpu)>();
        for (int i = 0; i < runs; i++)
        {
            var cpu = Process.GetCurrentProcess().TotalProcessorTime;
            var clock = Stopwatch.StartNew();
            GC.KeepAlive(work());
            times.Add((clock.Elapsed.TotalSeconds, (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalSeconds));
        }
        return times.OrderBy(t => t.Wall).ElementAt(runs / 2);
    }
}
