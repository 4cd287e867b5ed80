using BenchmarkDotNet.Running;
using Rkde.Benchmarks;

// `--quick [NAME-PART …]`: one line per figure (Figures.All), optionally only those whose name contains a NAME-PART.
// `--fit-rss-child IMAGES BOXES` is the fit-memory figure's child process (FitMemory); with RKDE_TRACE=1 it prints its RSS at each progress message.
// RKDE_TRACE=1 prints the density fit's progress with timestamps to stderr.
// Otherwise BenchmarkDotNet, with its usual arguments (e.g. --filter *).
if (args is [FitMemory.ChildSwitch, var images, var boxes])
{
    FitMemory.Child(int.Parse(images, System.Globalization.CultureInfo.InvariantCulture), int.Parse(boxes, System.Globalization.CultureInfo.InvariantCulture));
    return;
}
if (args.Contains("--quick"))
{
    var parts = args.Where(a => a != "--quick").ToArray();
    foreach (var (name, run) in Figures.All())
    {
        if (parts.Length == 0 || parts.Any(p => name.Contains(p, StringComparison.OrdinalIgnoreCase))) run();
    }
    return;
}
BenchmarkSwitcher.FromAssembly(typeof(DensityBenchmarks).Assembly).Run(args);
