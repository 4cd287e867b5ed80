using System.Diagnostics;
using System.Globalization;
using Microsoft.ML;
using Rkde.MLNet;

namespace Rkde.Benchmarks;

/// <summary>
/// The figure <c>soak</c>: 5,000 images (RKDE_SOAK_IMAGES to change) scored in one process through the loaded default
/// pipeline (one PredictionEngine, the demo test images in a cycle), with the resident set size at the start, after
/// warm-up (100 images) and at the end. Flat (end within 10 % of warm-up) is a pass.
/// </summary>
public static class SoakFigure
{
    private const int WarmUp = 100;

    public static void Run()
    {
        int total = int.TryParse(Environment.GetEnvironmentVariable("RKDE_SOAK_IMAGES"), out var n) && n > WarmUp ? n : 5_000;
        double start = RssMb();
        using var saved = FittedModel.Create("soak", new RkdeOptions());
        var ml = new MLContext();
        ml.DisableThreadSpinning();
        var engine = ml.Model.CreatePredictionEngine<ImageInput, RkdePrediction>(ml.Model.Load(saved.Path, out _));
        var test = DemoData.Test;
        double afterWarmUp = 0, peak = 0;
        var samples = new List<string>();
        var watch = Stopwatch.StartNew();
        for (int i = 0; i < total; i++)
        {
            engine.Predict(new ImageInput { ImagePath = test[i % test.Length] });
            if (i + 1 == WarmUp)
            {
                afterWarmUp = RssMb();
                watch.Restart();
            }
            if ((i + 1) % 1000 == 0)
            {
                double rss = RssMb();
                peak = Math.Max(peak, rss);
                samples.Add(rss.ToString("0", CultureInfo.InvariantCulture));
            }
        }
        double end = RssMb(), rate = (total - WarmUp) / watch.Elapsed.TotalSeconds;
        bool flat = end <= afterWarmUp * 1.10;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"soak {total} images: RSS start {start:0} MB, after {WarmUp}-image warm-up {afterWarmUp:0} MB, end {end:0} MB " +
            $"(every 1,000: {string.Join(", ", samples)}; peak {peak:0} MB); managed heap {GC.GetTotalMemory(false) / 1e6:0} MB; " +
            $"{rate:0.0} images/s; {(flat ? "flat: pass" : "growing: FAIL")}"));
    }

    private static double RssMb()
    {
        using var process = Process.GetCurrentProcess();
        return process.WorkingSet64 / 1e6;
    }
}
