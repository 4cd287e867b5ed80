using System.Globalization;
using Google.Protobuf;
using Onnx;
using Rkde.MLNet.Density;
using Rkde.MLNet.Regions;

namespace Rkde.MLNet.Pipeline;

/// <summary>
/// For a model whose density was fitted on other regions than it scores (<see cref="RkdeOptions.TrainingIouThreshold"/>,
/// <see cref="RkdeOptions.MaxTrainingDetectionsPerImage"/>, read back from the front's option metadata): the front with the
/// training filter's NMS limits, so an update adds the regions a fit would have, and the scoring filter, so the new images'
/// held-out scores are taken on the regions the model scores.
/// </summary>
internal sealed record TrainingFront(byte[] Front, RegionFeatureColumn.Scoring Scoring)
{
    /// <summary>
    /// The scoring filter over a front's outputs: the regions <paramref name="filter"/> keeps of an image's boxes
    /// (<see cref="FittedGraph.PixelBoxes"/>, input pixels) and proposal scores (<see cref="FittedGraph.RegionScores"/>).
    /// </summary>
    public static RegionFeatureColumn.Scoring ScoringOf(RegionFilterOptions filter) =>
        new((boxes, scores) => RegionFilter.Select(boxes, scores, filter), FittedGraph.PixelBoxes, FittedGraph.RegionScores);

    /// <summary>
    /// The training front of <paramref name="front"/>, the front graph split from <paramref name="composed"/>, or null when the
    /// options <paramref name="composed"/> records fit the density on the regions it scores (or predate the training options).
    /// </summary>
    /// <exception cref="InvalidDataException">The options are unreadable, or the front has not exactly one region NMS.</exception>
    public static TrainingFront? Of(ModelProto composed, byte[] front)
    {
        string? Option(string name) => FittedGraph.RecordedOption(composed, name) is { Length: > 0 } v ? v : null;
        float Float(string text, string name) => float.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var f) ? f
            : throw new InvalidDataException($"its front graph's option {name} = '{text}' is not a number");
        int Int(string text, string name) => int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var i) ? i
            : throw new InvalidDataException($"its front graph's option {name} = '{text}' is not a whole number");
        if (Option(nameof(RkdeOptions.IouThreshold)) is not { } iouText || Option(nameof(RkdeOptions.MaxDetectionsPerImage)) is not { } maxText)
            return null;
        var scoring = new RegionFilterOptions
        {
            RoiScoreThreshold = Float(Option(nameof(RkdeOptions.RoiScoreThreshold)) ?? "0", nameof(RkdeOptions.RoiScoreThreshold)),
            MinBoxSize = Float(Option(nameof(RkdeOptions.MinBoxSize)) ?? "0", nameof(RkdeOptions.MinBoxSize)),
            IouThreshold = Float(iouText, nameof(RkdeOptions.IouThreshold)),
            MaxDetectionsPerImage = Int(maxText, nameof(RkdeOptions.MaxDetectionsPerImage)),
        };
        float trainingIou = Option(nameof(RkdeOptions.TrainingIouThreshold)) is { } t ? Float(t, nameof(RkdeOptions.TrainingIouThreshold)) : scoring.IouThreshold;
        int trainingMax = Option(nameof(RkdeOptions.MaxTrainingDetectionsPerImage)) is { } m ? Int(m, nameof(RkdeOptions.MaxTrainingDetectionsPerImage)) : scoring.MaxDetectionsPerImage;
        if (trainingIou == scoring.IouThreshold && trainingMax == scoring.MaxDetectionsPerImage)
            return null;

        // The region filter's NonMaxSuppression (RegionFilterGraph): inputs 2 and 3 are its box limit and IoU threshold.
        var model = ModelProto.Parser.ParseFrom(front);
        var nms = model.Graph.Node.Where(n => n.OpType == "NonMaxSuppression" && n.Name.StartsWith("regions/", StringComparison.Ordinal)).ToArray();
        if (nms.Length != 1 || nms[0].Input.Count < 4)
            throw new InvalidDataException($"its front graph has {nms.Length} region NMS nodes, where one was expected");
        Set(model.Graph, nms[0].Input[2], init => init.Int64Data.Add(trainingMax));
        Set(model.Graph, nms[0].Input[3], init => init.FloatData.Add(trainingIou));
        return new TrainingFront(model.ToByteArray(), ScoringOf(scoring));
    }

    private static void Set(GraphProto graph, string name, Action<TensorProto> fill)
    {
        var init = graph.Initializer.SingleOrDefault(i => i.Name == name)
            ?? throw new InvalidDataException($"its front graph's region NMS reads '{name}', which is not a constant");
        init.RawData = ByteString.Empty;
        init.Int64Data.Clear();
        init.FloatData.Clear();
        fill(init);
    }
}
