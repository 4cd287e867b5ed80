using System.Diagnostics;
using Rkde.MLNet.Density;

namespace Rkde.Benchmarks;

/// <summary>
/// What the stored threshold costs at fit time: the held-out scores of every training image (5 density fits on the other
/// folds' regions and the scoring of each fold) for a model of the default models' shape at the cap (40,000 regions of
/// 1,024 values, 64 components, 30 regions per image), against the one density fit they come on top of.
/// </summary>
public static class ThresholdFigure
{
    public static void Run()
    {
        const int rows = 40_000, dimension = 1024, components = 64, perImage = 30;
        var data = SyntheticFeatures.Generate(rows, dimension);
        using var reservoir = new Reservoir(rows, dimension, seed: 0);
        var imageOf = new int[rows];
        for (int r = 0; r < rows; r++)
        {
            reservoir.Add(data.AsSpan(r * dimension, dimension));
            imageOf[r] = r / perImage;
        }
        int images = (rows + perImage - 1) / perImage;
        var options = new RkdeDensityOptions { PcaComponents = components };

        var cpu = Process.GetCurrentProcess().TotalProcessorTime;
        var clock = Stopwatch.StartNew();
        KdeDensityModel.Fit(reservoir.Rows(), options, seed: 0, progress: null);
        double fit = clock.Elapsed.TotalSeconds, fitCpu = (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalSeconds;
        cpu = Process.GetCurrentProcess().TotalProcessorTime;
        clock.Restart();
        var scores = HeldOutScores.Scores(reservoir.Rows(), imageOf, images, options, seed: 0, progress: null);
        double heldOut = clock.Elapsed.TotalSeconds, heldOutCpu = (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalSeconds;
        Figures.Print($"density.threshold {rows}x{dimension} k={components}, {images} images",
            $"held-out scores of {scores.Count} images in {heldOut:0.0} s (CPU {heldOutCpu:0.0} s, {HeldOutScores.Folds} folds) " +
            $"against {fit:0.0} s (CPU {fitCpu:0.0} s) for the density fit itself, on {Environment.ProcessorCount} cores");
    }
}
