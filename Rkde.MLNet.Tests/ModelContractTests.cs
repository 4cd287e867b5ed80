using Microsoft.ML;
using Rkde.MLNet.Onnx;
using DataType = Onnx.TensorProto.Types.DataType;
using Rkde.MLNet.Regions;

namespace Rkde.MLNet.Tests;

/// <summary>User models that break the slot contracts fail when the estimator is built, naming the tensor.</summary>
[TestClass]
public sealed class ModelContractTests
{
    private static RkdeOptions Options(byte[] proposer, byte[] features) => new()
    {
        ImageWidth = TinyModels.Width,
        ImageHeight = TinyModels.Height,
        ProposerModelBytes = proposer,
        FeatureModelBytes = features,
    };

    private static string BuildFails(byte[] proposer, byte[] features) =>
        Assert.Throws<InvalidOperationException>(() => new MLContext().Transforms.RkdeAnomaly(Options(proposer, features))).Message;

    [TestMethod]
    public void ProposerWithoutAnImageInputIsNamed()
    {
        string m = BuildFails(TinyModels.Proposer(imageName: "input"), TinyModels.Features());
        StringAssert.Contains(m, "proposer model has no input tensor 'image'");
        StringAssert.Contains(m, "float [1, 3, 24, 32]");
        StringAssert.Contains(m, "'input'");
    }

    [TestMethod]
    public void ProposerWithWrongElementTypeOrSizeIsNamed()
    {
        string m = BuildFails(TinyModels.Proposer(imageType: DataType.Double), TinyModels.Features());
        StringAssert.Contains(m, "input tensor 'image' is double [1, 3, 24, 32]; expected float [1, 3, 24, 32]");
        m = BuildFails(TinyModels.Proposer(width: 64), TinyModels.Features());
        StringAssert.Contains(m, "input tensor 'image' is float [1, 3, 24, 64]; expected float [1, 3, 24, 32]");
    }

    [TestMethod]
    public void FeatureModelWithWrongOutputRankOrNameIsNamed()
    {
        string m = BuildFails(TinyModels.Proposer(), TinyModels.Features(rankTwoOutput: true));
        StringAssert.Contains(m, "feature model's output tensor 'features' is float [?, 12]; expected float [1, ?, ?]");
        m = BuildFails(TinyModels.Proposer(), TinyModels.Features(outputName: "embeddings"));
        StringAssert.Contains(m, "feature model has no output tensor 'features'");
        StringAssert.Contains(m, "'embeddings'");
    }

    [TestMethod]
    public void FeatureModelInputThatNoStageProducesIsNamed()
    {
        string m = BuildFails(TinyModels.Proposer(), TinyModels.Features(imageInput: "layer9"));
        StringAssert.Contains(m, "input tensor 'layer9' that is neither 'image', 'boxes' nor an output of the proposer");
        StringAssert.Contains(m, "'fmap'");
    }

    [TestMethod]
    public void ProposerExportedForTheOtherStageIsNamed()
    {
        string m = BuildFails(TinyModels.Proposer(roiStage: "rpn"), TinyModels.Features());
        StringAssert.Contains(m, "exported for RoiStage 'rpn' (metadata 'roi_stage'), but RoiStage = Rcnn");
        var options = Options(TinyModels.Proposer(roiStage: "rpn"), TinyModels.Features());
        options.RoiStage = RoiStage.Rpn;
        new MLContext().Transforms.RkdeAnomaly(options);
    }

    [TestMethod]
    public void UnreadableOrMissingModelFilesAreNamed()
    {
        var e = Assert.Throws<InvalidDataException>(() => new MLContext().Transforms.RkdeAnomaly(Options([1, 2, 3, 4, 5], TinyModels.Features())));
        StringAssert.Contains(e.Message, "proposer model (ProposerModelBytes) is not a readable ONNX model");
        var missing = Path.Combine(Path.GetTempPath(), "no-such-model.onnx");
        var f = Assert.Throws<FileNotFoundException>(() => new MLContext().Transforms.RkdeAnomaly(new RkdeOptions { FeatureModelPath = missing }));
        StringAssert.Contains(f.Message, $"FeatureModelPath = '{missing}' does not exist");
    }

    [TestMethod]
    public void InvalidOptionsNameOptionValueAndRange()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new MLContext().Transforms.RkdeAnomaly(new RkdeOptions { ImageWidth = 0 }));
        StringAssert.Contains(e.Message, "ImageWidth = 0 is invalid: it must be in [1, 8192]");
        e = Assert.Throws<ArgumentOutOfRangeException>(() => new MLContext().Transforms.RkdeAnomaly(new RkdeOptions { IouThreshold = 2 }));
        StringAssert.Contains(e.Message, "IouThreshold = 2");
        var a = Assert.Throws<ArgumentException>(() => new MLContext().Transforms.RkdeAnomaly(new RkdeOptions { ScoreColumnName = "Boxes" }));
        StringAssert.Contains(a.Message, "BoxesColumnName and ScoreColumnName are all 'Boxes'");
    }

    [TestMethod]
    public void EmittedGraphsCarryAndCheckTheFormatVersion()
    {
        var g = new OnnxGraphBuilder("old");
        g.Input("x", DataType.Float, 1L);
        g.Output("y", "x", DataType.Float, 1L);
        g.Metadata(OnnxModelContract.FormatVersionKey, "0");
        g.Metadata("rkde_stage", "density");
        var e = Assert.Throws<InvalidDataException>(() => OnnxModelContract.Emitted("density graph", g.ToBytes(), "density"));
        StringAssert.Contains(e.Message, "rkde_format_version '0'; this Rkde.MLNet reads version 3");
    }

    [TestMethod]
    public void RewiringRenamesTensorsToColumnsWithoutTouchingTheGraph()
    {
        var contract = OnnxModelContract.Load("proposer model", "p", null, "b", TinyModels.Proposer(), () => []);
        var bytes = contract.Rewire([("image", "Pixels", null)], [("boxes", "Boxes", null)]);
        var rewired = OnnxModelContract.Load("proposer model", "p", null, "b", bytes, () => []);
        CollectionAssert.AreEqual(new[] { "Pixels" }, rewired.InputNames.ToArray());
        CollectionAssert.AreEqual(new[] { "Boxes" }, rewired.OutputNames.ToArray(), "only requested outputs remain");
        var e = Assert.Throws<InvalidOperationException>(() => contract.Rewire([], [("boxes", "image", null)]));
        StringAssert.Contains(e.Message, "already uses the name 'image'");
    }
}
