using System.CommandLine;
using Rkde.Cli.Scoring;

namespace Rkde.Cli.Commands;

/// <summary><c>rkde score</c>: scores every image under a folder and writes JSON Lines (and overlays).</summary>
internal static class ScoreCommand
{
    public static Command Create(IRkdeEngine engine, TextWriter output, TextWriter error)
    {
        var model = new Option<string>("--model") { Description = "A model saved by rkde fit.", Required = true };
        var images = new Option<string>("--images") { Description = "Folder of images to score (recursive).", Required = true };
        var outFile = new Option<string>("--out") { Description = "JSON Lines output: one {\"image\", \"score\", \"boxes\": [[x1,y1,x2,y2,score],…]} per image, boxes in original-image pixels, highest first.", Required = true };
        var overlays = new Option<string?>("--overlays") { Description = "Folder for overlay PNGs (boxes coloured by score), mirroring the image folder." };
        var threshold = new Option<float?>("--threshold") { Description = "Decision threshold for \"anomalous\" in each line and the boxes overlays show; default: the model's own (stored at fit for its false-positive rate)." };
        var batch = new Option<int?>("--batch") { Description = "Score N images per call through the model's exported ONNX graph with ONNX Runtime (1: the single-image graph) instead of the ML.NET .zip." };
        var command = new Command("score", "Score images with a fitted model: image score and anomalous boxes per image.") { model, images, outFile, overlays, threshold, batch };
        command.SetAction(parse => RkdeCli.Guard(error, () =>
        {
            string modelPath = parse.GetValue(model)!, folder = parse.GetValue(images)!, outPath = parse.GetValue(outFile)!;
            string? overlayDir = parse.GetValue(overlays);
            int? perCall = parse.GetValue(batch);
            if (!File.Exists(modelPath))
            {
                throw new CliException($"--model '{modelPath}' does not exist; create one with rkde fit.");
            }
            if (perCall is < 1)
            {
                throw new CliException($"--batch must be at least 1 (got {perCall}).");
            }
            var files = ImageFiles.Find(folder, "--images");
            using var scorer = perCall is int n ? engine.LoadExported(modelPath, n) : engine.Load(modelPath);
            float? t = parse.GetValue(threshold) ?? scorer.Threshold;
            string whose = parse.GetValue(threshold) is not null ? $"threshold {t}"
                : $"the model's threshold {t} (chosen for a false-positive rate of {scorer.FalsePositiveRate:0.###%})";
            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(outPath))!);
            using var writer = new StreamWriter(outPath);
            int failed = 0, flagged = 0;
            using var bar = new ProgressBar(error, "score", files.Count);
            var (lines, elapsed) = ScoreRunner.Run(scorer, folder, files, bar, (file, line) =>
            {
                writer.WriteLine(line.ToJson(t));
                if (line.Result is null)
                {
                    failed++;
                    return;
                }
                if (t is float th && line.Result.IsAnomalyAt(th))
                {
                    flagged++;
                }
                if (overlayDir is not null)
                {
                    Overlay.Write(file, line.Result, Path.Combine(overlayDir, Path.ChangeExtension(line.Image, ".png")), t);
                }
            });
            bar.Dispose();
            string verdict = t is null ? "" : $", {flagged} at or above {whose}";
            output.WriteLine($"Scored {lines.Count - failed} of {lines.Count} images in {elapsed.TotalSeconds:F1} s ({lines.Count / Math.Max(elapsed.TotalSeconds, 1e-9):F1} images/s){verdict}; results in {outPath}.");
            if (failed > 0)
            {
                error.WriteLine($"rkde: {failed} image(s) could not be scored; their lines in {outPath} carry \"error\".");
            }
            return 0;
        }));
        return command;
    }
}
