using System.Diagnostics;
using System.Globalization;
using System.Numerics.Tensors;
using Microsoft.ML;
using Microsoft.ML.Data;
using Rkde.MLNet;
using Rkde.MLNet.Density;

namespace Rkde.Benchmarks;

/// <summary>
/// Peak RSS of the density stage's fit (RkdeDensity estimator: reservoir → PCA → KDE → emitted graph) on a stream of
/// synthetic region features, one image per row, D = 1,024 (the default feature model), each configuration in a fresh
/// child process so that the peaks (VmHWM) do not mix.
/// </summary>
public static class FitMemory
{
    /// <summary>The child's command-line switch: <c>--fit-rss-child IMAGES BOXES-PER-IMAGE</c>.</summary>
    public const string ChildSwitch = "--fit-rss-child";

    private const int Dimension = 1024;

    /// <summary>Rank of the synthetic features' structured part.</summary>
    private const int Rank = 24;

    /// <summary>
    /// (images, boxes per image, label): 30 boxes per image is the realistic count, mid-range of the 11–100 that survive
    /// filtering; 100 is the worst case (MaxDetectionsPerImage); 20,000 images show the plateau past the cap.
    /// </summary>
    private static readonly (int Images, int Boxes, string Label)[] Configurations =
    [
        (200, 30, "realistic"), (2_000, 30, "realistic"), (20_000, 30, "realistic"),
        (200, 100, "worst case"), (2_000, 100, "worst case"),
    ];

    /// <summary>Runs every configuration in a child process and prints one line each, then the 2,000-vs-200 gaps.</summary>
    public static void Figure()
    {
        var peaks = new Dictionary<(int, int), (double Peak, double Held)>();
        foreach (var (images, boxes, label) in Configurations)
        {
            var fields = RunChild(images, boxes).Split(' ');
            double peak = double.Parse(fields[0], CultureInfo.InvariantCulture), held = double.Parse(fields[4], CultureInfo.InvariantCulture);
            peaks[(images, boxes)] = (peak, held);
            Figures.Print($"density.fit.rss {images} images x {boxes} boxes ({label}, D={Dimension})",
                $"peak RSS {fields[0]} MB (before fit {fields[1]} MB; reservoir {fields[2]} of {fields[3]} regions = {fields[4]} MB; rest {peak - held:0} MB; fit {fields[5]} s)");
        }
        foreach (int boxes in new[] { 30, 100 })
        {
            var (small, large) = (peaks[(200, boxes)], peaks[(2_000, boxes)]);
            Figures.Print($"density.fit.rss gap 2000 vs 200 images x {boxes} boxes",
                $"{Gap(small.Peak, large.Peak)} (target < 20 %; the reservoir holds {large.Held / small.Held:0.0}x the rows; RSS less the reservoir {Gap(small.Peak - small.Held, large.Peak - large.Held)})");
        }
    }

    private static string Gap(double small, double large) =>
        string.Create(CultureInfo.InvariantCulture, $"{100 * (large - small) / small:+0;-0} %");

    private static string RunChild(int images, int boxes)
    {
        string self = Environment.ProcessPath!;
        var start = new ProcessStartInfo(self) { RedirectStandardOutput = true, UseShellExecute = false };
        if (Path.GetFileNameWithoutExtension(self) == "dotnet")
            start.ArgumentList.Add(typeof(FitMemory).Assembly.Location);
        foreach (var a in new[] { ChildSwitch, images.ToString(CultureInfo.InvariantCulture), boxes.ToString(CultureInfo.InvariantCulture) })
            start.ArgumentList.Add(a);
        using var child = Process.Start(start)!;
        string output = child.StandardOutput.ReadToEnd();
        child.WaitForExit();
        if (child.ExitCode != 0)
            throw new InvalidOperationException($"fit-rss child ({images} x {boxes}) exited with {child.ExitCode}: {output}");
        return output.Trim().Split('\n')[^1];
    }

    /// <summary>
    /// The child: fits RkdeDensity on <paramref name="images"/> streamed rows of <paramref name="boxes"/> regions each
    /// and prints "peakMB beforeMB held seen heldMB seconds".
    /// </summary>
    public static void Child(int images, int boxes)
    {
        var ml = new MLContext(seed: 0);
        var data = ml.Data.LoadFromEnumerable(Stream(images, boxes));
        var options = new RkdeDensityOptions { FeatureDimension = Dimension };
        if (Environment.GetEnvironmentVariable("RKDE_TRACE") is not null)
            options.Progress = new TraceProgress();
        double before = PeakMegabytes();
        var clock = Stopwatch.StartNew();
        var model = ml.Transforms.RkdeDensity(options).Fit(data);
        double seconds = clock.Elapsed.TotalSeconds;
        GC.KeepAlive(model);
        long seen = (long)images * boxes, held = Math.Min(seen, options.MaxTrainingPoints);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{PeakMegabytes():0} {before:0} {held} {seen} {held * Dimension * 4 / 1e6:0.0} {seconds:0.0}"));
    }

    /// <summary>One reused row object whose features are refilled per image (the cursor copies them): nothing accumulates.</summary>
    private static IEnumerable<ImageRow> Stream(int images, int boxes)
    {
        var random = new Random(1);
        var basis = new float[Rank * Dimension];
        for (int i = 0; i < basis.Length; i++) basis[i] = (float)(random.NextDouble() * 2 - 1);
        var noise = new float[1 << 16];
        for (int i = 0; i < noise.Length; i++) noise[i] = (float)(random.NextDouble() - 0.5);
        var row = new ImageRow { Features = new float[boxes * Dimension] };
        for (int image = 0; image < images; image++)
        {
            for (int b = 0; b < boxes; b++)
            {
                var target = row.Features.AsSpan(b * Dimension, Dimension);
                noise.AsSpan(random.Next(noise.Length - Dimension), Dimension).CopyTo(target);
                for (int j = 0; j < Rank; j++)
                    TensorPrimitives.MultiplyAdd(basis.AsSpan(j * Dimension, Dimension), (float)(random.NextDouble() * 4 / (j + 1)), target, target);
            }
            yield return row;
        }
    }

    private sealed class TraceProgress : IProgress<string>
    {
        public void Report(string value) => Console.Error.WriteLine($"{Status("VmRSS:"):0} MB (peak {Status("VmHWM:"):0})  {value}");
    }

    /// <summary>A memory figure of this process (or of the process <paramref name="process"/>) from /proc/…/status (e.g. "VmRSS:"), in MB.</summary>
    internal static double Status(string key, string process = "self")
    {
        foreach (string line in File.ReadLines($"/proc/{process}/status"))
        {
            if (line.StartsWith(key, StringComparison.Ordinal))
                return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) / 1024.0;
        }
        return double.NaN;
    }

    /// <summary>This process's peak resident set (VmHWM), in MB.</summary>
    private static double PeakMegabytes() => Status("VmHWM:");

    /// <summary>One image's region features, <c>boxes × 1,024</c> values.</summary>
    public sealed class ImageRow
    {
        /// <summary>The regions' features, row-major.</summary>
        [VectorType]
        public float[] Features { get; set; } = [];
    }
}
