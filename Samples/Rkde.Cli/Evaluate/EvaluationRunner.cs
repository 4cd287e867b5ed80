using System.Diagnostics;
using System.Text.Json;
using Rkde.Cli.Scoring;
using Rkde.Cli.Evaluate.Metrics;

namespace Rkde.Cli.Evaluate;

/// <summary>What <c>rkde evaluate</c> writes besides the metrics, and whether it bootstraps them.</summary>
/// <param name="BootstrapReplicates">Resamples of the test images for the 95 % intervals (bootstrap.json); 0: none.</param>
/// <param name="MetricsOnly">Skip what a benchmark run does not need: overlays, roc.png and scoring train/good for the percentile threshold.</param>
internal sealed record EvaluationOptions(int BootstrapReplicates = 0, bool MetricsOnly = false)
{
    /// <summary>Seed of the bootstrap's draws: the same scores give the same intervals.</summary>
    public const int BootstrapSeed = 0;
}

/// <summary>
/// <c>rkde evaluate</c>: fits on train/good (unless a model is given), scores train/good (for the percentile
/// threshold) and every test image, and computes image AUROC, pixel AUROC, box AP@0.3/0.5 and thresholds; writes
/// report.json, results.jsonl, roc.png and overlays/ under the report folder, and with a bootstrap the resampled
/// metrics in bootstrap.json.
/// </summary>
internal sealed class EvaluationRunner(IRkdeEngine engine, TextWriter error)
{
    private static readonly JsonSerializerOptions ReportJson = new() { PropertyNamingPolicy = JsonNamingPolicy.CamelCase, WriteIndented = true };

    public EvaluationReport Run(string root, string? modelPath, FitSettings settings, string reportDir, EvaluationOptions? options = null)
    {
        options ??= new EvaluationOptions();
        string test = Path.Combine(root, "test");
        if (!Directory.Exists(test))
        {
            throw new CliException($"--data '{root}' has no test/ folder; expected the MVTec AD layout (train/good, test/good, test/<kind>, ground_truth/<kind>).");
        }
        string train = Path.Combine(root, "train", "good");
        var testFiles = ImageFiles.Find(test, "--data (test/)");
        if (!testFiles.Any(f => GroundTruth.KindOf(ImageFiles.Relative(test, f)) == "good") ||
            testFiles.All(f => GroundTruth.KindOf(ImageFiles.Relative(test, f)) == "good"))
        {
            throw new CliException($"--data '{root}': test/ needs both test/good and at least one anomaly folder test/<kind>.");
        }
        var truth = new GroundTruth(root);
        Directory.CreateDirectory(reportDir);

        double? fitSeconds = null;
        List<string>? trainFiles = null;
        if (modelPath is null)
        {
            if (!Directory.Exists(train))
            {
                throw new CliException($"--data '{root}' has no train/good folder to fit on; add it or pass --model.");
            }
            trainFiles = ImageFiles.Find(train, "--data (train/good)");
            modelPath = Path.Combine(reportDir, "model.zip");
            var clock = Stopwatch.StartNew();
            error.WriteLine($"Fitting on {trainFiles.Count} images of {train} …");
            engine.Fit(trainFiles, settings, modelPath, new LineProgress(error));
            fitSeconds = clock.Elapsed.TotalSeconds;
        }
        else if (!File.Exists(modelPath))
        {
            throw new CliException($"--model '{modelPath}' does not exist.");
        }

        using var scorer = engine.Load(modelPath);
        float? p99 = null;
        if (trainFiles is not null && !options.MetricsOnly)
        {
            using var bar = new ProgressBar(error, "score train/good", trainFiles.Count);
            var (trainLines, _) = ScoreRunner.Run(scorer, train, trainFiles, bar);
            float[] trainScores = trainLines.Where(l => l.Result is not null).Select(l => l.Result!.Score).ToArray();
            p99 = trainScores.Length > 0 ? AnomalyMetrics.Percentile(trainScores, 99) : null;
        }

        List<ResultLine> lines;
        TimeSpan scoreTime;
        using (var bar = new ProgressBar(error, "score test", testFiles.Count))
        {
            (lines, scoreTime) = ScoreRunner.Run(scorer, test, testFiles, bar);
        }
        File.WriteAllLines(Path.Combine(reportDir, "results.jsonl"), lines.Select(l => l.ToJson(null)));

        var scored = lines.Where(l => l.Result is not null).ToList();
        float[] scores = scored.Select(l => l.Result!.Score).ToArray();
        bool[] anomalous = scored.Select(l => GroundTruth.KindOf(l.Image) != "good").ToArray();
        if (!anomalous.Contains(true) || !anomalous.Contains(false))
        {
            throw new CliException("Too many test images failed to score to compute AUROC; see results.jsonl in the report folder.");
        }
        double imageAuroc = AnomalyMetrics.Auroc(scores, anomalous);
        var byKind = scored.Select(l => GroundTruth.KindOf(l.Image)).Where(k => k != "good").Distinct().Order(StringComparer.Ordinal)
            .ToDictionary(k => k, k =>
            {
                var subset = scored.Where(l => GroundTruth.KindOf(l.Image) is var kind && (kind == k || kind == "good")).ToList();
                return AnomalyMetrics.Auroc(subset.Select(l => l.Result!.Score).ToArray(), subset.Select(l => GroundTruth.KindOf(l.Image) == k).ToArray());
            });
        var f1 = AnomalyMetrics.F1OptimalThreshold(scores, anomalous);
        float? modelThreshold = scorer.Threshold;
        double? Reaching(bool wanted) => modelThreshold is float mt
            ? scores.Where((s, i) => anomalous[i] == wanted).Count(s => s >= mt) / (double)anomalous.Count(a => a == wanted)
            : null;
        if (!options.MetricsOnly)
        {
            RocPlot.Save(AnomalyMetrics.RocCurve(scores, anomalous), imageAuroc, Path.Combine(reportDir, "roc.png"));
        }

        var pixels = new PixelAuroc();
        // Per scored image, for the bootstrap: its pixel counts (null without a mask) and its boxes (null without ground truth).
        var imagePixels = new List<PixelAuroc?>();
        var imageBoxes = new List<ImageBoxes?>();
        var boxImages = new List<ImageBoxes>();
        var itemImages = new List<ImageBoxes>();
        bool boxesComplete = true;
        string overlays = Path.Combine(reportDir, "overlays");
        // One colour scale for all overlays: from the lowest to the highest image score of the test set.
        var colourRange = (scores.Min(), scores.Max());
        using (var bar = new ProgressBar(error, options.MetricsOnly ? "pixel metrics" : "pixel metrics and overlays", scored.Count))
        {
            for (int i = 0; i < scored.Count; i++)
            {
                var line = scored[i];
                string file = Path.Combine(test, line.Image);
                var (width, height) = line.Size;
                byte[]? mask = truth.Mask(line.Image, width, height);
                PixelAuroc? own = null;
                if (mask is not null)
                {
                    own = new PixelAuroc();
                    own.Add(AnomalyMap.FromBoxes(width, height, line.Result!.Boxes), mask);
                    pixels.Add(own);
                }
                imagePixels.Add(own);
                var gt = truth.Boxes(line.Image, mask, width);
                if (truth.AllItems(line.Image) is { } items)
                {
                    itemImages.Add(new ImageBoxes(line.Result!.Boxes, items));
                }
                if (gt is null)
                {
                    boxesComplete = false;
                }
                else
                {
                    boxImages.Add(new ImageBoxes(line.Result!.Boxes, gt));
                }
                imageBoxes.Add(gt is null ? null : new ImageBoxes(line.Result!.Boxes, gt));
                if (!options.MetricsOnly)
                {
                    Overlay.Write(file, line.Result!, Path.Combine(overlays, Path.ChangeExtension(line.Image, ".png")), f1.Threshold, gt, colourRange);
                }
                bar.Report(i + 1);
            }
        }
        bool hasBoxes = boxesComplete && boxImages.Any(b => b.GroundTruth.Count > 0);
        bool hasPixels = pixels.AnomalousPixels > 0 && pixels.NormalPixels > 0 && imagePixels.All(p => p is not null);
        var intervals = options.BootstrapReplicates > 0
            ? BootstrapMetrics(scores, anomalous, hasBoxes ? imageBoxes.Select(b => b!).ToList() : null,
                hasPixels ? imagePixels.Select(p => p!).ToList() : null, options.BootstrapReplicates, reportDir)
            : null;

        var report = new EvaluationReport
        {
            Data = Path.GetFullPath(root),
            Model = Path.GetFullPath(modelPath),
            TrainImages = trainFiles?.Count ?? 0,
            TestGoodImages = lines.Count(l => GroundTruth.KindOf(l.Image) == "good"),
            TestAnomalousImages = lines.Count(l => GroundTruth.KindOf(l.Image) != "good"),
            FailedImages = lines.Count - scored.Count,
            ImageAuroc = imageAuroc,
            ImageAurocByKind = byKind,
            PixelAuroc = pixels.AnomalousPixels > 0 && pixels.NormalPixels > 0 ? pixels.Compute() : null,
            Intervals = intervals,
            BoxApIou30 = hasBoxes ? BoxAveragePrecision.Compute(boxImages, 0.3) : null,
            BoxApIou50 = hasBoxes ? BoxAveragePrecision.Compute(boxImages, 0.5) : null,
            GroundTruthBoxes = hasBoxes ? truth.BoxSource : "none",
            AnomalousItemRecallIou50 = hasBoxes ? BoxRecall.Compute(boxImages, 0.5) : null,
            ItemRecallIou50 = itemImages.Any(i => i.GroundTruth.Count > 0) ? BoxRecall.Compute(itemImages, 0.5) : null,
            F1OptimalThreshold = f1,
            ModelThreshold = modelThreshold,
            NominalFalsePositiveRate = scorer.FalsePositiveRate,
            TestGoodFalsePositiveRate = Reaching(false),
            ModelThresholdRecall = Reaching(true),
            TrainPercentile99Threshold = p99,
            FitSeconds = fitSeconds,
            FitImagesPerSecond = fitSeconds is double s && trainFiles is not null ? trainFiles.Count / s : null,
            ScoreSeconds = scoreTime.TotalSeconds,
            ScoreImagesPerSecond = lines.Count / Math.Max(scoreTime.TotalSeconds, 1e-9),
            RocCurve = options.MetricsOnly ? null : "roc.png",
            Overlays = options.MetricsOnly ? null : "overlays",
        };
        File.WriteAllText(Path.Combine(reportDir, "report.json"), JsonSerializer.Serialize(report, ReportJson) + "\n");
        return report;
    }

    /// <summary>
    /// Resamples the test images (<see cref="Bootstrap"/>), writes every replicate of image AUROC, box AP@0.3 and pixel AUROC
    /// to bootstrap.json (so intervals of means over several data sets can be formed from them) and returns the 95 % intervals.
    /// </summary>
    private static BootstrapIntervals BootstrapMetrics(float[] scores, bool[] anomalous, IReadOnlyList<ImageBoxes>? boxes,
        IReadOnlyList<PixelAuroc>? pixels, int replicates, string reportDir)
    {
        var metrics = new List<Func<IReadOnlyList<int>, double>> { times => Bootstrap.ImageAuroc(times, scores, anomalous) };
        if (boxes is not null)
        {
            var matched = BoxAveragePrecision.Match(boxes, 0.3);
            metrics.Add(matched.Compute);
        }
        if (pixels is not null)
        {
            metrics.Add(times => Bootstrap.PixelAuroc(times, pixels));
        }
        var values = Bootstrap.Replicates(anomalous, replicates, EvaluationOptions.BootstrapSeed, metrics);
        double[]? ap = boxes is null ? null : values[1], pixel = pixels is null ? null : values[^1];
        var file = new BootstrapReplicates
        {
            Replicates = replicates,
            Seed = EvaluationOptions.BootstrapSeed,
            ImageAuroc = values[0],
            BoxApIou30 = ap,
            PixelAuroc = pixel,
        };
        File.WriteAllText(Path.Combine(reportDir, "bootstrap.json"), JsonSerializer.Serialize(file, ReportJson) + "\n");
        static double[]? Range(double[]? v)
        {
            if (v is null)
            {
                return null;
            }
            var interval = Bootstrap.PercentileInterval(v);
            return [interval.Low, interval.High];
        }
        return new BootstrapIntervals
        {
            Replicates = replicates,
            ImageAuroc = Range(values[0])!,
            BoxApIou30 = Range(ap),
            PixelAuroc = Range(pixel),
        };
    }
}
