using Rkde.MLNet.Onnx;
using DataType = Onnx.TensorProto.Types.DataType;

namespace Rkde.MLNet.Tests.TestSupport;

/// <summary>Small ONNX models meeting (or deliberately breaking) the proposer and feature-model slot contracts.</summary>
internal static class TinyModels
{
    public const int Width = 32;
    public const int Height = 24;

    /// <summary>Five fixed boxes (input pixels): the four quadrants and a centred one.</summary>
    public static readonly float[] Boxes = [0, 0, 16, 12, 16, 0, 32, 12, 0, 12, 16, 24, 16, 12, 32, 24, 4, 4, 28, 20];

    /// <summary>
    /// Proposer: the fixed boxes, each scored with the image's mean brightness (so a black image keeps no box), plus an
    /// extra output "fmap" (the image itself) that a feature model can read by name.
    /// </summary>
    public static byte[] Proposer(string imageName = "image", DataType imageType = DataType.Float, int width = Width, int height = Height,
        string? roiStage = null)
    {
        var g = new OnnxGraphBuilder("tiny_proposer");
        if (roiStage is not null)
            g.Metadata("roi_stage", roiStage);
        string image = g.Input(imageName, imageType, 1L, 3L, (long)height, (long)width);
        string mean = g.Node("ReduceMean", [image], ("keepdims", 0L));
        int n = Boxes.Length / 4;
        string ones = g.Initializer("ones", Enumerable.Repeat(1f, n).ToArray(), 1, n);
        g.Output("boxes", g.Initializer("fixed_boxes", Boxes, 1, n, 4), DataType.Float, 1L, "N", 4L);
        g.Output("scores", g.Node("Mul", [ones, mean]), DataType.Float, 1L, "N");
        g.Output("fmap", image, DataType.Float, 1L, 3L, (long)height, (long)width);
        return g.ToBytes();
    }

    /// <summary>Feature model: RoiAlign 2 × 2 over the RGB input named <paramref name="imageInput"/> → 12 features per box.</summary>
    public static byte[] Features(string imageInput = "image", string outputName = "features", bool rankTwoOutput = false, bool nan = false)
    {
        var g = new OnnxGraphBuilder("tiny_features");
        string boxes = g.Input("boxes", DataType.Float, 1L, "N", 4L);
        string image = g.Input(imageInput, DataType.Float, 1L, 3L, (long)Height, (long)Width);
        string rois = g.Node("Reshape", [boxes, g.Int64s(-1, 4)]);
        string x1 = g.Node("Gather", [rois, g.Int64s(0)], ("axis", 1L));
        string batch = g.Node("Cast", [g.Node("Reshape", [g.Node("Mul", [x1, g.Scalar(0f)]), g.Int64s(-1)])], ("to", (long)DataType.Int64));
        string pooled = g.Node("RoiAlign", [image, rois, batch], ("output_height", 2L), ("output_width", 2L), ("sampling_ratio", 2L),
            ("spatial_scale", 1f));
        string features = g.Node("Reshape", [pooled, g.Int64s(1, -1, 12)]);
        if (nan)
            features = g.Node("Div", [features, g.Scalar(0f)]) is var inf ? g.Node("Sub", [inf, inf]) : features;
        if (rankTwoOutput)
            g.Output(outputName, g.Node("Reshape", [features, g.Int64s(-1, 12)]), DataType.Float, "N", 12L);
        else
            g.Output(outputName, features, DataType.Float, 1L, "N", 12L);
        return g.ToBytes();
    }
}
