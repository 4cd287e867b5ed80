using System.CommandLine;
using System.Globalization;
using System.Runtime.InteropServices;
using Rkde.Cli.Scoring;

namespace Rkde.Cli.Commands;

/// <summary>
/// <c>rkde score</c>: scores every image under a folder (<c>--images</c>), or each image as it lands in a folder
/// (<c>--watch</c>), and writes JSON Lines (and overlays).
/// </summary>
internal static class ScoreCommand
{
    public static Command Create(IRkdeEngine engine, TextWriter output, TextWriter error, CancellationToken stop = default)
    {
        var model = new Option<string>("--model") { Description = "A model saved by rkde fit.", Required = true };
        var images = new Option<string?>("--images") { Description = "Folder of images to score (recursive)." };
        var watch = new Option<string?>("--watch") { Description = "Folder to watch instead: each image that lands in it (or its sub-folders) is scored as soon as it is complete, its line written at once; Ctrl+C stops. Deliver files by writing them under a temporary name and renaming them for the lowest latency." };
        var outFile = new Option<string>("--out") { Description = "JSON Lines output: one {\"image\", \"score\", \"boxes\": [[x1,y1,x2,y2,score],…]} per image, boxes in original-image pixels, highest first. --watch appends to it.", Required = true };
        var overlays = new Option<string?>("--overlays") { Description = "Folder for overlay PNGs (boxes coloured by score), mirroring the image folder." };
        var threshold = new Option<float?>("--threshold") { Description = "Decision threshold for \"anomalous\" in each line and the boxes overlays show; default: the model's own (stored at fit for its false-positive rate, and moved by updates)." };
        var batch = new Option<int?>("--batch") { Description = "--images: score N images per call through the model's exported ONNX graph with ONNX Runtime (1: the single-image graph) instead of the ML.NET .zip." };
        var settle = new Option<int>("--settle-ms") { Description = "--watch: a file not renamed into place is complete once its size and time have not changed for this long.", DefaultValueFactory = _ => 200 };
        var maxImages = new Option<int?>("--max-images") { Description = "--watch: stop after scoring this many images." };
        var learnBelow = new Option<float?>("--learn-below") { Description = "--watch: add images scoring below this to the model (off by default). An anomaly that scores below it is learned as normal: keep it well below --threshold." };
        var learnEvery = new Option<int>("--learn-every") { Description = "--learn-below: every this many scored images, add those among them that scored below the value.", DefaultValueFactory = _ => 50 };
        var learnMode = new Option<string>("--learn-mode") { Description = "--learn-below: reservoir (the past keeps its weight) or window (the newest regions).", DefaultValueFactory = _ => "reservoir" };
        learnMode.AcceptOnlyFromAmong("reservoir", "window");
        var learned = new Option<string?>("--learned-model") { Description = "--learn-below: where the learned model is saved (replaced atomically); default: --model itself." };
        var command = new Command("score", "Score images with a fitted model: image score and anomalous boxes per image.")
        {
            model, images, watch, outFile, overlays, threshold, batch, settle, maxImages, learnBelow, learnEvery, learnMode, learned,
        };
        command.SetAction(parse => RkdeCli.Guard(error, () =>
        {
            string modelPath = parse.GetValue(model)!, outPath = parse.GetValue(outFile)!;
            string? folder = parse.GetValue(images), watched = parse.GetValue(watch);
            int? perCall = parse.GetValue(batch);
            if (!File.Exists(modelPath))
            {
                throw new CliException($"--model '{modelPath}' does not exist; create one with rkde fit.");
            }
            if ((folder is null) == (watched is null))
            {
                throw new CliException("give either --images DIR (score a folder) or --watch DIR (score images as they land).");
            }
            if (perCall is < 1)
            {
                throw new CliException($"--batch must be at least 1 (got {perCall}).");
            }
            var results = new Results(parse.GetValue(overlays), parse.GetValue(threshold));
            if (watched is null)
            {
                if (parse.GetValue(learnBelow) is not null)
                {
                    throw new CliException("--learn-below learns from images as they land: use it with --watch (or add a folder of normal images with rkde update).");
                }
                return ScoreFolder(engine, modelPath, folder!, perCall, outPath, results, output, error);
            }
            if (perCall is not null)
            {
                throw new CliException("--batch scores a folder (--images); --watch scores each image as it lands.");
            }
            var learner = Learner(parse, engine, modelPath, learnBelow, learnEvery, learnMode, learned, error);
            int settleMs = parse.GetValue(settle);
            int? max = parse.GetValue(maxImages);
            if (settleMs < 0 || max < 1)
            {
                throw new CliException("--settle-ms must be at least 0 and --max-images at least 1.");
            }
            return Watch(engine, modelPath, watched, outPath, TimeSpan.FromMilliseconds(settleMs), max, learner, results, output, error, stop);
        }));
        return command;
    }

    /// <summary>What every line leads to: the output line, the counts, the overlay.</summary>
    /// <param name="overlayDir">Where overlays go (null: none).</param>
    /// <param name="chosen">The --threshold given, which overrides the model's own.</param>
    private sealed class Results(string? overlayDir, float? chosen)
    {
        private readonly float? _chosen = chosen;
        private float? _threshold = chosen;
        private string _whose = $"threshold {chosen}";

        public int Failed { get; private set; }

        public int Flagged { get; private set; }

        public int Count { get; private set; }

        /// <summary>Takes the threshold of the model <paramref name="scorer"/> scores with, unless --threshold overrides it.</summary>
        public void Use(IImageScorer scorer)
        {
            if (_chosen is not null)
            {
                return;
            }
            _threshold = scorer.Threshold;
            _whose = $"the model's threshold {_threshold} (chosen for a false-positive rate of {scorer.FalsePositiveRate:0.###%})";
        }

        public void Write(TextWriter writer, string file, ResultLine line)
        {
            writer.WriteLine(line.ToJson(_threshold));
            Count++;
            if (line.Result is null)
            {
                Failed++;
                return;
            }
            if (_threshold is float t && line.Result.IsAnomalyAt(t))
            {
                Flagged++;
            }
            if (overlayDir is not null)
            {
                Overlay.Write(file, line.Result, Path.Combine(overlayDir, Path.ChangeExtension(line.Image, ".png")), _threshold);
            }
        }

        public string Verdict => _threshold is null ? "" : $", {Flagged} at or above {_whose}";
    }

    private static int ScoreFolder(IRkdeEngine engine, string modelPath, string folder, int? perCall, string outPath, Results results, TextWriter output, TextWriter error)
    {
        var files = ImageFiles.Find(folder, "--images");
        using var scorer = perCall is int n ? engine.LoadExported(modelPath, n) : engine.Load(modelPath);
        results.Use(scorer);
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(outPath))!);
        using var writer = new StreamWriter(outPath);
        using var bar = new ProgressBar(error, "score", files.Count);
        var (lines, elapsed) = ScoreRunner.Run(scorer, folder, files, bar, (file, line) => results.Write(writer, file, line));
        bar.Dispose();
        output.WriteLine($"Scored {lines.Count - results.Failed} of {lines.Count} images in {elapsed.TotalSeconds:F1} s ({lines.Count / Math.Max(elapsed.TotalSeconds, 1e-9):F1} images/s){results.Verdict}; results in {outPath}.");
        ReportFailures(results, outPath, error);
        return 0;
    }

    /// <summary>Scores each image landing in <paramref name="watched"/> until Ctrl+C, SIGTERM, <paramref name="stop"/> or the image limit.</summary>
    private static int Watch(IRkdeEngine engine, string modelPath, string watched, string outPath, TimeSpan settle, int? max,
        NormalLearner? learner, Results results, TextWriter output, TextWriter error, CancellationToken stop)
    {
        using var folder = new DropFolder(watched, settle);
        using var stopping = CancellationTokenSource.CreateLinkedTokenSource(stop);
        ConsoleCancelEventHandler onCancel = (_, e) =>
        {
            e.Cancel = true;
            stopping.Cancel();
        };
        Console.CancelKeyPress += onCancel;
        using var terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c =>
        {
            c.Cancel = true;
            stopping.Cancel();
        });
        var scorer = engine.Load(modelPath);
        results.Use(scorer);
        try
        {
            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(outPath))!);
            // Appended, each line flushed as it is written; readable by others meanwhile (tail -f).
            using var writer = new StreamWriter(new FileStream(outPath, FileMode.Append, FileAccess.Write, FileShare.ReadWrite)) { AutoFlush = true };
            error.WriteLine($"Watching {folder.Folder} for images; lines go to {outPath} (Ctrl+C stops) …");
            while ((max is null || results.Count < max) && folder.Next(stopping.Token) is var (file, check))
            {
                var line = ScoreRunner.ScoreOne(scorer, folder.Folder, file, check);
                results.Write(writer, file, line);
                if (learner?.Offer(file, line) == true)
                {
                    scorer.Dispose();
                    scorer = engine.Load(learner.ModelPath);
                    results.Use(scorer);
                }
            }
            learner?.Learn();
        }
        finally
        {
            Console.CancelKeyPress -= onCancel;
            scorer.Dispose();
        }
        string learnt = learner is null ? "" : string.Create(CultureInfo.InvariantCulture, $"; {learner.Learned} images learned into {learner.ModelPath}");
        output.WriteLine($"Scored {results.Count - results.Failed} of {results.Count} images that landed in {watched}{results.Verdict}{learnt}; results in {outPath}.");
        ReportFailures(results, outPath, error);
        return 0;
    }

    private static NormalLearner? Learner(ParseResult parse, IRkdeEngine engine, string modelPath, Option<float?> below, Option<int> every,
        Option<string> mode, Option<string?> learned, TextWriter error)
    {
        if (parse.GetValue(below) is not float t)
        {
            return null;
        }
        int n = parse.GetValue(every);
        if (!(t > 0 && t <= 1) || n < 1)
        {
            throw new CliException($"--learn-below must be in (0, 1] (got {t}) and --learn-every at least 1 (got {n}).");
        }
        return new NormalLearner(engine, modelPath, parse.GetValue(learned) ?? modelPath, t, n, UpdateCommand.ParseMode(parse.GetValue(mode)!), error);
    }

    private static void ReportFailures(Results results, string outPath, TextWriter error)
    {
        if (results.Failed > 0)
        {
            error.WriteLine($"rkde: {results.Failed} image(s) could not be scored; their lines in {outPath} carry \"error\".");
        }
    }
}
