using Google.Protobuf;
using Onnx;
using Rkde.MLNet.Onnx;
using DataType = Onnx.TensorProto.Types.DataType;

namespace Rkde.MLNet.Tests.Onnx;

/// <summary>
/// Each rewrite of <see cref="OnnxOpsetUpgrade"/>: a small graph written for an old opset and its upgrade give the same
/// outputs in ONNX Runtime (which runs both opsets), and the upgraded model declares the target opset.
/// </summary>
[TestClass]
public sealed class OnnxOpsetUpgradeTests
{
    private static readonly float[] Input = Enumerable.Range(0, 24).Select(i => MathF.Sin(i * 0.7f) * 3).ToArray();
    private static readonly long[] Shape = [2, 3, 4];

    private static byte[] Graph(int opset, Func<OnnxGraphBuilder, string, string> body, params object[] outputDims)
    {
        var g = new OnnxGraphBuilder("upgrade_case", opset);
        string x = g.Input("x", DataType.Float, 2L, 3L, 4L);
        g.Output("y", body(g, x), DataType.Float, outputDims);
        return g.ToBytes();
    }

    /// <summary>Runs the old graph and its upgrade to <paramref name="target"/>; their outputs must be identical.</summary>
    private static void AssertSameOutputs(byte[] old, int target = 18)
    {
        var model = ModelProto.Parser.ParseFrom(old);
        var upgraded = OnnxOpsetUpgrade.Upgrade(model, target, "the test model");
        Assert.AreEqual(target, OnnxOpsetUpgrade.DefaultOpset(upgraded));
        using var before = new OnnxRun(old);
        using var after = new OnnxRun(upgraded.ToByteArray());
        var expected = before.Run(("x", Input, Shape))["y"];
        var actual = after.Run(("x", Input, Shape))["y"];
        CollectionAssert.AreEqual(expected.Shape, actual.Shape);
        CollectionAssert.AreEqual((float[])expected.Data, (float[])actual.Data);
    }

    [TestMethod]
    public void SqueezeAndUnsqueezeAxesBecomeInputs() =>
        AssertSameOutputs(Graph(11, (g, x) => g.Node("Squeeze", [g.Node("Unsqueeze", [x], ("axes", new long[] { 0, 3 }))], ("axes", new long[] { 0 })),
            2L, 3L, 1L, 4L));

    [TestMethod]
    public void ReduceAxesBecomeInputsAt13And18() =>
        AssertSameOutputs(Graph(11, (g, x) => g.Node("Add", [
            g.Node("ReduceSum", [x], ("axes", new long[] { 1 }), ("keepdims", 0L)),
            g.Node("ReduceMax", [x], ("axes", new long[] { 1 }), ("keepdims", 0L))]), 2L, 4L));

    [TestMethod]
    public void ReduceMeanOfOpset17BecomesOpset18() =>
        AssertSameOutputs(Graph(17, (g, x) => g.Node("ReduceMean", [x], ("axes", new long[] { 2, 0 }), ("keepdims", 1L)), 1L, 3L, 1L));

    [TestMethod]
    public void SplitSizesBecomeAnInput() =>
        AssertSameOutputs(Graph(11, (g, x) =>
        {
            var parts = g.Node("Split", [x], ["a", "b"], ("axis", 2L), ("split", new long[] { 1, 3 }));
            return g.Node("Concat", [parts[1], parts[0]], ("axis", 2L));
        }, 2L, 3L, 4L));

    [TestMethod]
    [DataRow("Softmax")]
    [DataRow("LogSoftmax")]
    public void SoftmaxKeepsItsFlattenedMeaning(string op) =>
        AssertSameOutputs(Graph(11, (g, x) => g.Node(op, [x], ("axis", 1L)), 2L, 3L, 4L));

    [TestMethod]
    public void SoftmaxWithoutAxisKeepsItsFlattenedMeaning() =>
        AssertSameOutputs(Graph(12, (g, x) => g.Node("Softmax", [x]), 2L, 3L, 4L));

    [TestMethod]
    public void DropoutLosesItsRatio() =>
        AssertSameOutputs(Graph(11, (g, x) => g.Node("Dropout", [x], ("ratio", 0.5f)), 2L, 3L, 4L));

    [TestMethod]
    public void RoiAlignKeepsItsOutputHalfPixelCoordinates()
    {
        byte[] Model(int opset)
        {
            var g = new OnnxGraphBuilder("roi_case", opset);
            string x = g.Input("x", DataType.Float, 2L, 3L, 4L);
            string image = opset < 13 ? g.Node("Unsqueeze", [x], ("axes", new long[] { 0 })) : g.Node("Unsqueeze", [x, g.Int64s(0)]);
            string rois = g.Initializer("rois", [0.3f, 0.2f, 2.7f, 1.9f], 1, 4);
            string batch = g.Initializer("batch", [0L], 1);
            g.Output("y", g.Node("RoiAlign", [image, rois, batch], ("output_height", 2L), ("output_width", 2L), ("sampling_ratio", 2L)),
                DataType.Float, 1L, 2L, 2L, 2L);
            return g.ToBytes();
        }
        AssertSameOutputs(Model(11));
        // The rewrite matters: the same node read under opset 16's default gives other values.
        using var old = new OnnxRun(Model(11));
        using var newer = new OnnxRun(Model(16));
        CollectionAssert.AreNotEqual((float[])old.Run(("x", Input, Shape))["y"].Data, (float[])newer.Run(("x", Input, Shape))["y"].Data);
    }

    [TestMethod]
    public void SubgraphsAreUpgradedToo()
    {
        var g = new OnnxGraphBuilder("if_case", 11);
        string x = g.Input("x", DataType.Float, 2L, 3L, 4L);
        var branch = new OnnxGraphBuilder("branch", 11);
        string reduced = branch.Node("ReduceSum", [x], ("axes", new long[] { 2 }), ("keepdims", 0L));
        branch.Output("r", reduced, DataType.Float, 2L, 3L);
        var condition = g.Initializer("condition", [1L], 1);
        string flag = g.Node("Cast", [g.Node("Squeeze", [condition], ("axes", new long[] { 0 }))], ("to", (long)DataType.Bool));
        string y = g.Node("If", [flag], ("then_branch", branch.Graph), ("else_branch", branch.Graph));
        g.Output("y", y, DataType.Float, 2L, 3L);
        AssertSameOutputs(g.ToBytes());
    }

    [TestMethod]
    public void ModelsBelowOpset11AreRefusedNamingTheFix()
    {
        var model = ModelProto.Parser.ParseFrom(Graph(9, (g, x) => g.Node("Relu", [x]), 2L, 3L, 4L));
        var e = Assert.Throws<InvalidOperationException>(() => OnnxOpsetUpgrade.Upgrade(model, 18, "The proposer model"));
        StringAssert.Contains(e.Message, "The proposer model uses ONNX opset 9");
        StringAssert.Contains(e.Message, "Export it again at opset 11 or later");
    }

    [TestMethod]
    public void RemovedOperatorsAreRefusedNamingTheNode()
    {
        var model = ModelProto.Parser.ParseFrom(Graph(11, (g, x) => g.Node("Relu", [x]), 2L, 3L, 4L));
        model.Graph.Node[0].OpType = "Upsample";
        var e = Assert.Throws<InvalidOperationException>(() => OnnxOpsetUpgrade.Upgrade(model, 18, "The feature model"));
        StringAssert.Contains(e.Message, $"The feature model's node '{model.Graph.Node[0].Name}' is Upsample");
    }

    [TestMethod]
    public void TheSameOpsetIsACopy()
    {
        var model = ModelProto.Parser.ParseFrom(Graph(18, (g, x) => g.Node("Relu", [x]), 2L, 3L, 4L));
        var same = OnnxOpsetUpgrade.Upgrade(model, 18, "m");
        Assert.AreNotSame(model, same);
        CollectionAssert.AreEqual(model.ToByteArray(), same.ToByteArray());
    }
}
