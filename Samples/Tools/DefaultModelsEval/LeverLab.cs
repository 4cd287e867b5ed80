using System.Diagnostics;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Rkde.Cli.Evaluate.Metrics;
using Rkde.MLNet.DefaultModel;
using Rkde.MLNet.Density;
using Rkde.MLNet.Onnx;
using DataType = Onnx.TensorProto.Types.DataType;

/// <summary>
/// The levers of the embedded ResNet18 default, measured on one scene set with one backbone pass per image (issue 15's
/// list). The backbone and the objectness head are the shipped ones (trunk grafted through layer4 as well, which leaves
/// layer2/layer3 and the boxes unchanged); the density stage is the product's <see cref="KdeDensityModel"/>, image scores
/// are the highest box probability, as in the pipeline. Writes, under DIR:
/// <list type="bullet">
/// <item>separability/&lt;head&gt;/: the true-box image AUROC (cosine 1-NN, as the ceiling) and item AUROC of each feature head;</item>
/// <item>levers/&lt;variant&gt;/: image AUROC, box AP@0.3 and pixel AUROC over the proposals, for each variant of the default.</item>
/// </list>
/// </summary>
static class LeverLab
{
    private const int W = PanelMode.Width, H = PanelMode.Height;

    /// <summary>A feature head: RoIAlign parts over layer2/3/4 (grid, samples per cell side), optionally weighted by saliency^Gamma.</summary>
    private sealed record Head(string Name, params (int Layer, int Grid, int Sampling, int Gamma)[] Parts)
    {
        public int Dimension => Parts.Sum(p => Channels(p.Layer) * p.Grid * p.Grid);
    }

    private static readonly Head[] Heads =
    [
        new("l3x2", (3, 2, 4, 0)),
        new("l3x1", (3, 1, 8, 0)),
        new("l3x3", (3, 3, 3, 0)),
        new("l2x2+l3x2", (2, 2, 4, 0), (3, 2, 4, 0)),
        new("l3x2+l4x1", (3, 2, 4, 0), (4, 1, 4, 0)),
        new("l2x2+l3x2+l4x1", (2, 2, 4, 0), (3, 2, 4, 0), (4, 1, 4, 0)),
        new("l4x2", (4, 2, 2, 0)),
        new("l3x2fw", (3, 2, 4, 1)),
        new("l3x2fw2", (3, 2, 4, 2)),
    ];

    private static int Channels(int layer) => layer switch { 2 => 128, 3 => 256, _ => 512 };
    private static int Stride(int layer) => layer switch { 2 => 8, 3 => 16, _ => 32 };

    /// <summary>NMS IoU meaning "no suppression": every proposal with sides of at least 25 px.</summary>
    private const float NoNms = 2;

    /// <summary>
    /// One way of running R-KDE on the proposals: the NMS IoU of the training and the test images' boxes (<see cref="NoNms"/>:
    /// all), at most <paramref name="Cap"/> boxes per image, the component count (0: cosine 1-NN instead of the density, in the
    /// full feature space, score (1 − cosine) / 2), the feature head, and whether the training regions get partial and
    /// jittered crops of the training boxes, and whether the KDE's kernel is isotropic (<see cref="KdeBandwidth.Isotropic"/>;
    /// otherwise anomalib's covariance kernel). Diagnostics: "oracle" scores only the test boxes that cover an item (IoU ≥ 0.5),
    /// what junk boxes cost; "truth" scores the items' true boxes, what the proposals' geometry costs; "refine" refines
    /// every box to the saliency's extent.
    /// </summary>
    private sealed record Variant(string Name, float TrainNms = 0.3f, float TestNms = 0.3f, int Cap = 100, int Components = 64,
        string Head = "l3x2", bool Crops = false, string? Diagnostic = null, bool Isotropic = false, int Geometry = 0)
    {
        public RkdeDensityOptions DensityOptions => new() { PcaComponents = Components, Bandwidth = Isotropic ? KdeBandwidth.Isotropic : KdeBandwidth.Covariance };
    }

    /// <summary>
    /// The default since the second change of December 2026: every training proposal, layer2 + layer3, 128 components,
    /// the isotropic kernel; <c>-geomM</c> scores each box by how unusual its log-density is among the M training boxes of
    /// the nearest size (out-of-fold log-densities of the training images' scored boxes: z = (μ − ld) / σ).
    /// </summary>
    private static readonly Variant Now = new("now", TrainNms: NoNms, Cap: 300, Components: 128, Head: "l2x2+l3x2", Isotropic: true);

    private static readonly Variant[] Variants =
    [
        new("default"),
        Now,
        Now with { Name = "now-geom50", Geometry = 50 },
        Now with { Name = "now-geom200", Geometry = 200 },
        Now with { Name = "now-nms0.5", TestNms = 0.5f },
        new("oracle", Diagnostic: "oracle"),
        new("truth-scored", Diagnostic: "truth"),
        new("nn", Components: 0),
        new("train-all-nn", TrainNms: NoNms, Cap: 300, Components: 0),
        new("train-all-iso", TrainNms: NoNms, Cap: 300, Isotropic: true),
        new("train-all-iso-pca128", TrainNms: NoNms, Cap: 300, Components: 128, Isotropic: true),
        new("train-all-iso-pca32", TrainNms: NoNms, Cap: 300, Components: 32, Isotropic: true),
        new("train-all-iso-l2l3", TrainNms: NoNms, Cap: 300, Head: "l2x2+l3x2", Isotropic: true),
        new("train-all-iso-l3x3", TrainNms: NoNms, Cap: 300, Head: "l3x3", Isotropic: true),
        new("truth-scored-nn", Components: 0, Diagnostic: "truth"),
        new("anomalib", Components: 16),
        new("pca32", Components: 32),
        new("pca128", Components: 128),
        new("boxes10", Cap: 10),
        new("boxes20", Cap: 20),
        new("boxes50", Cap: 50),
        new("coverage", Crops: true),
        new("train-all", TrainNms: NoNms, Cap: 300),
        new("train-all-coverage", TrainNms: NoNms, Cap: 300, Crops: true),
        new("train-all-pca32", TrainNms: NoNms, Cap: 300, Components: 32),
        new("train-nms0.5", TrainNms: 0.5f),
        new("train-nms0.7", TrainNms: 0.7f),
        new("nms0.5", TrainNms: 0.5f, TestNms: 0.5f),
        new("nms0.7", TrainNms: 0.7f, TestNms: 0.7f),
        new("train-all-nms0.5", TrainNms: NoNms, TestNms: 0.5f, Cap: 300),
        new("train-all-nms0.5-pca128", TrainNms: NoNms, TestNms: 0.5f, Cap: 300, Components: 128),
        new("train-all-nms0.5-coverage", TrainNms: NoNms, TestNms: 0.5f, Cap: 300, Crops: true),
        new("train-all-nms0.5-l3x3", TrainNms: NoNms, TestNms: 0.5f, Cap: 300, Head: "l3x3"),
        new("train-all-l2l3", TrainNms: NoNms, Cap: 300, Head: "l2x2+l3x2"),
        new("train-all-nms0.5-l2l3", TrainNms: NoNms, TestNms: 0.5f, Cap: 300, Head: "l2x2+l3x2"),
        new("nms0.5-pca128", TrainNms: 0.5f, TestNms: 0.5f, Components: 128),
        new("refine", Diagnostic: "refine"),
        new("fw", Head: "l3x2fw"),
        new("l2l3", Head: "l2x2+l3x2"),
        new("l3x3", Head: "l3x3"),
    ];

    private sealed class ImageData
    {
        public required string Image { get; init; }
        public required SceneItem[] Items { get; init; }
        public int OriginalWidth, OriginalHeight;
        public float Sx, Sy;
        /// <summary>Every proposal with sides of at least 25 px (up to 300), rank order (model pixels), and their features per head.</summary>
        public float[] All = [];
        public Dictionary<string, float[]> AllFeatures = [];
        /// <summary>Indices into <see cref="All"/> that NMS at IoU 0.3, 0.5 and 0.7 keeps (at most 100), rank order.</summary>
        public Dictionary<float, int[]> Nms = [];
        /// <summary>The default filter's boxes refined to the saliency's extent, re-filtered, and their default features.</summary>
        public float[] Refined = [];
        public float[] RefinedFeatures = [];
        /// <summary>Training images: features per head of partial and jittered crops of the default filter's boxes.</summary>
        public Dictionary<string, float[]> CropFeatures = [];
        public Dictionary<string, float[]> TrueFeatures = [];
        public byte[]? Mask;

        public float[] TrueBoxes => Items.SelectMany(i => new[] { i.Box[0] * Sx, i.Box[1] * Sy, i.Box[2] * Sx, i.Box[3] * Sy }).ToArray();

        public int[] Indices(float nms) => nms > 1 ? Enumerable.Range(0, All.Length / 4).ToArray() : Nms[nms];

        /// <summary>Boxes and <paramref name="head"/>'s features of <see cref="All"/> at <paramref name="indices"/>.</summary>
        public (float[] Boxes, float[] Features) Subset(IEnumerable<int> indices, string head, int dim)
        {
            var list = indices.ToList();
            return (Boxes.Select(All, list), list.SelectMany(k => AllFeatures[head].AsSpan(k * dim, dim).ToArray()).ToArray());
        }
    }

    /// <summary>Runs the lab; <paramref name="variantNames"/> and <paramref name="headNames"/> (null: all) choose the proposal variants and the separability heads.</summary>
    public static void Run(SceneSet set, string output, int replicates, IReadOnlyCollection<string>? variantNames = null, IReadOnlyCollection<string>? headNames = null)
    {
        var clock = Stopwatch.StartNew();
        var variants = Variants.Where(v => variantNames is null || variantNames.Contains(v.Name)).ToList();
        var trueHeads = Heads.Where(h => headNames is null || headNames.Contains(h.Name) || h.Name == "l3x2").ToList();
        var proposalHeads = variants.Select(v => v.Head).Append("l3x2").Distinct().ToList();
        var cropHeads = variants.Where(v => v.Crops).Select(v => v.Head).Distinct().ToList();
        var byName = Heads.ToDictionary(h => h.Name);
        // Idle intra-op pools that spin take the cores from the busy session (several sessions run one after another).
        using var options = Rkde.MLNet.OnnxThreading.NonSpinning();
        using var proposer = new InferenceSession(BuildProposer(), options);
        var heads = trueHeads.Select(h => h.Name).Union(proposalHeads).ToDictionary(h => h, h => new InferenceSession(BuildHead(byName[h]), options));
        var data = new List<ImageData>();
        foreach (var (image, items) in set.Images)
        {
            var (tensor, sx, sy, ow, oh) = set.LoadImage(image, W, H);
            var d = new ImageData { Image = image, Items = items, Sx = sx, Sy = sy, OriginalWidth = ow, OriginalHeight = oh };
            using var proposed = proposer.Run([NamedOnnxValue.CreateFromTensor("image", tensor)]);
            var outputs = proposed.ToDictionary(v => v.Name, v => v.AsTensor<float>().ToDenseTensor());
            var boxes = outputs["boxes"].ToArray();
            var scores = outputs["scores"].ToArray();
            var saliency = outputs["saliency"];
            var inputs = MapInputs(outputs, saliency);
            d.All = Boxes.Select(boxes, Boxes.Filter(boxes, scores, 25, 1.01f, 300));
            foreach (var head in proposalHeads)
                d.AllFeatures[head] = Features(heads[head], inputs, d.All);
            foreach (float iou in new[] { 0.3f, 0.5f, 0.7f })
                d.Nms[iou] = Boxes.Filter(d.All, null, 25, iou, 100).ToArray();
            float[] kept = Boxes.Select(d.All, d.Nms[0.3f]);
            if (variants.Any(v => v.Diagnostic == "refine"))
            {
                var refined = Refine(kept, saliency);
                d.Refined = Boxes.Select(refined, Boxes.Filter(refined, null, 25, 0.3f, 100));
                d.RefinedFeatures = Features(heads["l3x2"], inputs, d.Refined);
            }
            if (SceneSet.IsTrain(image))
                foreach (var head in cropHeads)
                    d.CropFeatures[head] = Features(heads[head], inputs, Crops(kept, data.Count));
            foreach (var head in trueHeads)
                d.TrueFeatures[head.Name] = Features(heads[head.Name], inputs, d.TrueBoxes);
            foreach (var head in proposalHeads.Where(h => !d.TrueFeatures.ContainsKey(h)))
                d.TrueFeatures[head] = Features(heads[head], inputs, d.TrueBoxes);
            if (!SceneSet.IsTrain(image))
                d.Mask = set.Mask(image, ow, oh);
            data.Add(d);
        }
        foreach (var session in heads.Values)
            session.Dispose();
        var testData = data.Where(d => !SceneSet.IsTrain(d.Image)).ToList();
        bool OnItem(ImageData d, int k) => Enumerable.Range(0, d.Items.Length).Any(i => Boxes.Iou(d.All.AsSpan(4 * k, 4), d.TrueBoxes.AsSpan(4 * i, 4)) >= 0.5);
        double recall = testData.Sum(d => Enumerable.Range(0, d.Items.Length).Count(i => d.Nms[0.3f].Any(k => Boxes.Iou(d.All.AsSpan(4 * k, 4), d.TrueBoxes.AsSpan(4 * i, 4)) >= 0.5)))
            / (double)testData.Sum(d => d.Items.Length);
        Console.WriteLine($"{set.Root}: {data.Count} images through the backbone and heads in {clock.Elapsed.TotalSeconds:F0} s; " +
            $"test items covered at IoU ≥ 0.5 after the filter {recall:F3}, {testData.Average(d => d.Nms[0.3f].Length):F1} boxes per test image");

        foreach (var head in trueHeads)
        {
            var s = PanelMode.TrueBoxSeparability(data.Where(d => d.Items.Length > 0).Select(d => (d.Image, d.Items, d.TrueFeatures[head.Name])).ToList(), head.Dimension);
            PanelMode.WriteRun(Path.Combine(output, "separability", head.Name), s.ImageScores, s.ImageLabels, null, replicates,
                new Dictionary<string, object> { ["itemAuroc"] = s.ItemAuroc });
            Console.WriteLine($"  separability {head.Name,-16} image {AnomalyMetrics.Auroc(s.ImageScores, s.ImageLabels):F3} item {s.ItemAuroc:F3}");
        }

        foreach (var v in variants)
        {
            var watch = Stopwatch.StartNew();
            int dim = byName[v.Head].Dimension;
            (float[] Boxes, float[] Features) Rows(ImageData d)
            {
                bool train = SceneSet.IsTrain(d.Image);
                if (v.Diagnostic == "refine")
                    return (d.Refined, d.RefinedFeatures);
                if (!train && v.Diagnostic == "truth")
                    return (d.TrueBoxes, d.TrueFeatures[v.Head]);
                if (!train && v.Diagnostic == "oracle")
                    return d.Subset(d.Nms[0.3f].Where(k => OnItem(d, k)), v.Head, dim);
                return d.Subset(d.Indices(train ? v.TrainNms : v.TestNms), v.Head, dim);
            }
            var train = new List<float>();
            int rows = 0;
            foreach (var d in data.Where(d => SceneSet.IsTrain(d.Image)))
            {
                var (boxes, features) = Rows(d);
                int n = Math.Min(v.Cap, boxes.Length / 4);
                train.AddRange(features.AsSpan(0, n * dim).ToArray());
                rows += n;
                if (v.Crops)
                {
                    train.AddRange(d.CropFeatures[v.Head]);
                    rows += d.CropFeatures[v.Head].Length / dim;
                }
            }
            float[] reference = train.ToArray();
            var model = v.Components > 0 ? KdeDensityModel.Fit(reference, rows, dim, v.DensityOptions) : null;
            var calibration = v.Geometry > 0 && model is not null ? GeometryCalibration(data, v, dim, Rows) : null;
            var test = data.Where(d => !SceneSet.IsTrain(d.Image)).ToList();
            var scores = new float[test.Count];
            var labels = test.Select(d => SceneSet.IsAnomalous(d.Image)).ToArray();
            var imageBoxes = new List<ImageBoxes>();
            var pixels = new List<PixelAuroc>();
            for (int t = 0; t < test.Count; t++)
            {
                var d = test[t];
                var (boxes, features) = Rows(d);
                int n = Math.Min(v.Cap, boxes.Length / 4);
                var boxScores = new float[n];
                if (model is not null)
                {
                    var logDensity = new double[n];
                    model.LogDensities(features.AsSpan(0, n * dim), logDensity);
                    for (int k = 0; k < n; k++)
                        boxScores[k] = calibration is null ? (float)KdeDensityModel.Probability(logDensity[k])
                            : calibration.Score(boxes.AsSpan(4 * k, 4), logDensity[k]);
                }
                else
                {
                    Parallel.For(0, n, k =>
                    {
                        var row = features.AsSpan(k * dim, dim);
                        float best = -1;
                        for (int r = 0; r < rows; r++)
                            best = Math.Max(best, System.Numerics.Tensors.TensorPrimitives.Dot(row, reference.AsSpan(r * dim, dim)));
                        boxScores[k] = (1 - best) / 2;
                    });
                }
                var detections = Enumerable.Range(0, n).Select(k => new Detection(
                    new BoundingBox(boxes[4 * k] / d.Sx, boxes[4 * k + 1] / d.Sy, boxes[4 * k + 2] / d.Sx, boxes[4 * k + 3] / d.Sy),
                    boxScores[k])).OrderByDescending(x => x.Score).ToList();
                scores[t] = detections.Count > 0 ? detections[0].Score : 0;
                imageBoxes.Add(new ImageBoxes(detections, d.Items.Where(i => i.Anomalous).Select(i => new BoundingBox(i.Box[0], i.Box[1], i.Box[2], i.Box[3])).ToList()));
                var map = new PixelAuroc();
                map.Add(AnomalyMap.FromBoxes(d.OriginalWidth, d.OriginalHeight, detections), d.Mask!);
                pixels.Add(map);
            }
            PanelMode.WriteRun(Path.Combine(output, "levers", v.Name), scores, labels, new PanelMode.ScoredBoxes(imageBoxes, pixels), replicates,
                new Dictionary<string, object> { ["trainingRegions"] = rows });
            Console.WriteLine($"  {v.Name,-10} image AUROC {AnomalyMetrics.Auroc(scores, labels):F3}, AP@0.3 {BoxAveragePrecision.Compute(imageBoxes, 0.3):F3} " +
                $"({rows} training regions, {watch.Elapsed.TotalSeconds:F1} s)");
        }
        File.WriteAllText(Path.Combine(output, "lab-complete.txt"), $"{variants.Count} variants, {trueHeads.Count} heads\n");
    }

    /// <summary>
    /// Out-of-fold log-densities of the training images' scored boxes (the test filter's, as the held-out threshold uses):
    /// the training images split in two by order, each half scored by a model fitted on the other's regions.
    /// </summary>
    private static SizeCalibration GeometryCalibration(List<ImageData> data, Variant v, int dim, Func<ImageData, (float[] Boxes, float[] Features)> rows)
    {
        var trainImages = data.Where(d => SceneSet.IsTrain(d.Image)).ToList();
        var sizes = new List<(double LogW, double LogH)>();
        var logDensities = new List<double>();
        for (int fold = 0; fold < 2; fold++)
        {
            var fit = new List<float>();
            int n = 0;
            for (int i = 0; i < trainImages.Count; i++)
            {
                if (i % 2 == fold) continue;
                var (boxes, features) = rows(trainImages[i]);
                int m = Math.Min(v.Cap, boxes.Length / 4);
                fit.AddRange(features.AsSpan(0, m * dim).ToArray());
                n += m;
            }
            var model = KdeDensityModel.Fit(fit.ToArray(), n, dim, v.DensityOptions);
            for (int i = fold; i < trainImages.Count; i += 2)
            {
                var d = trainImages[i];
                var (boxes, features) = d.Subset(d.Indices(v.TestNms), v.Head, dim);
                int m = Math.Min(100, boxes.Length / 4);
                var ld = new double[m];
                model.LogDensities(features.AsSpan(0, m * dim), ld);
                for (int k = 0; k < m; k++)
                {
                    sizes.Add(SizeCalibration.Size(boxes.AsSpan(4 * k, 4)));
                    logDensities.Add(ld[k]);
                }
            }
        }
        return new SizeCalibration(sizes.ToArray(), logDensities.ToArray(), v.Geometry);
    }

    /// <summary>A box's log-density against those of the training boxes of the nearest size: z = (μ − ld) / σ.</summary>
    private sealed class SizeCalibration((double LogW, double LogH)[] sizes, double[] logDensities, int neighbours)
    {
        public static (double, double) Size(ReadOnlySpan<float> box) => (Math.Log(Math.Max(1, box[2] - box[0])), Math.Log(Math.Max(1, box[3] - box[1])));

        private readonly Dictionary<(int, int), (double Mean, double Sd)> _cache = [];

        public float Score(ReadOnlySpan<float> box, double logDensity)
        {
            var (w, h) = Size(box);
            var key = ((int)Math.Round(w * 20), (int)Math.Round(h * 20));
            if (!_cache.TryGetValue(key, out var stats)) _cache[key] = stats = Stats(key.Item1 / 20.0, key.Item2 / 20.0);
            // z / 8 into (0, 1), as probabilities are (float keeps z up to about 130 apart), so that the pixel map's uncovered 0 stays below every box.
            return (float)(1 / (1 + Math.Exp(-(stats.Mean - logDensity) / Math.Max(stats.Sd, 1e-6) / 8)));
        }

        private (double Mean, double Sd) Stats(double w, double h)
        {
            var distances = new double[sizes.Length];
            for (int i = 0; i < sizes.Length; i++)
                distances[i] = (sizes[i].LogW - w) * (sizes[i].LogW - w) + (sizes[i].LogH - h) * (sizes[i].LogH - h);
            var order = Enumerable.Range(0, sizes.Length).OrderBy(i => distances[i]).Take(neighbours).ToArray();
            double mean = order.Average(i => logDensities[i]);
            return (mean, Math.Sqrt(order.Average(i => (logDensities[i] - mean) * (logDensities[i] - mean))));
        }
    }

    /// <summary>The shipped proposer, its trunk grafted through layer4, exposing layer2/3/4 and the saliency map.</summary>
    private static byte[] BuildProposer()
    {
        var b = new OnnxGraphBuilder("lever_lab_proposer");
        string image = b.Input("image", DataType.Float, 1, 3, H, W);
        var trunk = ResNet18Trunk.AddTo(b, image, W, H, throughLayer4: true);
        var (boxes, scores) = ObjectnessProposer.AddTo(b, trunk, out string saliency);
        b.Output("boxes", boxes, DataType.Float, 1, "N", 4);
        b.Output("scores", scores, DataType.Float, 1, "N");
        foreach (var (layer, name) in new[] { (2, trunk.Layer2), (3, trunk.Layer3), (4, trunk.Layer4!) })
        {
            var (h, w) = trunk.MapSize(Stride(layer));
            b.Output($"l{layer}", name, DataType.Float, 1, Channels(layer), h, w);
        }
        var (h8, w8) = trunk.MapSize(8);
        b.Output("saliency", saliency, DataType.Float, 1, 1, h8, w8);
        return b.ToBytes();
    }

    private static byte[] BuildHead(Head head)
    {
        var b = new OnnxGraphBuilder("lever_lab_head_" + head.Name);
        var sizes = new ResNet18Features("", "", W, H);
        var declared = new HashSet<string>();
        var sources = new List<RoiFeatureSource>();
        foreach (var (layer, grid, sampling, gamma) in head.Parts)
        {
            var (h, w) = sizes.MapSize(Stride(layer));
            string map = $"l{layer}";
            if (declared.Add(map))
                b.Input(map, DataType.Float, 1, Channels(layer), h, w);
            string? weight = null;
            if (gamma > 0)
            {
                weight = $"w{Stride(layer)}g{gamma}";
                if (declared.Add(weight))
                    b.Input(weight, DataType.Float, 1, 1, h, w);
            }
            sources.Add(new RoiFeatureSource(map, Channels(layer), Stride(layer), grid, sampling, weight));
        }
        string boxes = b.Input("boxes", DataType.Float, 1, "N", 4);
        b.Output("features", RoiFeatureHead.AddTo(b, boxes, sources), DataType.Float, 1, "N", head.Dimension);
        return b.ToBytes();
    }

    /// <summary>The maps and the saliency weights (mean over each coarser cell, raised to 1 and 2) every head may read.</summary>
    private static Dictionary<string, NamedOnnxValue> MapInputs(Dictionary<string, DenseTensor<float>> outputs, DenseTensor<float> saliency)
    {
        var inputs = new Dictionary<string, NamedOnnxValue>();
        foreach (var name in new[] { "l2", "l3", "l4" })
            inputs[name] = NamedOnnxValue.CreateFromTensor(name, outputs[name]);
        int h8 = saliency.Dimensions[2], w8 = saliency.Dimensions[3];
        foreach (int stride in new[] { 8, 16, 32 })
        {
            int f = stride / 8, h = (int)outputs[$"l{(stride == 8 ? 2 : stride == 16 ? 3 : 4)}"].Dimensions[2], w = (int)outputs[$"l{(stride == 8 ? 2 : stride == 16 ? 3 : 4)}"].Dimensions[3];
            var mean = new float[h * w];
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++)
                {
                    double sum = 0;
                    int count = 0;
                    for (int yy = y * f; yy < Math.Min(h8, (y + 1) * f); yy++)
                        for (int xx = x * f; xx < Math.Min(w8, (x + 1) * f); xx++)
                        {
                            sum += saliency[0, 0, yy, xx];
                            count++;
                        }
                    mean[y * w + x] = count > 0 ? (float)(sum / count) : 0;
                }
            foreach (int gamma in new[] { 1, 2 })
            {
                string name = $"w{stride}g{gamma}";
                inputs[name] = NamedOnnxValue.CreateFromTensor(name, new DenseTensor<float>(mean.Select(m => MathF.Pow(m, gamma)).ToArray(), [1, 1, h, w]));
            }
        }
        return inputs;
    }

    private static float[] Features(InferenceSession head, Dictionary<string, NamedOnnxValue> inputs, float[] boxes)
    {
        if (boxes.Length == 0)
            return [];
        var feed = head.InputMetadata.Keys.Where(k => k != "boxes").Select(k => inputs[k]).ToList();
        feed.Add(NamedOnnxValue.CreateFromTensor("boxes", new DenseTensor<float>(boxes, [1, boxes.Length / 4, 4])));
        using var result = head.Run(feed);
        return result.First().AsTensor<float>().ToArray();
    }

    /// <summary>
    /// Each box refined to the object's extent on the saliency grid: in the box grown by a quarter of its size per side, the cells at
    /// least half as salient as the box's most salient cell and 4-connected to it; their bounding box, or the box itself when that is
    /// smaller than the filter's minimum side.
    /// </summary>
    private static float[] Refine(float[] boxes, DenseTensor<float> saliency)
    {
        int h = saliency.Dimensions[2], w = saliency.Dimensions[3];
        const int cell = ObjectnessProposer.Stride;
        var result = (float[])boxes.Clone();
        for (int k = 0; k < boxes.Length / 4; k++)
        {
            float x1 = boxes[4 * k], y1 = boxes[4 * k + 1], x2 = boxes[4 * k + 2], y2 = boxes[4 * k + 3];
            float gx = (x2 - x1) / 4, gy = (y2 - y1) / 4;
            int cx1 = Math.Max(0, (int)((x1 - gx) / cell)), cy1 = Math.Max(0, (int)((y1 - gy) / cell));
            int cx2 = Math.Min(w - 1, (int)((x2 + gx) / cell)), cy2 = Math.Min(h - 1, (int)((y2 + gy) / cell));
            int bx1 = Math.Clamp((int)(x1 / cell), 0, w - 1), by1 = Math.Clamp((int)(y1 / cell), 0, h - 1);
            int bx2 = Math.Clamp((int)((x2 - 1) / cell), 0, w - 1), by2 = Math.Clamp((int)((y2 - 1) / cell), 0, h - 1);
            (int X, int Y) peak = (bx1, by1);
            for (int y = by1; y <= by2; y++)
                for (int x = bx1; x <= bx2; x++)
                    if (saliency[0, 0, y, x] > saliency[0, 0, peak.Y, peak.X])
                        peak = (x, y);
            float threshold = 0.5f * saliency[0, 0, peak.Y, peak.X];
            var seen = new HashSet<(int, int)> { peak };
            var stack = new Stack<(int X, int Y)>([peak]);
            int rx1 = peak.X, ry1 = peak.Y, rx2 = peak.X, ry2 = peak.Y;
            while (stack.Count > 0)
            {
                var (x, y) = stack.Pop();
                rx1 = Math.Min(rx1, x); ry1 = Math.Min(ry1, y); rx2 = Math.Max(rx2, x); ry2 = Math.Max(ry2, y);
                foreach (var (nx, ny) in new[] { (x + 1, y), (x - 1, y), (x, y + 1), (x, y - 1) })
                    if (nx >= cx1 && nx <= cx2 && ny >= cy1 && ny <= cy2 && saliency[0, 0, ny, nx] >= threshold && seen.Add((nx, ny)))
                        stack.Push((nx, ny));
            }
            float nx1 = rx1 * cell, ny1 = ry1 * cell, nx2 = Math.Min(W, (rx2 + 1) * cell), ny2 = Math.Min(H, (ry2 + 1) * cell);
            if (nx2 - nx1 >= 25 && ny2 - ny1 >= 25)
            {
                result[4 * k] = nx1; result[4 * k + 1] = ny1; result[4 * k + 2] = nx2; result[4 * k + 3] = ny2;
            }
        }
        return result;
    }

    /// <summary>Two crops per box: a part (each side 50–80 % of the box's, anywhere inside it) and a jittered copy (centre moved by up to 20 % of the side, sides scaled 0.8–1.25), sides at least 25 px, inside the image.</summary>
    private static float[] Crops(float[] boxes, int seed)
    {
        var random = new Random(seed);
        var result = new List<float>();
        for (int k = 0; k < boxes.Length / 4; k++)
        {
            float x1 = boxes[4 * k], y1 = boxes[4 * k + 1], bw = boxes[4 * k + 2] - x1, bh = boxes[4 * k + 3] - y1;
            float U(double a, double b) => (float)(a + (b - a) * random.NextDouble());
            float pw = Math.Max(25, bw * U(0.5, 0.8)), ph = Math.Max(25, bh * U(0.5, 0.8));
            float px = x1 + U(0, Math.Max(0, bw - pw)), py = y1 + U(0, Math.Max(0, bh - ph));
            Add(px, py, pw, ph);
            float jw = Math.Max(25, bw * U(0.8, 1.25)), jh = Math.Max(25, bh * U(0.8, 1.25));
            float cx = x1 + bw / 2 + bw * U(-0.2, 0.2), cy = y1 + bh / 2 + bh * U(-0.2, 0.2);
            Add(cx - jw / 2, cy - jh / 2, jw, jh);
        }
        return result.ToArray();

        void Add(float x, float y, float w, float h)
        {
            w = Math.Min(w, W); h = Math.Min(h, H);
            x = Math.Clamp(x, 0, W - w); y = Math.Clamp(y, 0, H - h);
            result.AddRange([x, y, x + w, y + h]);
        }
    }
}
