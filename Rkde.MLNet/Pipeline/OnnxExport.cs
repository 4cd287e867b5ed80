using System.Globalization;
using Onnx;
using Rkde.MLNet.Onnx;
using DataType = Onnx.TensorProto.Types.DataType;

namespace Rkde.MLNet.Pipeline;

/// <summary>
/// A fitted model's composed graph (<see cref="FittedGraph"/>) as a self-contained ONNX file for any ONNX runtime: the
/// preprocessing the .zip does with ML.NET (stretch to the model input size with nearest-neighbour sampling, RGB scaled to
/// [0, 1], planar) moves into the graph (ONNX Resize, nearest, half_pixel coordinates with ties rounded down: the source pixel
/// SkiaSharp's nearest sampling picks, checked pixel for pixel against ML.NET's ResizeImages at up- and down-scalings), boxes come out in the input image's pixels sorted by anomaly score, and the model's
/// description (options, input size, threshold, models, licence) travels as metadata.
/// </summary>
/// <remarks>
/// <para>Single image: input <see cref="Image"/> uint8 [H, W, 3] (RGB, any H and W); outputs <see cref="Boxes"/> float [N, 4]
/// (x1, y1, x2, y2 in input pixels), <see cref="BoxScores"/> float [N] (highest first, same order), <see cref="Score"/> float
/// [1] and <see cref="IsAnomaly"/> bool [1].</para>
/// <para>Batched: input <see cref="Images"/> uint8 [B, H, W, 3] at the model input size; an ONNX Loop runs the graph per image
/// and pads each image's boxes to MaxDetectionsPerImage: <see cref="Boxes"/> [B, K, 4] (zeros after the real boxes),
/// <see cref="BoxScores"/> [B, K] (−1 after them), <see cref="BoxCount"/> int64 [B], <see cref="Score"/> [B],
/// <see cref="IsAnomaly"/> [B].</para>
/// </remarks>
internal static class OnnxExport
{
    public const string Image = "image";
    public const string Images = "images";
    public const string Boxes = "boxes";
    public const string BoxScores = "box_scores";
    public const string BoxCount = "box_count";
    public const string Score = "score";
    public const string IsAnomaly = "is_anomaly";

    /// <summary>The box score that pads a batched output after an image's real boxes.</summary>
    public const float PaddingScore = -1;

    public const string ExportStage = "export";

    /// <summary>Metadata key describing the file's input and outputs.</summary>
    public const string SignatureKey = "rkde_signature";

    /// <summary>The export of <paramref name="composed"/> (see the class).</summary>
    public static byte[] Build(byte[] composed, bool batched)
    {
        var fitted = FittedGraph.Parse(composed, "fitted model graph", FittedGraph.FittedStage);
        var (width, height) = FittedChain.InputSize(fitted);
        int opset = OnnxOpsetUpgrade.DefaultOpset(fitted);
        var b = new OnnxGraphBuilder(batched ? "rkde_export_batched" : "rkde_export", opset, "export/");
        var model = b.Model;
        model.IrVersion = Math.Max(model.IrVersion, fitted.IrVersion);
        foreach (var import in fitted.OpsetImport.Where(o => !OnnxOpsetUpgrade.IsDefaultDomain(o.Domain)))
            model.OpsetImport.Add(import.Clone());
        b.Graph.Initializer.AddRange(fitted.Graph.Initializer);
        b.Graph.SparseInitializer.AddRange(fitted.Graph.SparseInitializer);

        string signature;
        if (!batched)
        {
            string image = b.Input(Image, DataType.Uint8, "height", "width", 3L);
            string resized = b.Node("Resize", [image, "", "", b.Int64s(height, width, 3)],
                ("mode", "nearest"), ("coordinate_transformation_mode", "half_pixel"), ("nearest_mode", "round_prefer_floor"));
            Preprocess(b, resized);
            b.Graph.Node.AddRange(fitted.Graph.Node);
            b.Graph.ValueInfo.AddRange(fitted.Graph.ValueInfo);
            string size = b.Node("Cast", [b.Node("Gather", [b.Node("Shape", [image]), b.Int64s(1, 0, 1, 0)], ("axis", 0L))], ("to", (long)DataType.Float));
            var (boxes, scores) = Sorted(b, size);
            b.Output(Boxes, boxes, DataType.Float, "N", 4L);
            b.Output(BoxScores, scores, DataType.Float, "N");
            b.Output(Score, FittedGraph.ImageScore, DataType.Float, 1L);
            b.Output(IsAnomaly, FittedGraph.IsAnomaly, DataType.Bool, 1L);
            signature = $"input {Image} uint8 [H, W, 3] RGB of any size, stretched inside to {width}x{height}; outputs {Boxes} float [N, 4] " +
                $"(x1, y1, x2, y2 in input pixels), {BoxScores} float [N] (highest first), {Score} float [1], {IsAnomaly} bool [1]";
        }
        else
        {
            int most = int.Parse(Option(fitted, "MaxDetectionsPerImage"), CultureInfo.InvariantCulture);
            string images = b.Input(Images, DataType.Uint8, "batch", (long)height, (long)width, 3L);
            var body = new OnnxGraphBuilder("rkde_export_image", opset, "export/image/");
            string iteration = body.Input("iteration", DataType.Int64);
            string condition = body.Input("condition", DataType.Bool);
            Preprocess(body, body.Node("Gather", [images, iteration], ("axis", 0L)));
            body.Graph.Node.AddRange(fitted.Graph.Node);
            body.Graph.ValueInfo.AddRange(fitted.Graph.ValueInfo);
            var (boxes, scores) = Sorted(body, body.Initializer(body.FreshName("size"), [(float)width, height, width, height], 4));
            string count = body.Node("Squeeze", [body.Node("Shape", [scores]), body.Int64s(0)]);
            string padding = body.Node("Sub", [body.Int64s(most), body.Node("Shape", [scores])]);
            string zero = body.Int64s(0);
            string paddedBoxes = body.Node("Pad", [boxes, body.Node("Concat", [zero, zero, padding, zero], ("axis", 0L)), body.Scalar(0f)]);
            string paddedScores = body.Node("Pad", [scores, body.Node("Concat", [zero, padding], ("axis", 0L)), body.Scalar(PaddingScore)]);
            body.Output("condition_out", condition, DataType.Bool);
            body.Output("image_boxes", paddedBoxes, DataType.Float, (long)most, 4L);
            body.Output("image_box_scores", paddedScores, DataType.Float, (long)most);
            body.Output("image_box_count", count, DataType.Int64);
            body.Output("image_score", body.Node("Squeeze", [FittedGraph.ImageScore, body.Int64s(0)]), DataType.Float);
            body.Output("image_is_anomaly", body.Node("Squeeze", [FittedGraph.IsAnomaly, body.Int64s(0)]), DataType.Bool);
            OnnxInliner.Prune(body.Graph);

            string trips = b.Node("Gather", [b.Node("Shape", [images]), b.Initializer(b.FreshName("batch_axis"), [0L])], ("axis", 0L));
            b.Node("Loop", [trips, ""], [Boxes, BoxScores, BoxCount, Score, IsAnomaly], ("body", body.Graph));
            b.Graph.Output.Add(Declared(Boxes, DataType.Float, "batch", (long)most, 4L));
            b.Graph.Output.Add(Declared(BoxScores, DataType.Float, "batch", (long)most));
            b.Graph.Output.Add(Declared(BoxCount, DataType.Int64, "batch"));
            b.Graph.Output.Add(Declared(Score, DataType.Float, "batch"));
            b.Graph.Output.Add(Declared(IsAnomaly, DataType.Bool, "batch"));
            signature = $"input {Images} uint8 [B, {height}, {width}, 3] RGB at the model input size; outputs {Boxes} float [B, {most}, 4] " +
                $"(input pixels, zeros after each image's {BoxCount}), {BoxScores} float [B, {most}] (highest first, {PaddingScore} after), " +
                $"{BoxCount} int64 [B], {Score} float [B], {IsAnomaly} bool [B]";
        }

        OnnxInliner.Prune(b.Graph);
        OnnxModelContract.Stamp(b, ExportStage);
        b.Metadata(SignatureKey, signature);
        foreach (var (key, value) in FittedGraph.Description(fitted))
            b.Metadata(key, value);
        return b.ToBytes();
    }

    /// <summary>uint8 [H, W, 3] at the model input size → <see cref="FittedGraph.Pixels"/>: float RGB × 1/255 (as ML.NET's ExtractPixels), planar, batch of one.</summary>
    private static void Preprocess(OnnxGraphBuilder b, string image)
    {
        string scaled = b.Node("Mul", [b.Node("Cast", [image], ("to", (long)DataType.Float)), b.Scalar(1f / 255)]);
        b.Node("Unsqueeze", [b.Node("Transpose", [scaled], ("perm", new long[] { 2, 0, 1 })), b.Int64s(0)], [FittedGraph.Pixels]);
    }

    /// <summary>The composed graph's boxes scaled by <paramref name="size"/> ([W, H, W, H]) and its box scores, both sorted by box score, highest first.</summary>
    private static (string Boxes, string Scores) Sorted(OnnxGraphBuilder b, string size)
    {
        string boxes = b.Node("Mul", [b.Node("Squeeze", [FittedGraph.Boxes, b.Int64s(0)]), size]);
        string scores = b.Node("Squeeze", [FittedGraph.BoxScores, b.Int64s(0)]);
        var sorted = b.Node("TopK", [scores, b.Node("Shape", [scores])], [b.FreshName("sorted_scores"), b.FreshName("sorted_order")],
            ("axis", 0L), ("largest", 1L), ("sorted", 1L));
        return (b.Node("Gather", [boxes, sorted[1]], ("axis", 0L)), sorted[0]);
    }

    private static string Option(ModelProto fitted, string name) =>
        FittedGraph.RecordedOption(fitted, name) ?? throw new InvalidDataException($"The fitted model graph does not record the option {name}.");

    private static ValueInfoProto Declared(string name, DataType type, params object[] dims)
    {
        var b = new OnnxGraphBuilder("declaration");
        b.Output(name, name, type, dims);
        return b.Graph.Output[0];
    }
}
