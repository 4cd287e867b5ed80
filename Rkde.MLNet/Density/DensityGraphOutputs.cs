using Rkde.MLNet.Onnx;
using DataType = Onnx.TensorProto.Types.DataType;

namespace Rkde.MLNet.Density;

/// <summary>The tensor names of the emitted density graph the pipeline wires, and the graph's signature.</summary>
internal static class DensityGraphOutputs
{
    public const string Features = "features";
    public const string BoxScores = "box_scores";
    public const string Score = "score";

    /// <summary>
    /// A graph with the fitted density graph's inputs and outputs (renamed to the given columns) and trivial content:
    /// GetOutputSchema asks ML.NET's OnnxTransformer for the schema it will produce before anything is fitted.
    /// </summary>
    public static byte[] Signature(string features, int featureDimension, string boxScores, string score)
    {
        var g = new OnnxGraphBuilder("rkde_density_signature");
        g.Input(features, DataType.Float, 1L, "N", featureDimension > 0 ? featureDimension : "D");
        string perBox = g.Node("ReduceMax", [features], ("axes", new long[] { 2 }), ("keepdims", 0L));
        g.Output(boxScores, perBox, DataType.Float, 1L, "N");
        g.Output(score, g.Node("ReduceMax", [perBox], ("keepdims", 0L)) is var m ? g.Node("Reshape", [m, g.Int64s(1)]) : "", DataType.Float, 1L);
        return g.ToBytes();
    }
}
