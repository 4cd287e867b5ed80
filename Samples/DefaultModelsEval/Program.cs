// Measures the default models (DefaultModels.Proposer + FeatureExtractor) on a scene folder in MVTec layout with a
// boxes.json ({"<relative png>": [{"box": [x1,y1,x2,y2], "anomalous": bool}, ...]}, all items listed):
//   proposal recall (share of items covered at IoU >= 0.5 by the top-100 proposals after the pipeline's filter:
//   min side 25 px, NMS IoU 0.3), the mean best IoU, item separability (cosine 1-NN AUROC of anomalous vs normal
//   test items, train/good items as reference, true boxes as RoIs) and milliseconds per image.
// Usage: dotnet run -c Release --project Samples/DefaultModelsEval -- SCENE_ROOT [width height]
using System.Diagnostics;
using System.Text.Json;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Rkde.MLNet;
using SkiaSharp;

if (args.Length < 1)
{
    Console.Error.WriteLine("usage: DefaultModelsEval SCENE_ROOT [width height]");
    return 2;
}
string root = args[0];
int width = args.Length > 2 ? int.Parse(args[1]) : 360, height = args.Length > 2 ? int.Parse(args[2]) : 240;
var truth = JsonSerializer.Deserialize<Dictionary<string, Item[]>>(File.ReadAllText(Path.Combine(root, "boxes.json")),
    new JsonSerializerOptions { PropertyNameCaseInsensitive = true })!;

var build = Stopwatch.StartNew();
byte[] proposerBytes = DefaultModels.Proposer(width, height), featureBytes = DefaultModels.FeatureExtractor(width, height);
Console.WriteLine($"built graphs in {build.ElapsedMilliseconds} ms ({proposerBytes.Length / 1e6:F1} MB + {featureBytes.Length / 1e6:F1} MB), D = {DefaultModels.FeatureDimension}");
using var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL, IntraOpNumThreads = 2 };
using var proposer = new InferenceSession(proposerBytes, options);
using var extractor = new InferenceSession(featureBytes, options);

int covered = 0, objects = 0, images = 0;
double iouSum = 0, proposeMs = 0, featureMs = 0;
var reference = new List<float[]>();
var test = new List<(float[] Feature, bool Anomalous)>();
foreach (var (name, items) in truth.OrderBy(p => p.Key, StringComparer.Ordinal))
{
    var (tensor, sx, sy) = LoadImage(Path.Combine(root, name), width, height);
    var watch = Stopwatch.StartNew();
    using var proposed = proposer.Run([NamedOnnxValue.CreateFromTensor("image", tensor)]);
    proposeMs += watch.Elapsed.TotalMilliseconds;
    var boxes = proposed.First(v => v.Name == "boxes").AsTensor<float>().ToArray();
    var kept = Filter(boxes, 25, 0.3f, 100);
    images++;
    foreach (var item in items)
    {
        var gt = new[] { item.Box[0] * sx, item.Box[1] * sy, item.Box[2] * sx, item.Box[3] * sy };
        double best = kept.Select(k => Iou(boxes.AsSpan(4 * k, 4), gt)).DefaultIfEmpty(0).Max();
        iouSum += best;
        covered += best >= 0.5 ? 1 : 0;
        objects++;
    }
    // Features of the true item boxes, as the extractor would see proposals.
    var maps = proposed.Where(v => v.Name.StartsWith("resnet18_", StringComparison.Ordinal))
        .Select(v => NamedOnnxValue.CreateFromTensor(v.Name, v.AsTensor<float>())).ToList();
    if (items.Length > 0)
    {
        var gtBoxes = new DenseTensor<float>(items.SelectMany(i => new[] { i.Box[0] * sx, i.Box[1] * sy, i.Box[2] * sx, i.Box[3] * sy }).ToArray(), [1, items.Length, 4]);
        watch.Restart();
        using var features = extractor.Run([.. maps, NamedOnnxValue.CreateFromTensor("boxes", gtBoxes)]);
        featureMs += watch.Elapsed.TotalMilliseconds;
        var f = features.First().AsTensor<float>().ToArray();
        int d = f.Length / items.Length;
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
    var maps = proposed.Where(v => v.Name.StartsWith("resnet18_", StringComparison.Ordinal))
        .Select(v => NamedOnnxValue.CreateFromTensor(v.Name, v.AsTensor<float>())).ToList();
    var boxes = proposed.First(v => v.Name == "boxes").AsTensor<float>().ToArray();
    int n = Math.Min(100, boxes.Length / 4);
    var input = new DenseTensor<float>(boxes.AsSpan(0, 4 * n).ToArray(), [1, n, 4]);
    extractor.Run([.. maps, NamedOnnxValue.CreateFromTensor("boxes", input)]).Dispose();
    var watch = Stopwatch.StartNew();
    for (int r = 0; r < 10; r++)
        extractor.Run([.. maps, NamedOnnxValue.CreateFromTensor("boxes", input)]).Dispose();
    Console.WriteLine($"features for {n} boxes: {watch.Elapsed.TotalMilliseconds / 10:F1} ms");
}
var scored = test.Select(t => (Score: 1 - reference.Max(r => Dot(r, t.Feature)), t.Anomalous)).ToList();
Console.WriteLine($"images {images}: recall@100 (IoU>=0.5) {covered}/{objects} = {(double)covered / objects:F3}, mean best IoU {iouSum / objects:F3}");
Console.WriteLine($"item cosine 1-NN AUROC {Auroc(scored):F3} ({test.Count(t => t.Anomalous)} anomalous, {test.Count(t => !t.Anomalous)} normal test items, {reference.Count} reference)");
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

sealed record Item(float[] Box, bool Anomalous);
