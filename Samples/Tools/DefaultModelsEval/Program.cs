// Measures the default models (DefaultModels.Proposer + FeatureExtractor) on a scene folder in MVTec layout with a
// boxes.json listing every item (FashionScenes' {"images": [{"image": "<relative path>", "objects": [{"box": [x1,y1,x2,y2],
// "anomalous": bool}, ...]}, ...]} as `rkde make-scenes` writes it, or a plain {"<relative path>": [objects]} map):
//   proposal recall (share of items covered at IoU >= 0.5 by the proposer's own top-100 boxes, and by the at most 100
//   boxes left by the pipeline's default filter: min side 25 px, NMS IoU 0.3), the mean best IoU (after the filter),
//   item separability (cosine 1-NN AUROC of anomalous vs normal test items, train/good items as reference, true boxes
//   as RoIs; and the KDE density stage fitted on them) and milliseconds per image.
// Usage: dotnet run -c Release --project Samples/Tools/DefaultModelsEval -- SCENE_ROOT [width height] [--int8]
// (--int8: the proposer's backbone in INT8, DefaultModels.QuantizedProposer calibrated on the first 8 train/ images.)
// (RKDE_PROFILE=/tmp/prefix also profiles the proposer with ORT and splits its time: backbone vs objectness head.)
using System.Diagnostics;
using System.Text.Json;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Rkde.MLNet;
using Rkde.MLNet.DefaultModel;
using Rkde.MLNet.Density;
using SkiaSharp;

bool int8 = args.Contains("--int8");
args = args.Where(a => a != "--int8").ToArray();
if (args.Length < 1)
{
    Console.Error.WriteLine("usage: DefaultModelsEval SCENE_ROOT [width height]");
    return 2;
}
string root = args[0];
int width = args.Length > 2 ? int.Parse(args[1]) : 360, height = args.Length > 2 ? int.Parse(args[2]) : 240;
var truth = ReadTruth(Path.Combine(root, "boxes.json"));

var build = Stopwatch.StartNew();
byte[] proposerBytes = int8
    ? DefaultModels.QuantizedProposer(width, height, truth.Keys.Where(k => k.StartsWith("train/", StringComparison.Ordinal)).Order(StringComparer.Ordinal)
        .Take(8).Select(k => LoadImage(Path.Combine(root, k), width, height).Tensor.ToArray()).ToList())
    : DefaultModels.Proposer(width, height);
byte[] featureBytes = DefaultModels.FeatureExtractor(width, height);
Console.WriteLine($"built graphs in {build.ElapsedMilliseconds} ms ({proposerBytes.Length / 1e6:F1} MB + {featureBytes.Length / 1e6:F1} MB), D = {DefaultModels.FeatureDimension}");
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
var test = new List<(float[] Feature, bool Anomalous)>();
foreach (var (name, items) in truth.OrderBy(p => p.Key, StringComparer.Ordinal))
{
    var (tensor, sx, sy) = LoadImage(Path.Combine(root, name), width, height);
    var watch = Stopwatch.StartNew();
    using var proposed = proposer.Run([NamedOnnxValue.CreateFromTensor("image", tensor)]);
    proposeMs += watch.Elapsed.TotalMilliseconds;
    var boxes = proposed.First(v => v.Name == "boxes").AsTensor<float>().ToArray();
    var kept = Filter(boxes, 25, 0.3f, 100);
    int topCount = Math.Min(100, boxes.Length / 4);
    images++;
    foreach (var item in items)
    {
        var gt = new[] { item.Box[0] * sx, item.Box[1] * sy, item.Box[2] * sx, item.Box[3] * sy };
        double best = kept.Select(k => Iou(boxes.AsSpan(4 * k, 4), gt)).DefaultIfEmpty(0).Max();
        iouSum += best;
        covered += best >= 0.5 ? 1 : 0;
        coveredRaw += Enumerable.Range(0, topCount).Any(k => Iou(boxes.AsSpan(4 * k, 4), gt) >= 0.5) ? 1 : 0;
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
        for (int i = 0; i < items.Length; i++)
        {
            var row = f.AsSpan(i * d, d).ToArray();
            if (name.StartsWith("train/", StringComparison.Ordinal)) reference.Add(row);
            else test.Add((row, items[i].Anomalous));
        }
    }
}
// Timing of the feature stage on the usual 100 boxes.
{
    var (tensor, _, _) = LoadImage(Path.Combine(root, truth.Keys.First()), width, height);
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
    File.WriteAllText(dumpPrefix + ".json", JsonSerializer.Serialize(new { dimension = DefaultModels.FeatureDimension, images = dumpIndex }));
var scored = test.Select(t => (Score: 1 - reference.Max(r => Dot(r, t.Feature)), t.Anomalous)).ToList();
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
    kde.Add($"{scaling} {Auroc(test.Select((t, i) => (Score: scores[i], t.Anomalous)).ToList()):F3}");
}
Console.WriteLine($"images {images}, items {objects}: recall (IoU>=0.5) of the proposer's top 100 {(double)coveredRaw / objects:F3}; " +
    $"after the default filter (min side 25, NMS 0.3, 100) {(double)covered / objects:F3}, mean best IoU {iouSum / objects:F3}");
Console.WriteLine($"item AUROC (true boxes): cosine 1-NN {Auroc(scored):F3}, KDE 16 components {string.Join(", ", kde)} ({test.Count(t => t.Anomalous)} anomalous, {test.Count(t => !t.Anomalous)} normal test items, {reference.Count} reference)");
Console.WriteLine($"ms/image: proposer (backbone + objectness) {proposeMs / images:F1}, features (true boxes) {featureMs / images:F1}");
return 0;

static (DenseTensor<float> Tensor, float Sx, float Sy) LoadImage(string path, int width, int height)
{
    using var original = SKBitmap.Decode(path) ?? throw new InvalidDataException($"cannot decode {path}");
    using var bitmap = original.Width == width && original.Height == height ? original.Copy() : original.Resize(new SKImageInfo(width, height), new SKSamplingOptions(SKFilterMode.Linear));
    var tensor = new DenseTensor<float>([1, 3, height, width]);
    for (int y = 0; y < height; y++)
        for (int x = 0; x < width; x++)
        {
            var c = bitmap.GetPixel(x, y);
            tensor[0, 0, y, x] = c.Red / 255f;
            tensor[0, 1, y, x] = c.Green / 255f;
            tensor[0, 2, y, x] = c.Blue / 255f;
        }
    return (tensor, width / (float)original.Width, height / (float)original.Height);
}

static List<int> Filter(float[] boxes, float minSize, float iou, int max)
{
    var kept = new List<int>();
    for (int i = 0; i < boxes.Length / 4 && kept.Count < max; i++)
    {
        if (boxes[4 * i + 2] - boxes[4 * i] < minSize || boxes[4 * i + 3] - boxes[4 * i + 1] < minSize) continue;
        if (kept.All(k => Iou(boxes.AsSpan(4 * k, 4), boxes.AsSpan(4 * i, 4)) <= iou)) kept.Add(i);
    }
    return kept;
}

static double Iou(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
{
    double w = Math.Max(0, Math.Min(a[2], b[2]) - Math.Max(a[0], b[0])), h = Math.Max(0, Math.Min(a[3], b[3]) - Math.Max(a[1], b[1]));
    double inter = w * h, union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter;
    return union > 0 ? inter / union : 0;
}

static float Dot(float[] a, float[] b)
{
    float s = 0;
    for (int i = 0; i < a.Length; i++) s += a[i] * b[i];
    return s;
}

static double Auroc(List<(float Score, bool Positive)> scored)
{
    int pos = scored.Count(s => s.Positive), neg = scored.Count - pos;
    if (pos == 0 || neg == 0) return double.NaN;
    double wins = 0;
    foreach (var p in scored.Where(s => s.Positive))
        foreach (var n in scored.Where(s => !s.Positive))
            wins += p.Score > n.Score ? 1 : p.Score == n.Score ? 0.5 : 0;
    return wins / ((double)pos * neg);
}

static Dictionary<string, Item[]> ReadTruth(string path)
{
    var json = new JsonSerializerOptions { PropertyNameCaseInsensitive = true };
    using var document = JsonDocument.Parse(File.ReadAllText(path));
    if (document.RootElement.TryGetProperty("images", out var images))
        return images.EnumerateArray().ToDictionary(i => i.GetProperty("image").GetString()!, i => i.GetProperty("objects").Deserialize<Item[]>(json)!);
    return document.RootElement.Deserialize<Dictionary<string, Item[]>>(json)!;
}

sealed record Item(float[] Box, bool Anomalous);

sealed class FeatureRow
{
    public float[] Features { get; set; } = [];
}
