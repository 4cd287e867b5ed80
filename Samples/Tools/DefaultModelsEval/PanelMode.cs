using System.Text.Json;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Rkde.Cli.Evaluate.Metrics;
using Rkde.MLNet.DefaultModel;
using Rkde.MLNet.NanoDet;

/// <summary>
/// <c>DefaultModelsEval panel SCENE_ROOT --out DIR [--nanodet] [--levers [--variants A,B] [--heads A,B]] [--replicates N]</c>, for
/// scripts/quality-panel.sh. Without --levers: the true-box ceiling of the built-in models — each test image scored by its most
/// unusual item (cosine 1-NN of the items' true boxes against the train/good items' true boxes, features of
/// <see cref="DefaultModels.FeatureExtractor"/>, or with --nanodet of <see cref="NanoDetModels.FeatureExtractor"/> on NanoDet's
/// backbone maps) — as DIR/ceiling/report.json and bootstrap.json, in the schema of <c>rkde evaluate --bootstrap</c>. With
/// --levers: the experiments of <see cref="LeverLab"/> (ResNet18 only) as well.
/// Bootstraps use evaluate's seed and test-image order (ordinal paths), so replicate i of every run draws the same images:
/// differences between runs on one set can be bootstrapped pairwise.
/// </summary>
static class PanelMode
{
    public const int Width = 360, Height = 240;
    public const int BootstrapSeed = 0;

    public static int Run(string[] args)
    {
        string? Value(string name) => Array.IndexOf(args, name) is int at and >= 0 && at + 1 < args.Length ? args[at + 1] : null;
        string? root = args.Length > 0 && !args[0].StartsWith("--", StringComparison.Ordinal) ? args[0] : null;
        int outAt = Array.IndexOf(args, "--out"), repAt = Array.IndexOf(args, "--replicates");
        if (root is null || outAt < 0 || outAt + 1 >= args.Length)
        {
            Console.Error.WriteLine("usage: DefaultModelsEval panel SCENE_ROOT --out DIR [--nanodet] [--levers [--variants A,B] [--heads A,B]] [--replicates N]");
            return 2;
        }
        string output = args[outAt + 1];
        int replicates = repAt >= 0 ? int.Parse(args[repAt + 1]) : 1000;
        var set = SceneSet.Load(root);
        bool nanoDet = args.Contains("--nanodet");
        if (args.Contains("--levers") && nanoDet)
        {
            Console.Error.WriteLine("DefaultModelsEval panel: the lever lab varies the ResNet18 default; --nanodet computes a ceiling only.");
            return 2;
        }
        if (args.Contains("--levers"))
            LeverLab.Run(set, output, replicates, Value("--variants")?.Split(','), Value("--heads")?.Split(','));
        else
            WriteCeiling(set, Path.Combine(output, "ceiling"), replicates, nanoDet);
        return 0;
    }

    private static void WriteCeiling(SceneSet set, string folder, int replicates, bool nanoDet)
    {
        // Idle intra-op pools that spin take the cores from the busy session (several sessions run one after another).
        using var options = Rkde.MLNet.OnnxThreading.NonSpinning();
        // NanoDet from RKDE_NANODET_PACKAGE or the model cache, else a download (as RkdeOptions.BuiltInModel = NanoDet).
        using var proposer = new InferenceSession(nanoDet ? NanoDetModels.Proposer(Width, Height) : DefaultModels.Proposer(Width, Height), options);
        using var extractor = new InferenceSession(nanoDet ? NanoDetModels.FeatureExtractor(Width, Height) : DefaultModels.FeatureExtractor(Width, Height), options);
        int dimension = nanoDet ? NanoDetModels.FeatureDimension : DefaultModels.FeatureDimension;
        var features = new List<(string Image, SceneItem[] Items, float[] Features)>();
        foreach (var (image, items) in set.Images)
        {
            if (items.Length == 0)
                continue;
            var (tensor, sx, sy, _, _) = set.LoadImage(image, Width, Height);
            using var proposed = proposer.Run([NamedOnnxValue.CreateFromTensor("image", tensor)]);
            var maps = proposed.Where(v => extractor.InputMetadata.ContainsKey(v.Name))
                .Select(v => NamedOnnxValue.CreateFromTensor(v.Name, v.AsTensor<float>())).ToList();
            var boxes = new DenseTensor<float>(items.SelectMany(i => new[] { i.Box[0] * sx, i.Box[1] * sy, i.Box[2] * sx, i.Box[3] * sy }).ToArray(), [1, items.Length, 4]);
            using var result = extractor.Run([.. maps, NamedOnnxValue.CreateFromTensor("boxes", boxes)]);
            features.Add((image, items, result.First().AsTensor<float>().ToArray()));
        }
        var ceiling = TrueBoxSeparability(features.Select(f => (f.Image, f.Items, f.Features)).ToList(), dimension);
        WriteRun(folder, ceiling.ImageScores, ceiling.ImageLabels, null, replicates, new Dictionary<string, object> { ["itemAuroc"] = ceiling.ItemAuroc });
        Console.WriteLine($"{set.Root}: true-box ceiling image AUROC {AnomalyMetrics.Auroc(ceiling.ImageScores, ceiling.ImageLabels):F3}, item AUROC {ceiling.ItemAuroc:F3}");
    }

    /// <summary>
    /// Cosine 1-NN of unit-length true-box features against the train/good items': per test image (in order) its most unusual
    /// item's distance, its label, and the item-level AUROC.
    /// </summary>
    public static (float[] ImageScores, bool[] ImageLabels, double ItemAuroc) TrueBoxSeparability(
        IReadOnlyList<(string Image, SceneItem[] Items, float[] Features)> images, int dimension)
    {
        var reference = images.Where(i => SceneSet.IsTrain(i.Image)).SelectMany(i => Rows(i.Features, dimension)).ToList();
        var test = images.Where(i => !SceneSet.IsTrain(i.Image)).ToList();
        var itemScores = new List<float>();
        var itemLabels = new List<bool>();
        var imageScores = new float[test.Count];
        for (int t = 0; t < test.Count; t++)
        {
            var rows = Rows(test[t].Features, dimension).ToList();
            for (int i = 0; i < rows.Count; i++)
            {
                var row = rows[i];
                float score = 1 - reference.Max(r => System.Numerics.Tensors.TensorPrimitives.Dot(r, row));
                itemScores.Add(score);
                itemLabels.Add(test[t].Items[i].Anomalous);
                imageScores[t] = Math.Max(imageScores[t], score);
            }
        }
        return (imageScores, test.Select(t => SceneSet.IsAnomalous(t.Image)).ToArray(), AnomalyMetrics.Auroc(itemScores.ToArray(), itemLabels.ToArray()));
    }

    private static IEnumerable<float[]> Rows(float[] flat, int dimension)
    {
        for (int i = 0; i < flat.Length / dimension; i++)
            yield return flat.AsSpan(i * dimension, dimension).ToArray();
    }

    /// <summary>Per test image, what the box metrics need: detections and anomalous boxes (original pixels), and its pixel counts.</summary>
    public sealed record ScoredBoxes(IReadOnlyList<ImageBoxes> Boxes, IReadOnlyList<PixelAuroc> Pixels);

    /// <summary>
    /// Writes report.json (estimates and 95 % intervals) and bootstrap.json (every replicate) in the schema of
    /// <c>rkde evaluate --bootstrap</c>: image AUROC always, box AP@0.3 and pixel AUROC with <paramref name="boxes"/>.
    /// </summary>
    public static void WriteRun(string folder, float[] scores, bool[] labels, ScoredBoxes? boxes, int replicates, Dictionary<string, object>? extra = null)
    {
        Directory.CreateDirectory(folder);
        var metrics = new List<Func<IReadOnlyList<int>, double>> { times => Bootstrap.ImageAuroc(times, scores, labels) };
        MatchedDetections? matched = null;
        if (boxes is not null)
        {
            matched = BoxAveragePrecision.Match(boxes.Boxes, 0.3);
            metrics.Add(matched.Compute);
            metrics.Add(times => Bootstrap.PixelAuroc(times, boxes.Pixels));
        }
        var values = Bootstrap.Replicates(labels, replicates, BootstrapSeed, metrics);
        static double[] Range(double[] v)
        {
            var interval = Bootstrap.PercentileInterval(v);
            return [interval.Low, interval.High];
        }
        var report = new Dictionary<string, object?>
        {
            ["imageAuroc"] = AnomalyMetrics.Auroc(scores, labels),
            ["boxApIou30"] = matched?.Compute(),
            ["pixelAuroc"] = boxes is null ? null : Bootstrap.PixelAuroc(Enumerable.Repeat(1, labels.Length).ToArray(), boxes.Pixels),
            ["intervals"] = new Dictionary<string, object?>
            {
                ["replicates"] = replicates,
                ["imageAuroc"] = Range(values[0]),
                ["boxApIou30"] = boxes is null ? null : Range(values[1]),
                ["pixelAuroc"] = boxes is null ? null : Range(values[2]),
            },
        };
        foreach (var (key, value) in extra ?? [])
            report[key] = value;
        var json = new JsonSerializerOptions { WriteIndented = true };
        File.WriteAllText(Path.Combine(folder, "report.json"), JsonSerializer.Serialize(report, json) + "\n");
        var all = new Dictionary<string, object?>
        {
            ["replicates"] = replicates,
            ["seed"] = BootstrapSeed,
            ["imageAuroc"] = values[0],
            ["boxApIou30"] = boxes is null ? null : values[1],
            ["pixelAuroc"] = boxes is null ? null : values[2],
        };
        File.WriteAllText(Path.Combine(folder, "bootstrap.json"), JsonSerializer.Serialize(all) + "\n");
    }
}
