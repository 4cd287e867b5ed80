using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using Rkde.Cli.Scoring;
using Rkde.MLNet.Density;

namespace Rkde.Cli.Commands;

/// <summary><c>rkde update</c>: adds a folder of new normal images to a fitted model, without the images it was fitted on.</summary>
internal static class UpdateCommand
{
    public static Command Create(IRkdeEngine engine, TextWriter output, TextWriter error)
    {
        var model = new Option<string>("--model") { Description = "The fitted model (.zip saved by rkde fit or rkde update).", Required = true };
        var train = new Option<string>("--train") { Description = "Folder of new normal images (recursive), or an MVTec AD category root (then train/good is used).", Required = true };
        var outPath = new Option<string>("--out") { Description = "Where to save the updated model (.zip); may be --model itself, which is replaced only once the new model is complete.", Required = true };
        var mode = new Option<string>("--mode") { Description = "reservoir: a uniform sample of every region seen (the past keeps its weight); window: the newest regions (a changed scene forgets its past).", DefaultValueFactory = _ => "reservoir" };
        mode.AcceptOnlyFromAmong("reservoir", "window");
        var strict = new Option<bool>("--strict") { Description = "Stop at the first unreadable image instead of skipping it with a warning." };
        var command = new Command("update", "Add new normal images to a fitted model: the projection stays, the regions enter the training sample, the bandwidth is recomputed.")
        {
            model, train, outPath, mode, strict,
        };
        command.SetAction(parse => RkdeCli.Guard(error, () =>
        {
            string modelPath = parse.GetValue(model)!, target = parse.GetValue(outPath)!;
            if (!File.Exists(modelPath))
            {
                throw new CliException($"--model '{modelPath}' does not exist; create one with rkde fit.");
            }
            string folder = ImageFiles.TrainingFolder(parse.GetValue(train)!);
            var files = ImageFiles.Find(folder, "--train");
            var settings = new UpdateSettings(ParseMode(parse.GetValue(mode)!), parse.GetValue(strict));
            var clock = Stopwatch.StartNew();
            error.WriteLine($"Updating {modelPath} with {files.Count} images of {folder} …");
            var summary = engine.Update(modelPath, files, settings, target, new LineProgress(error));
            output.WriteLine(Describe(summary, settings.Sampling, clock.Elapsed, target));
            return 0;
        }));
        return command;
    }

    public static UpdateSampling ParseMode(string mode) => mode == "window" ? UpdateSampling.Window : UpdateSampling.Reservoir;

    /// <summary>The one-line summary of an update.</summary>
    public static string Describe(UpdateSummary s, UpdateSampling sampling, TimeSpan elapsed, string target) => string.Create(CultureInfo.InvariantCulture,
        $"Added {s.ImagesAdded} images ({s.RegionsAdded} regions{(s.ImagesSkipped > 0 ? $"; {s.ImagesSkipped} unreadable skipped" : "")}) in {elapsed.TotalSeconds:F1} s, " +
        $"{sampling.ToString().ToLowerInvariant()}: the model keeps {s.TrainingPoints} of {s.RegionsSeen} regions seen; the kept projection explains " +
        $"{s.ExplainedVariance:P1} of the new regions' variance (training regions: {s.TrainingExplainedVariance:P1})" +
        $"{(float.IsNaN(s.Threshold) ? "" : string.Create(CultureInfo.InvariantCulture, $"; threshold now {s.Threshold:G6}"))}; model saved to {target}.");
}
