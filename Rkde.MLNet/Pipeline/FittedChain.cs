using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms.Image;
using Onnx;
using Rkde.MLNet.Checks;
using Rkde.MLNet.Density;
using Rkde.MLNet.Onnx;
using DataType = Onnx.TensorProto.Types.DataType;

namespace Rkde.MLNet.Pipeline;

/// <summary>
/// The columns of a fitted R-KDE chain: its input (image paths and their folder) and its output columns. Stored in the
/// fitted graph's front metadata as the options of the same names (<see cref="FittedGraph.OptionPrefix"/> + name).
/// </summary>
internal sealed record ChainColumns(string ImagePath, string? ImageFolder, string Boxes, string BoxScores, string Score, string IsAnomaly)
{
    // The RkdeOptions fields these come from (its option metadata uses the field names).
    private const string ImagePathOption = "ImageColumnName", ImageFolderOption = "ImageFolder", BoxesOption = "BoxesColumnName",
        BoxScoresOption = "BoxScoresColumnName", ScoreOption = "ScoreColumnName", IsAnomalyOption = "IsAnomalyColumnName";

    /// <summary>The columns a composed graph's front metadata names.</summary>
    public static ChainColumns FromMetadata(ModelProto composed)
    {
        string? Option(string name, bool optional = false) =>
            FittedGraph.RecordedOption(composed, name) is { } value ? (value.Length == 0 ? null : value)
            : optional ? null : throw new InvalidDataException($"The fitted model graph does not record the option {name}.");
        return new ChainColumns(Option(ImagePathOption)!, Option(ImageFolderOption, optional: true), Option(BoxesOption)!,
            Option(BoxScoresOption)!, Option(ScoreOption)!, Option(IsAnomalyOption)!);
    }
}

/// <summary>
/// Builds the ML.NET chain of a fitted model from its composed graph (<see cref="FittedGraph"/>): LoadImages → ResizeImages
/// (Fill) → ExtractPixels (planar RGB in [0, 1]) → one OnnxTransformer over the composed graph → the box columns under their
/// names → the identity regression that makes the image score a float column (<see cref="ScalarScore"/>) → IsAnomaly = score ≥
/// the stored threshold (an ML.NET Expression) → internal columns dropped. Every part is a stock ML.NET transformer, so the
/// chain saves and loads with ML.NET alone.
/// </summary>
internal static partial class FittedChain
{
    private const string ImageColumn = InternalColumns.Prefix + "image";

    /// <summary>Images loaded, stretched to <paramref name="width"/> × <paramref name="height"/> and turned into planar RGB in [0, 1] (<see cref="FittedGraph.Pixels"/>).</summary>
    public static EstimatorChain<ITransformer> Pixels(TransformsCatalog catalog, ChainColumns columns, int width, int height) =>
        new EstimatorChain<ITransformer>()
            .Append<ITransformer>(catalog.LoadImages(ImageColumn, columns.ImageFolder, columns.ImagePath))
            .Append<ITransformer>(catalog.ResizeImages(ImageColumn, width, height, ImageColumn, ImageResizingEstimator.ResizingKind.Fill))
            .Append<ITransformer>(catalog.ExtractPixels(FittedGraph.Pixels, ImageColumn, ImagePixelExtractingEstimator.ColorBits.Rgb,
                ImagePixelExtractingEstimator.ColorsOrder.ARGB, interleavePixelColors: false, scaleImage: 1f / 255));

    /// <summary>The images' pixels and the front graph's outputs (<see cref="FittedGraph.Features"/> among them), for fitting the density.</summary>
    public static EstimatorChain<ITransformer> Front(TransformsCatalog catalog, ChainColumns columns, int width, int height, byte[] front,
        int? gpuDeviceId, bool fallbackToCpu, bool withBoxes = false) =>
        Pixels(catalog, columns, width, height).Append<ITransformer>(catalog.ApplyOnnxModel(
            withBoxes ? [FittedGraph.Features, FittedGraph.PixelBoxes, FittedGraph.RegionScores] : [FittedGraph.Features], [FittedGraph.Pixels],
            new MemoryStream(front), gpuDeviceId, fallbackToCpu));

    /// <summary>The fitted chain over <paramref name="composed"/>, for data with <paramref name="input"/>'s schema.</summary>
    public static TransformerChain<ITransformer> Build(TransformsCatalog catalog, IDataView input, byte[] composed, int? gpuDeviceId, bool fallbackToCpu)
    {
        var model = FittedGraph.Parse(composed, "fitted model graph", FittedGraph.FittedStage);
        var columns = ChainColumns.FromMetadata(model);
        var (width, height) = InputSize(model);
        float threshold = FittedGraph.Threshold(model)
            ?? throw new InvalidDataException("The fitted model graph carries no threshold; fit it with RkdeAnomaly.");
        var chain = Pixels(catalog, columns, width, height)
            .Append<ITransformer>(catalog.ApplyOnnxModel([FittedGraph.Boxes, FittedGraph.BoxScores, FittedGraph.ImageScore], [FittedGraph.Pixels],
                new MemoryStream(composed), gpuDeviceId, fallbackToCpu))
            .Fit(input);
        chain = Then(chain, input, catalog.CopyColumns(columns.Boxes, FittedGraph.Boxes));
        chain = Then(chain, input, catalog.CopyColumns(columns.BoxScores, FittedGraph.BoxScores));
        chain = ScalarScore.Append(chain, catalog, input, columns.Score);
        chain = Then(chain, input, catalog.Expression(columns.IsAnomaly, ThresholdExpression(threshold), columns.Score));
        return Then(chain, input, catalog.DropColumns(ImageColumn, FittedGraph.Pixels, FittedGraph.Boxes, FittedGraph.BoxScores));
    }

    /// <summary>The output schema of a fitted chain, before fitting: the same stock transformers over a graph of the composed graph's signature.</summary>
    /// <remarks>
    /// ML.NET types a rank-0 ONNX output as a vector, and the fitted chain's scalar score comes from a trained identity
    /// regression; here a custom mapping (never fitted or saved) stands in for that regression's schema.
    /// </remarks>
    public static SchemaShape OutputSchema(TransformsCatalog catalog, SchemaShape input, ChainColumns columns, int width, int height)
    {
        var slot = SchemaDefinition.Create(typeof(ScoreSlotRow));
        var score = SchemaDefinition.Create(typeof(ScoreRow));
        score[0].ColumnName = columns.Score;
        return Pixels(catalog, columns, width, height)
            .Append<ITransformer>(catalog.ApplyOnnxModel([columns.Boxes, columns.BoxScores, FittedGraph.ImageScore], [FittedGraph.Pixels],
                new MemoryStream(Signature(columns, width, height))))
            .Append<ITransformer>(catalog.CustomMapping<ScoreSlotRow, ScoreRow>((from, to) => to.Score = from.Slot[0], contractName: null,
                inputSchemaDefinition: slot, outputSchemaDefinition: score))
            .Append<ITransformer>(catalog.Expression(columns.IsAnomaly, ThresholdExpression(float.PositiveInfinity), columns.Score))
            .Append<ITransformer>(catalog.DropColumns(ImageColumn, FittedGraph.Pixels, FittedGraph.ImageScore))
            .GetOutputSchema(input);
    }

    private sealed class ScoreSlotRow
    {
        [ColumnName(FittedGraph.ImageScore)]
        [VectorType(1)]
        public float[] Slot { get; set; } = [];
    }

    private sealed class ScoreRow
    {
        public float Score { get; set; }
    }

    /// <summary>The model input size recorded in a composed graph's front metadata.</summary>
    public static (int Width, int Height) InputSize(ModelProto composed)
    {
        string key = FittedGraph.FrontPrefix + FittedGraph.InputSizeKey;
        if (!FittedGraph.Metadata(composed).TryGetValue(key, out var size) || size.Split('x') is not [var w, var h]
            || !int.TryParse(w, CultureInfo.InvariantCulture, out int width) || !int.TryParse(h, CultureInfo.InvariantCulture, out int height))
            throw new InvalidDataException($"The fitted model graph has no readable '{key}' (got '{size}').");
        return (width, height);
    }

    /// <summary>
    /// score ≥ threshold as an ML.NET expression. The literal is the float's exact value written as a double, so the comparison
    /// is exact whether the expression reads it as float or double; with no finite threshold nothing is anomalous.
    /// </summary>
    public static string ThresholdExpression(float threshold) => float.IsFinite(threshold)
        ? "x => x >= " + ((double)threshold).ToString("R", CultureInfo.InvariantCulture)
        : "x => false";

    private static TransformerChain<ITransformer> Then(TransformerChain<ITransformer> chain, IDataView input, IEstimator<ITransformer> next) =>
        chain.Append(next.Fit(chain.Transform(input)));

    /// <summary>
    /// A graph with the composed graph's outputs as the fitted chain reads them (boxes and box scores of variable length, the image
    /// score [1]) and constant content; it is loaded for its schema, never run.
    /// </summary>
    private static byte[] Signature(ChainColumns columns, int width, int height)
    {
        var g = new OnnxGraphBuilder("rkde_fitted_signature");
        g.Input(FittedGraph.Pixels, DataType.Float, 1L, 3L, (long)height, (long)width);
        g.Output(columns.Boxes, g.Initializer(g.FreshName("boxes"), ReadOnlySpan<float>.Empty, 1, 0, 4), DataType.Float, 1L, "K", 4L);
        g.Output(columns.BoxScores, g.Initializer(g.FreshName("box_scores"), ReadOnlySpan<float>.Empty, 1, 0), DataType.Float, 1L, "K");
        g.Output(FittedGraph.ImageScore, g.Initializer(g.FreshName("score"), [0f], 1), DataType.Float, 1L);
        return g.ToBytes();
    }
}
