using System.CommandLine;
using Rkde.Cli.Evaluate;
using Rkde.Cli.Scoring;
using Spectre.Console;

namespace Rkde.Cli.Commands;

/// <summary><c>rkde evaluate</c>: metrics, thresholds, ROC curve and overlays on an MVTec AD layout.</summary>
internal static class EvaluateCommand
{
    public static Command Create(IRkdeEngine engine, TextWriter output, TextWriter error)
    {
        var data = new Option<string>("--data") { Description = "MVTec AD category root: train/good, test/good, test/<kind>, ground_truth/<kind>/<name>_mask.png (boxes.json used when present).", Required = true };
        var model = new Option<string?>("--model") { Description = "A fitted model; default: fit on train/good (saved as model.zip in the report folder)." };
        var outDir = new Option<string>("--out") { Description = "Report folder: report.json, results.jsonl, roc.png, overlays/.", Required = true };
        var bootstrap = new Option<int>("--bootstrap") { Description = "Resample the test images this many times (stratified bootstrap) for 95 % intervals of image AUROC, box AP@0.3 and pixel AUROC; every replicate goes to bootstrap.json. 0: none.", DefaultValueFactory = _ => 0 };
        var metricsOnly = new Option<bool>("--metrics-only") { Description = "Only the metrics: no overlays, no roc.png, and train/good is not scored again for the 99th-percentile threshold (faster benchmark runs)." };
        var rkde = new RkdeOptionSet();
        var command = new Command("evaluate", "Evaluate on an MVTec AD layout: image AUROC, pixel AUROC, box AP@0.3/0.5, thresholds, throughput.") { data, model, outDir, bootstrap, metricsOnly };
        rkde.AddTo(command);
        command.SetAction(parse => RkdeCli.Guard(error, () =>
        {
            int replicates = parse.GetValue(bootstrap);
            if (replicates < 0)
            {
                throw new CliException($"--bootstrap {replicates}: give a number of resamples (e.g. 1000), or 0 for none.");
            }
            var report = new EvaluationRunner(engine, error).Run(parse.GetValue(data)!, parse.GetValue(model), rkde.Read(parse), parse.GetValue(outDir)!,
                new EvaluationOptions(replicates, parse.GetValue(metricsOnly)));
            PrintSummary(report, parse.GetValue(outDir)!, output);
            return 0;
        }));
        return command;
    }

    internal static void PrintSummary(EvaluationReport r, string reportDir, TextWriter output)
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(output),
            Ansi = ReferenceEquals(output, Console.Out) ? AnsiSupport.Detect : AnsiSupport.No,
            ColorSystem = ReferenceEquals(output, Console.Out) ? ColorSystemSupport.Detect : ColorSystemSupport.NoColors,
        });
        static string F(double? v) => v is double d ? d.ToString("0.000") : "n/a";
        static string I(double[]? interval) => interval is [double low, double high] ? Markup.Escape($" [{low:0.000}, {high:0.000}]") : "";
        var table = new Table().Title($"R-KDE on {Markup.Escape(r.Data)}").AddColumn("Metric").AddColumn(new TableColumn("Value").RightAligned());
        table.AddRow("Images (train / test good / test anomalous)", $"{r.TrainImages} / {r.TestGoodImages} / {r.TestAnomalousImages}");
        if (r.FailedImages > 0)
        {
            table.AddRow("Test images that failed to score", r.FailedImages.ToString());
        }
        table.AddRow(r.Intervals is null ? "Image AUROC" : "Image AUROC [[95 % bootstrap interval]]", F(r.ImageAuroc) + I(r.Intervals?.ImageAuroc));
        foreach (var (kind, auroc) in r.ImageAurocByKind)
        {
            table.AddRow($"  {Markup.Escape(kind)}", F(auroc));
        }
        table.AddRow("Pixel AUROC (box-derived map)", F(r.PixelAuroc) + I(r.Intervals?.PixelAuroc));
        table.AddRow($"Box AP@0.3 / AP@0.5 ({Markup.Escape(r.GroundTruthBoxes)})", $"{F(r.BoxApIou30)}{I(r.Intervals?.BoxApIou30)} / {F(r.BoxApIou50)}");
        table.AddRow("Box recall@0.5 (anomalous items / all items)", $"{F(r.AnomalousItemRecallIou50)} / {F(r.ItemRecallIou50)}");
        table.AddRow("F1-optimal threshold (F1, precision, recall)",
            $"{r.F1OptimalThreshold.Threshold:0.0000} ({r.F1OptimalThreshold.F1:0.000}, {r.F1OptimalThreshold.Precision:0.000}, {r.F1OptimalThreshold.Recall:0.000})");
        if (r.ModelThreshold is float t)
        {
            table.AddRow("Model threshold: false-positive rate nominal / on test/good (recall)",
                $"{t:0.0000}: {r.NominalFalsePositiveRate:0.0%} / {r.TestGoodFalsePositiveRate:0.0%} ({r.ModelThresholdRecall:0.000})");
        }
        table.AddRow("99th percentile of train/good scores", r.TrainPercentile99Threshold is float p ? p.ToString("0.0000") : "n/a");
        table.AddRow("Fit", r.FitSeconds is double s ? $"{s:F1} s ({r.FitImagesPerSecond:F1} images/s)" : "model given");
        table.AddRow("Scoring", $"{r.ScoreSeconds:F1} s ({r.ScoreImagesPerSecond:F1} images/s)");
        console.Write(table);
        output.WriteLine($"Report: {Path.Combine(reportDir, "report.json")}" +
            (r.RocCurve is null ? "" : $"  ROC: {Path.Combine(reportDir, r.RocCurve)}") +
            (r.Overlays is null ? "" : $"  overlays: {Path.Combine(reportDir, r.Overlays)}/") +
            (r.Intervals is null ? "" : $"  bootstrap: {Path.Combine(reportDir, "bootstrap.json")}"));
    }
}
