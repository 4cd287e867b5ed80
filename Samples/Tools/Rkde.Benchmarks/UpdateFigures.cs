using System.Diagnostics;
using Microsoft.ML;
using Onnx;
using Rkde.Cli;
using Rkde.Cli.Scoring;
using Rkde.MLNet;
using Rkde.MLNet.Density;
using Rkde.MLNet.Pipeline;
using SkiaSharp;

namespace Rkde.Benchmarks;

/// <summary>
/// Model-update figures: the density update alone (a saved density graph's state read back, new regions added, bandwidth
/// recomputed, graph emitted) against a full refit on the old and new regions together, in the same run; the whole update
/// of a saved demo model with 100 new images against a refit; and <c>rkde score --watch</c>'s latency from a file landing to
/// its line.
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
        var options = new RkdeDensityOptions { PcaComponents = components };
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

    /// <summary>
    /// <c>update.e2e</c>: the default pipeline fitted on the demo set's 40 training scenes and saved; then <c>UpdateRkde</c> with
    /// 100 new normal scenes (the demo's normal scenes mirrored, flipped and as they are: see <see cref="NewNormals"/>), from the
    /// loaded model to the updated one saved to a stream, median of 3: once with the demo model as fitted, once with its kept
    /// sample enlarged to 40,000 points (jittered copies of its own points, bandwidth refitted), the size the update figures
    /// are about. Against: a full refit on all 140 scenes, median of 3.
    /// </summary>
    public static void EndToEnd()
    {
        using var saved = FittedModel.Create(int8: false);
        string folder = Directory.CreateTempSubdirectory("rkde-update-bench-").FullName;
        try
        {
            var newImages = NewNormals(folder);
            var ml = new MLContext(seed: 0);
            ml.DisableThreadSpinning();
            var fitted = ml.Model.LoadRkdeModel(saved.Path, out var schema);
            var data = ml.Data.LoadFromEnumerable(newImages.Select(p => new ImageInput { ImagePath = p }));
            var large = Enlarged(ml, fitted, ModelPoints, data);

            string Run(ITransformer model)
            {
                var result = ml.Model.UpdateRkde(model, data);
                using var stream = new MemoryStream();
                ml.Model.Save(result.Model, schema, stream);
                return $"{result.RegionsAdded} regions added, {result.TrainingPoints} kept, explained variance {result.ExplainedVariance:P1} (training {result.TrainingExplainedVariance:P1})";
            }
            string small = "", big = "";
            var (demo, demoCpu) = Median(3, () => small = Run(fitted));
            var (enlarged, enlargedCpu) = Median(3, () => big = Run(large));
            var all = ml.Data.LoadFromEnumerable(DemoData.Train.Concat(newImages).Select(p => new ImageInput { ImagePath = p }));
            var (refit, refitCpu) = Median(3, () => ml.Transforms.RkdeAnomaly(new RkdeOptions()).Fit(all));
            Figures.Print($"update.e2e demo model + {newImages.Count} new scenes (360x240, default models, D=1024 k=64)",
                $"update {demo:0.0} s (CPU {demoCpu:0.0} s; {small}); with the sample enlarged to {ModelPoints} points {enlarged:0.0} s (CPU {enlargedCpu:0.0} s; {big}); " +
                $"full refit on {DemoData.Train.Length + newImages.Count} scenes {refit:0.0} s (CPU {refitCpu:0.0} s); medians of 3 on {Environment.ProcessorCount} cores");
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    /// <summary>
    /// 100 normal scenes the demo model was not fitted on: its 40 training scenes mirrored left to right and 40 upside down, and
    /// its 10 normal test scenes as they are and mirrored. Written as PNGs into <paramref name="folder"/>.
    /// </summary>
    internal static List<string> NewNormals(string folder)
    {
        var good = DemoData.Test.Where(p => !DemoData.IsAnomalous(p)).ToArray();
        var made = new List<string>();
        void Write(string source, string name, float sx, float sy)
        {
            using var image = SKBitmap.Decode(source);
            using var copy = new SKBitmap(image.Width, image.Height);
            using (var canvas = new SKCanvas(copy))
            {
                canvas.Scale(sx, sy, image.Width / 2f, image.Height / 2f);
                canvas.DrawBitmap(image, 0, 0);
            }
            string path = Path.Combine(folder, name + ".png");
            using var data = copy.Encode(SKEncodedImageFormat.Png, 100);
            File.WriteAllBytes(path, data.ToArray());
            made.Add(path);
        }
        foreach (var (source, i) in DemoData.Train.Select((p, i) => (p, i)))
        {
            Write(source, $"mirrored{i:000}", -1, 1);
            Write(source, $"flipped{i:000}", 1, -1);
        }
        foreach (var (source, i) in good.Select((p, i) => (p, i)))
        {
            Write(source, $"good{i:000}", 1, 1);
            Write(source, $"goodmirrored{i:000}", -1, 1);
        }
        return made;
    }

    /// <summary>The model with its kept sample grown to <paramref name="points"/> rows: its own rows, then jittered copies of them.</summary>
    private static ITransformer Enlarged(MLContext ml, ITransformer model, int points, IDataView images)
    {
        var updatable = FittedChain.Open(ml.Model, model);
        var density = DensityGraph.Read(updatable.Density);
        int k = density.ComponentCount, n = density.PointCount;
        var random = new Random(1);
        var sample = new double[(long)points * k];
        for (int i = 0; i < points; i++)
        for (int j = 0; j < k; j++)
            sample[(long)i * k + j] = density.Sample[(i % n) * k + j] * (i < n ? 1 : 1 + 0.05 * (random.NextDouble() - 0.5));
        var kde = GaussianKde.Fit(sample, points, k, density.Bandwidth);
        var history = density.History with { RegionsSeen = points, Capacity = points };
        return updatable.WithDensity(new KdeDensityModel(density.FeatureDimension, k, density.Scaling, density.Mean, density.Components, density.MaxLength,
            density.Bandwidth, kde.BandwidthTransform, kde.LogNormaliser, sample, history), DensityGraph.ReadThreshold(updatable.Density), images);
    }

    /// <summary>
    /// <c>watch.latency</c>: <c>rkde score --watch</c> (in this process, the default engine) on the demo model; the 20 test scenes
    /// (360 × 240) dropped one at a time, each written under a temporary name and renamed into the folder, then each written in
    /// place; the time from the rename (or the end of the write) to its line in the results file, median, 90th percentile and
    /// worst, after two warm-up images. Written in place, an image waits the settle time (200 ms by default) by design.
    /// </summary>
    public static void WatchLatency()
    {
        using var saved = FittedModel.Create(int8: false);
        WatchLatency(new MlNetEngine(), saved.Path, "watch.latency");
    }

    /// <summary>
    /// <c>watch.overhead</c>: the same with a scorer that returns at once, so the figure is the watch's own part: the filesystem
    /// event, the completeness checks and the full decode, the line's write.
    /// </summary>
    public static void WatchOverhead()
    {
        string model = Path.GetTempFileName();
        try
        {
            WatchLatency(new NoScoring(), model, "watch.overhead (no scoring)");
        }
        finally
        {
            File.Delete(model);
        }
    }

    /// <summary>An engine whose scorer does nothing.</summary>
    private sealed class NoScoring : IRkdeEngine
    {
        public int Fit(IReadOnlyList<string> images, FitSettings settings, string modelPath, IProgress<string> progress) => throw new NotSupportedException();

        public IImageScorer Load(string modelPath) => new Scorer();

        public UpdateSummary Update(string modelPath, IReadOnlyList<string> images, UpdateSettings settings, string outPath, IProgress<string> progress) =>
            throw new NotSupportedException();

        private sealed class Scorer : IImageScorer
        {
            public ImageScore Score(string imagePath, int width, int height) => new(0.5f, []);

            public void Dispose()
            {
            }
        }
    }

    private static void WatchLatency(IRkdeEngine engine, string model, string name)
    {
        string folder = Directory.CreateTempSubdirectory("rkde-watch-bench-").FullName;
        string drop = Path.Combine(folder, "drop"), results = Path.Combine(folder, "results.jsonl");
        Directory.CreateDirectory(drop);
        using var stop = new CancellationTokenSource();
        var error = new StringWriter();
        var log = TextWriter.Synchronized(error);
        var watch = Task.Run(() => RkdeCli.Run(["score", "--model", model, "--watch", drop, "--out", results], TextWriter.Null, log, engine, stop.Token));
        try
        {
            var clock = Stopwatch.StartNew();
            while (!Logged(log, error).Contains("Watching", StringComparison.Ordinal))
            {
                if (watch.IsCompleted || clock.Elapsed > TimeSpan.FromMinutes(2))
                    throw new InvalidOperationException("rkde score --watch did not start: " + Logged(log, error));
                Thread.Sleep(10);
            }
            int lines = 0;
            double Drop(string source, string name, bool rename)
            {
                byte[] bytes = File.ReadAllBytes(source);
                string target = Path.Combine(drop, name);
                long t0;
                if (rename)
                {
                    File.WriteAllBytes(target + ".tmp", bytes);
                    t0 = Stopwatch.GetTimestamp();
                    File.Move(target + ".tmp", target);
                }
                else
                {
                    File.WriteAllBytes(target, bytes);
                    t0 = Stopwatch.GetTimestamp();
                }
                lines++;
                while (LineCount(results) < lines)
                {
                    if (watch.IsCompleted || Stopwatch.GetElapsedTime(t0) > TimeSpan.FromMinutes(1))
                        throw new InvalidOperationException($"no line for {name}: " + Logged(log, error));
                    Thread.SpinWait(2000);
                }
                return Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
            }
            var test = DemoData.Test;
            Drop(test[0], "warmup0.png", rename: true);
            Drop(test[1], "warmup1.png", rename: true);
            var renamed = test.Select((p, i) => Drop(p, $"renamed{i:00}" + Path.GetExtension(p), rename: true)).Order().ToList();
            var inPlace = test.Select((p, i) => Drop(p, $"inplace{i:00}" + Path.GetExtension(p), rename: false)).Order().ToList();
            static string Describe(List<double> ms) => $"median {ms[ms.Count / 2]:0} ms, p90 {ms[(int)(0.9 * (ms.Count - 1))]:0} ms, worst {ms[^1]:0} ms";
            Figures.Print($"{name}, {test.Length} demo scenes of 360x240, file landing to its line",
                $"renamed into place: {Describe(renamed)}; written in place (settle 200 ms): {Describe(inPlace)}; on {Environment.ProcessorCount} cores");
        }
        finally
        {
            stop.Cancel();
            watch.Wait();
            Directory.Delete(folder, recursive: true);
        }
    }

    private static string Logged(TextWriter log, StringWriter error)
    {
        lock (log)
            return error.ToString();
    }

    private static int LineCount(string path)
    {
        if (!File.Exists(path))
            return 0;
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        int count = 0, b;
        while ((b = stream.ReadByte()) >= 0)
            count += b == '\n' ? 1 : 0;
        return count;
    }
}
