using Rkde.MLNet.Onnx;
using DataType = Onnx.TensorProto.Types.DataType;

namespace Rkde.MLNet.Density;

/// <summary>The signature of the fitted density graph, for schema propagation before Fit.</summary>
internal static class DensityGraphSignature
{
    /// <summary>
    /// A graph whose inputs and outputs have the columns and types the fitted chain has (features → box scores, a
    /// float score, declared rank 0 so that ML.NET types it Single) and trivial content: GetOutputSchema asks ML.NET's
    /// OnnxTransformer for that schema before anything is fitted. It is never run.
    /// </summary>
    public static byte[] Build(string features, int featureDimension, string boxScores, string score)
    {
        var g = new OnnxGraphBuilder("rkde_density_signature");
        g.Input(features, DataType.Float, 1L, "N", featureDimension > 0 ? featureDimension : "D");
        string perBox = g.Node("ReduceMax", [features], ("axes", new long[] { 2 }), ("keepdims", 0L));
        g.Output(boxScores, perBox, DataType.Float, 1L, "N");
        g.Output(score, g.Node("ReduceMax", [perBox], ("keepdims", 0L)), DataType.Float);
        return g.ToBytes();
    }
}
