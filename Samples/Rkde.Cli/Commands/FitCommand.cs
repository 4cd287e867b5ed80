using System.CommandLine;
using System.Diagnostics;
using Rkde.Cli.Scoring;
using Rkde.MLNet.Images;

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
            var settings = rkde.Read(parse);
            string folder = ImageFiles.TrainingFolder(parse.GetValue(train)!);
            var files = ImageFiles.Find(folder, "--train");
            var bad = files.Select(ImageCheck.Check).Where(c => !c.IsReadable).ToList();
            if (bad.Count > 0 && parse.GetValue(strict))
            {
                throw new CliException($"--strict: {bad[0].Message}");
            }
            foreach (var check in bad)
            {
                error.WriteLine($"rkde: skipping training image: {check.Message}");
            }
            var usable = files.Except(bad.Select(b => b.Path)).ToList();
            if (usable.Count == 0)
            {
                throw new CliException($"--train: none of the {files.Count} images in '{folder}' could be read.");
            }
            string modelPath = parse.GetValue(model)!;
            var clock = Stopwatch.StartNew();
            error.WriteLine($"Fitting on {usable.Count} images of {folder} …");
            engine.Fit(usable, settings, modelPath, new Progress<string>(m => error.WriteLine($"  {m}")));
            output.WriteLine($"Fitted on {usable.Count} images in {clock.Elapsed.TotalSeconds:F1} s ({usable.Count / clock.Elapsed.TotalSeconds:F1} images/s); model saved to {modelPath}.");
            return 0;
        }));
        return command;
    }
}
