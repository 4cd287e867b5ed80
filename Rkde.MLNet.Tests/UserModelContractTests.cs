using Microsoft.ML;
using Rkde.MLNet.Onnx;
using DataType = Onnx.TensorProto.Types.DataType;

namespace Rkde.MLNet.Tests;

/// <summary>
/// Contract breaks not covered by Pipeline/ModelContractTests: each fails when the estimator is built, naming the
/// tensor. The graphs are declarations only (the checks read inputs and outputs, nothing runs).
/// </summary>
[TestClass]
public sealed class UserModelContractTests
{
    private static byte[] Proposer(bool scores = true, long boxValues = 4, string? extraInput = null)
    {
        var g = new OnnxGraphBuilder("proposer");
        g.Input("image", DataType.Float, 1L, 3L, (long)TinyModels.Height, (long)TinyModels.Width);
        if (extraInput is not null)
            g.Input(extraInput, DataType.Float, 1L);
        g.Output("boxes", g.Initializer("b", new float[boxValues], 1, 1, boxValues), DataType.Float, 1L, "N", boxValues);
        if (scores)
            g.Output("scores", g.Initializer("s", [1f], 1, 1), DataType.Float, 1L, "N");
        return g.ToBytes();
    }

    private static byte[] Features(string boxesInput = "boxes", object? length = null)
    {
        var g = new OnnxGraphBuilder("features");
        g.Input(boxesInput, DataType.Float, 1L, "N", 4L);
        g.Output("features", g.Initializer("f", new float[12], 1, 1, 12), DataType.Float, 1L, "N", length ?? 12L);
        return g.ToBytes();
    }

    private static string BuildFails(byte[] proposer, byte[] features) =>
        Assert.Throws<InvalidOperationException>(() => new MLContext().Transforms.RkdeAnomaly(new RkdeOptions
        {
            ImageWidth = TinyModels.Width,
            ImageHeight = TinyModels.Height,
            ProposerModelBytes = proposer,
            FeatureModelBytes = features,
        })).Message;

    [TestMethod]
    public void TheDeclarationOnlyModelsMeetTheContract() =>
        new MLContext().Transforms.RkdeAnomaly(new RkdeOptions
        {
            ImageWidth = TinyModels.Width,
            ImageHeight = TinyModels.Height,
            ProposerModelBytes = Proposer(),
            FeatureModelBytes = Features(),
        });

    [TestMethod]
    public void ProposerInputThePipelineCannotFeedIsNamed() =>
        StringAssert.Contains(BuildFails(Proposer(extraInput: "threshold"), Features()), "proposer model has an input tensor 'threshold' the pipeline cannot feed");

    [TestMethod]
    public void ProposerWithoutScoresIsNamed()
    {
        string m = BuildFails(Proposer(scores: false), Features());
        StringAssert.Contains(m, "proposer model has no output tensor 'scores' (expected float [1, ?]); its outputs are 'boxes'");
    }

    [TestMethod]
    public void ProposerBoxesOfTheWrongShapeAreNamed() =>
        StringAssert.Contains(BuildFails(Proposer(boxValues: 5), Features()), "proposer model's output tensor 'boxes' is float [1, ?, 5]; expected float [1, ?, 4]");

    [TestMethod]
    public void FeatureModelWithoutABoxesInputIsNamed()
    {
        string m = BuildFails(Proposer(), Features(boxesInput: "rois"));
        StringAssert.Contains(m, "feature model has no input tensor 'boxes' (expected float [1, ?, 4]); its inputs are 'rois'");
    }

    [TestMethod]
    public void FeatureModelWithASymbolicFeatureLengthIsNamed() =>
        StringAssert.Contains(BuildFails(Proposer(), Features(length: "D")), "feature model's output tensor 'features' has a symbolic last dimension");

    [TestMethod]
    public void AModelTooOldToComposeIntoOneGraphIsNamedWithTheFix()
    {
        var old = global::Onnx.ModelProto.Parser.ParseFrom(Features());
        old.OpsetImport.Single().Version = 9;
        string m = BuildFails(Proposer(), Google.Protobuf.MessageExtensions.ToByteArray(old));
        StringAssert.Contains(m, "The feature model uses ONNX opset 9; R-KDE composes models of opset 11 or later into one graph. Export it again at opset 11 or later");
    }
}
