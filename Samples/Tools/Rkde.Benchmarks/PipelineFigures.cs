using System.Diagnostics;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.Transforms.Image;
using Rkde.MLNet;
using Rkde.Cli.Evaluate.Metrics;

namespace Rkde.Benchmarks;

/// <summary>
/// End-to-end figures of the default pipeline on the demo set (360 × 240): fitted on train/good, saved, loaded in a fresh
/// <see cref="MLContext"/> and scored on the test images, as one ONNX graph (what RkdeAnomaly saves) and as the chain of four
/// ONNX stages it saved before, each with ONNX Runtime's default threads (plain <c>Model.Load</c>, no Rkde.MLNet call) and with
/// <see cref="OnnxThreading.DisableThreadSpinning"/>; then the one graph and each stage of the four alone through
/// <see cref="InferenceSession"/>, and the proposer's Conv/MatMul FLOPs against the processor's peak.
/// </summary>
public static class PipelineFigures
{
    private const int Width = 360, Height = 240;

    /// <summary>
    /// The figure <c>e2e</c> (FP32 backbone), <c>e2e.int8</c> or <c>e2e.nanodet</c>, fitted with <paramref name="options"/> (see
    /// the class).
    /// </summary>
    public static void EndToEnd(string name, RkdeOptions options)
    {
        bool int8 = options.QuantizeBackbone;
        using var oneGraph = FittedModel.Create(name, options);
        using var fourStages = FittedModel.CreateFourStages(name, options);
        var test = DemoData.Test;

        double engineRate = 0, engineCpuMs = double.MaxValue;
        var scores = new Dictionary<string, float[]>();
        // Alternating the two models under each setting keeps the machine's drift out of their comparison.
        foreach (bool tuned in new[] { false, true })
        {
            foreach (var (model, saved) in new[] { ("one graph", oneGraph), ("four stages", fourStages) })
            {
                var (rate, cpu, batchRate, batchCpu, imageScores) = Measure(saved.Path, test, tuned);
                double auroc = AnomalyMetrics.Auroc(imageScores, test.Select(DemoData.IsAnomalous).ToArray());
                string threads = tuned ? "spinning off (DisableThreadSpinning)" : "plain Model.Load, ORT default threads";
                Figures.Print($"{name} {model}, {threads}", $"PredictionEngine {rate:0.0} images/s ({cpu:0} ms CPU per image), batch Transform " +
                    $"{batchRate:0.0} images/s ({batchCpu:0} ms CPU per image); best of 3 × {test.Length} on {Environment.ProcessorCount} cores; demo image AUROC {auroc:0.000}");
                scores[model] = imageScores;
                if (model == "one graph")
                {
                    engineRate = Math.Max(engineRate, rate);
                    engineCpuMs = Math.Min(engineCpuMs, cpu);
                }
            }
        }
        double largest = scores["one graph"].Zip(scores["four stages"]).Max(p => Math.Abs(p.First - p.Second));
        Figures.Print($"{name} one graph vs four stages", $"largest image-score difference {largest:0.0e0} over {test.Length} images (same data, seed and models)");

        var whole = StageTimes(oneGraph.Path, test);
        var stages = StageTimes(fourStages.Path, test);
        Figures.Print(name + " graphs alone (ms per image, fastest (median) of 2 × 20 runs; decode+resize: mean)",
            $"one graph {whole[1].Ms:0.0} ({whole[1].MedianMs:0.0}); four stages: " +
            string.Join(", ", stages.Select(s => $"{s.Stage} {s.Ms:0.0} ({s.MedianMs:0.0})")) +
            $"; sum {stages.Sum(s => s.Ms):0.0} ({stages.Sum(s => s.MedianMs):0.0}) vs best one-graph PredictionEngine {1000 / engineRate:0.0} ms per image");

        // INT8 graphs: QLinearConv multiply-adds are counted like FP32 ones, against the FP32 peak (VNNI's int8 peak is 4× higher).
        var counted = OnnxFlops.Count(fourStages.Graph("proposer"), Pixels(test[..1])[0]);
        // NanoDet's graph is all backbone (its decoding is a few small nodes).
        var flops = counted.Backbone > 0 ? counted : (Backbone: counted.Total, counted.Total);
        double proposerMs = stages.Single(s => s.Stage == "proposer").Ms;
        var peak = ProcessorPeak.Estimate();
        Figures.Print(name + " FLOPs", $"{flops.Backbone / 1e9:0.00} GFLOP/image backbone Conv/MatMul ({flops.Total / 1e9:0.00} whole proposer graph); " +
            $"{flops.Backbone * engineRate / 1e9:0.0} GFLOP/s end to end = {100 * flops.Backbone * engineRate / peak.FlopsPerSecond:0.0} % of the FP32 peak, " +
            $"{flops.Total / proposerMs / 1e6:0.0} GFLOP/s in the proposer graph alone = {100 * flops.Total / (proposerMs / 1000) / peak.FlopsPerSecond:0.0} %; " +
            $"per CPU-second end to end {flops.Backbone / engineCpuMs / 1e6:0.0} GFLOP/s = {100 * flops.Backbone / (engineCpuMs / 1000) / peak.PerCore:0} % of one core's peak " +
            $"(on an idle machine: about {Environment.ProcessorCount * 1000 / engineCpuMs:0} images/s if the cores were kept busy) " +
            $"(peak {peak.FlopsPerSecond / 1e9:0} GFLOP/s: {peak.Assumption})" +
            (int8 ? "; int8 multiply-adds counted as FP32 ones, VNNI's int8 peak is 4× the FP32 one" : ""));
    }

    /// <summary>
    /// A saved model loaded into a fresh MLContext (with <paramref name="tuned"/>: threads not spinning) and scored through one
    /// PredictionEngine and through batch Transform: the best of 3 passes each, and the image scores.
    /// </summary>
    private static (double Rate, double CpuMs, double BatchRate, double BatchCpuMs, float[] Scores) Measure(string zip, string[] test, bool tuned)
    {
        var ml = new MLContext();
        if (tuned)
            ml.DisableThreadSpinning();
        var model = ml.Model.Load(zip, out _);
        // One engine for all passes: disposing a PredictionEngine disposes the loaded model's ONNX sessions.
        var engine = ml.Model.CreatePredictionEngine<ImageInput, ScoredImage>(model);
        var scores = new float[test.Length];
        var (rate, cpu) = BestOf(3, test.Length, () =>
        {
            for (int i = 0; i < test.Length; i++)
                scores[i] = engine.Predict(new ImageInput { ImagePath = test[i] }).Score;
        });
        var (batchRate, batchCpu) = BestOf(3, test.Length, () =>
        {
            var scored = model.Transform(ml.Data.LoadFromEnumerable(test.Select(p => new ImageInput { ImagePath = p })));
            foreach (var _ in ml.Data.CreateEnumerable<ScoredImage>(scored, reuseRowObject: true)) { }
        });
        return (rate, cpu, batchRate, batchCpu, scores);
    }

    /// <summary>The output columns both kinds of saved model have.</summary>
    private sealed class ScoredImage
    {
        [Microsoft.ML.Data.VectorType]
        public float[] Boxes { get; set; } = [];

        [Microsoft.ML.Data.VectorType]
        public float[] BoxScores { get; set; } = [];

        public float Score { get; set; }
    }

    /// <summary>Runs <paramref name="pass"/> <paramref name="repeats"/> times; the best pass's images/s and its process CPU ms per image.</summary>
    public static (double Rate, double CpuMsPerImage) BestOf(int repeats, int images, Action pass)
    {
        pass(); // warm-up: JIT, ORT sessions and arenas
        double best = 0, cpuMs = 0;
        for (int r = 0; r < repeats; r++)
        {
            var cpu = Process.GetCurrentProcess().TotalProcessorTime;
            var watch = Stopwatch.StartNew();
            pass();
            double rate = images / watch.Elapsed.TotalSeconds;
            if (rate > best)
            {
                best = rate;
                cpuMs = (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalMilliseconds / images;
            }
        }
        return (best, cpuMs);
    }

    /// <summary>
    /// Each ONNX graph of the saved pipeline run alone, in pipeline order, on every test image (outputs fed to the next
    /// graph by name), after image decoding (ML.NET LoadImages + ResizeImages + ExtractPixels, timed too).
    /// </summary>
    private static List<(string Stage, double Ms, double MedianMs)> StageTimes(string zip, string[] images)
    {
        var decode = Stopwatch.StartNew();
        var pixels = Pixels(images);
        double decodeMs = decode.Elapsed.TotalMilliseconds / images.Length;
        var result = new List<(string, double, double)> { ("decode+resize", decodeMs, decodeMs) };
        var graphs = FittedModel.Graphs(zip);
        using var options = OnnxThreading.NonSpinning();
        var sessions = graphs.Select(g => (g.Stage, Session: new InferenceSession(g.Bytes, options))).ToList();
        var times = sessions.Select(_ => new List<double>()).ToList();
        try
        {
            for (int pass = 0; pass < 2; pass++)
            {
                foreach (var image in pixels)
                {
                    var values = new Dictionary<string, OrtValue>
                    {
                        [sessions[0].Session.InputNames[0]] = OrtValue.CreateTensorValueFromMemory(image, [1, 3, Height, Width]),
                    };
                    for (int s = 0; s < sessions.Count; s++)
                    {
                        var session = sessions[s].Session;
                        var inputs = session.InputNames.Select(n => values[n]).ToArray();
                        var watch = Stopwatch.StartNew();
                        var outputs = session.Run(new RunOptions(), session.InputNames, inputs, session.OutputNames);
                        if (pass > 0)
                            times[s].Add(watch.Elapsed.TotalMilliseconds);
                        for (int o = 0; o < outputs.Count; o++)
                            values[session.OutputNames[o]] = outputs[o];
                    }
                    foreach (var v in values.Values)
                        v.Dispose();
                }
            }
        }
        finally
        {
            foreach (var s in sessions)
                s.Session.Dispose();
        }
        for (int s = 0; s < sessions.Count; s++)
        {
            times[s].Sort();
            result.Add((sessions[s].Stage, times[s][0], times[s][times[s].Count / 2]));
        }
        return result;
    }

    /// <summary>The images as the pipeline sees them: stretched to 360 × 240, planar RGB in [0, 1].</summary>
    public static List<float[]> Pixels(string[] images)
    {
        var ml = new MLContext();
        var data = ml.Data.LoadFromEnumerable(images.Select(p => new ImageInput { ImagePath = p }));
        var transformed = PixelPipeline(ml, "pixels").Fit(data).Transform(data);
        return transformed.GetColumn<VBuffer<float>>("pixels").Select(v => v.DenseValues().ToArray()).ToList();
    }

    /// <summary>LoadImages → ResizeImages (Fill, 360 × 240) → ExtractPixels (planar RGB in [0, 1]) into <paramref name="pixels"/>, as RkdeAnomaly does.</summary>
    public static EstimatorChain<ImagePixelExtractingTransformer> PixelPipeline(MLContext ml, string pixels) =>
        ml.Transforms.LoadImages("image", null, nameof(ImageInput.ImagePath))
            .Append(ml.Transforms.ResizeImages("image", Width, Height, "image", ImageResizingEstimator.ResizingKind.Fill))
            .Append(ml.Transforms.ExtractPixels(pixels, "image", ImagePixelExtractingEstimator.ColorBits.Rgb,
                ImagePixelExtractingEstimator.ColorsOrder.ARGB, interleavePixelColors: false, scaleImage: 1f / 255));
}

/// <summary>The pipeline's input row.</summary>
public sealed class ImageInput
{
    /// <summary>Path of the image file.</summary>
    public string ImagePath { get; set; } = "";
}
