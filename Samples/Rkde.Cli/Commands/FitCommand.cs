using System.CommandLine;
using System.Diagnostics;
using Rkde.Cli.Scoring;

namespace Rkde.Cli.Commands;

/// <summary><c>rkde fit</c>: fits R-KDE on a folder of normal images and saves the model .zip.</summary>
internal static class FitCommand
{
    public static Command Create(IRkdeEngine engine, TextWriter output, TextWriter error)
    {
        var train = new Option<string>("--train") { Description = "Folder of normal images (recursive), or an MVTec AD category root (then train/good is used).", Required = true };
        var model = new Option<string>("--model") { Description = "Where to save the fitted model (.zip).", Required = true };
        var strict = new Option<bool>("--strict") { Description = "Stop at the first unreadable training image instead of skipping it with a warning." };
        var rkde = new RkdeOptionSet();
        var command = new Command("fit", "Fit R-KDE on normal images and save the model.") { train, model, strict };
        rkde.AddTo(command);
        command.SetAction(parse => RkdeCli.Guard(error, () =>
        {
            // The engine checks every image as it fits (one complete decode each): unreadable ones are skipped with a warning
            // line each, or stop the fit with --strict.
            var settings = rkde.Read(parse) with { SkipUnreadableImages = !parse.GetValue(strict) };
            string folder = ImageFiles.TrainingFolder(parse.GetValue(train)!);
            var files = ImageFiles.Find(folder, "--train");
            string modelPath = parse.GetValue(model)!;
            var clock = Stopwatch.StartNew();
            error.WriteLine($"Fitting on the {files.Count} images of {folder} …");
            int fitted = engine.Fit(files, settings, modelPath, new LineProgress(error));
            output.WriteLine($"Fitted on {fitted} images in {clock.Elapsed.TotalSeconds:F1} s ({fitted / clock.Elapsed.TotalSeconds:F1} images/s); model saved to {modelPath}.");
            return 0;
        }));
        return command;
    }
}
