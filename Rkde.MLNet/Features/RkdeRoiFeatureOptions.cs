using Rkde.MLNet.Checks;
namespace Rkde.MLNet.Features;

/// <summary>Options of <see cref="RkdeCatalog.RkdeRoiFeatures"/>: a feature-extractor ONNX model over the kept boxes.</summary>
public sealed class RkdeRoiFeatureOptions
{
    /// <summary>Input column: the model input's pixels, float vector 3 × ImageHeight × ImageWidth, RGB planar, 0–1. Default "Pixels".</summary>
    public string PixelsColumnName = "Pixels";

    /// <summary>Input column: boxes in pixels of the model input, 4 per box. Default "RegionBoxes".</summary>
    public string BoxesColumnName = "RegionBoxes";

    /// <summary>Width of the model input. Default 360.</summary>
    public int ImageWidth = 360;

    /// <summary>Height of the model input. Default 240.</summary>
    public int ImageHeight = 240;

    /// <summary>Path of a feature-extractor ONNX model; null with null bytes: the built-in default.</summary>
    public string? FeatureModelPath;

    /// <summary>A feature-extractor ONNX model in memory; null with a null path: the built-in default.</summary>
    public byte[]? FeatureModelBytes;

    /// <summary>Output column: float vector, D features per box, boxes in order. Default "Features".</summary>
    public string FeaturesColumnName = "Features";

    /// <summary>GPU for ONNX Runtime (CUDA device id); null: CPU.</summary>
    public int? GpuDeviceId;

    /// <summary>When the GPU cannot be used, run on the CPU instead of failing. Default true.</summary>
    public bool FallbackToCpu = true;

    /// <summary>A copy that shares nothing mutable with this object (model bytes copied).</summary>
    internal RkdeRoiFeatureOptions Clone()
    {
        var copy = (RkdeRoiFeatureOptions)MemberwiseClone();
        copy.FeatureModelBytes = FeatureModelBytes?.ToArray();
        return copy;
    }

    /// <summary>Throws when a value is invalid, naming the option, its value and the valid range.</summary>
    public void Validate()
    {
        OptionChecks.NotEmpty(nameof(PixelsColumnName), PixelsColumnName);
        OptionChecks.NotEmpty(nameof(BoxesColumnName), BoxesColumnName);
        OptionChecks.NotEmpty(nameof(FeaturesColumnName), FeaturesColumnName);
        OptionChecks.ImageSize(nameof(ImageWidth), ImageWidth, nameof(ImageHeight), ImageHeight);
        OptionChecks.AtLeast(nameof(GpuDeviceId), GpuDeviceId ?? 0, 0);
    }
}
