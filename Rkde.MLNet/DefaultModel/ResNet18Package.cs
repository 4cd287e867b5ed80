using Onnx;
using Rkde.MLNet.Onnx;

namespace Rkde.MLNet.DefaultModel;

/// <summary>
/// Finds and reads the pretrained ResNet18 (ImageNet, CNTK export, MIT) shipped in the NuGet package
/// Microsoft.ML.DnnImageFeaturizer.ResNet18: next to the program (the package copies <c>DnnImageModels/</c> into the
/// output folder) or, failing that, in the NuGet package cache.
/// </summary>
internal static class ResNet18Package
{
    public const string PackageId = "Microsoft.ML.DnnImageFeaturizer.ResNet18";
    public const string PackageVersion = "0.24.0";
    private const string ModelRelativePath = "DnnImageModels/ResNet18Onnx/ResNet18.onnx";
    private const string PreprocessRelativePath = "DnnImageModels/ResNetPrepOnnx/ResNetPreprocess.onnx";

    /// <summary>The trunk: CNTK export, opset 8, input <c>Input247</c> 1×3×224×224 (BGR 0–255 minus the mean image).</summary>
    public static ModelProto LoadModel() => Load(ModelRelativePath);

    /// <summary>
    /// The per-channel mean the package subtracts, in BGR order on the 0–255 scale: the spatial average of its
    /// 224×224 mean image, about (103.1, 115.9, 123.2) — the usual ImageNet means. A per-channel mean works at any input size;
    /// the mean image varies by only 3–6 grey levels (standard deviation) around it, a smooth vignette tied to 224×224 crops.
    /// </summary>
    public static float[] ChannelMeanBgr()
    {
        var prep = Load(PreprocessRelativePath);
        var mean = prep.Graph.Initializer.Single(t => t.Name == "MeanImage");
        var values = OnnxTensors.ToFloats(mean);
        int plane = values.Length / 3;
        var result = new float[3];
        for (int c = 0; c < 3; c++)
        {
            double sum = 0;
            for (int i = 0; i < plane; i++)
                sum += values[c * plane + i];
            result[c] = (float)(sum / plane);
        }
        return result;
    }

    private static ModelProto Load(string relativePath)
    {
        string path = Locate(relativePath);
        using var stream = File.OpenRead(path);
        return ModelProto.Parser.ParseFrom(stream);
    }

    private static string Locate(string relativePath)
    {
        var candidates = new List<string> { Path.Combine(AppContext.BaseDirectory, relativePath) };
        string? cache = Environment.GetEnvironmentVariable("NUGET_PACKAGES");
        if (string.IsNullOrEmpty(cache))
            cache = Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        candidates.Add(Path.Combine(cache, PackageId.ToLowerInvariant(), PackageVersion, "tools", relativePath));
        foreach (var candidate in candidates)
        {
            if (File.Exists(candidate))
                return candidate;
        }
        throw new FileNotFoundException(
            $"The default R-KDE models are built from the NuGet package {PackageId} {PackageVersion}, whose file " +
            $"'{relativePath}' was found neither next to the program nor in the NuGet cache (looked in: " +
            $"{string.Join(", ", candidates)}). Add <PackageReference Include=\"{PackageId}\" Version=\"{PackageVersion}\" /> " +
            "to the program's project (it copies DnnImageModels/ into the output folder), or set ProposerModelPath/FeatureModelPath " +
            "to models of your own.", candidates[0]);
    }
}
