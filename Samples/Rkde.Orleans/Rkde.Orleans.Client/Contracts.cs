namespace Rkde.Orleans;

/// <summary>
/// The R-KDE settings a camera's model is fitted with (a subset of Rkde.MLNet's RkdeOptions; defaults are its own).
/// Invalid values fail the fit with RkdeOptions' error, which names the option and its valid range.
/// </summary>
[GenerateSerializer, Immutable]
public sealed record CameraFitSettings
{
    /// <summary>Width of the model input; images are stretched to it. Default 360.</summary>
    [Id(0)] public int ImageWidth { get; init; } = 360;

    /// <summary>Height of the model input. Default 240.</summary>
    [Id(1)] public int ImageHeight { get; init; } = 240;

    /// <summary>Principal components kept; null: RkdeOptions' default for the embedded models (64).</summary>
    [Id(2)] public int? PcaComponents { get; init; }

    /// <summary>At most this many training regions build the KDE. Default 40,000.</summary>
    [Id(3)] public int MaxTrainingPoints { get; init; } = 40_000;

    /// <summary>Seed of the region sample and the PCA: the same images and seed give the same model. Default 0.</summary>
    [Id(4)] public int Seed { get; init; }

    /// <summary>Run the default proposer's trunk in INT8 (calibrated on the camera's first training images). Default false.</summary>
    [Id(5)] public bool QuantizeBackbone { get; init; }

    /// <summary>Boxes whose detector score is at or below this are dropped. Default 0.001.</summary>
    [Id(6)] public float RoiScoreThreshold { get; init; } = 0.001f;

    /// <summary>Boxes narrower or lower than this many model-input pixels are dropped. Default 25.</summary>
    [Id(7)] public float MinBoxSize { get; init; } = 25;

    /// <summary>Class-agnostic NMS IoU threshold. Default 0.3.</summary>
    [Id(8)] public float IouThreshold { get; init; } = 0.3f;

    /// <summary>At most this many boxes per image. Default 100.</summary>
    [Id(9)] public int MaxDetectionsPerImage { get; init; } = 100;
}

/// <summary>One entry of a saved model .zip, stored once under the SHA-256 of its bytes.</summary>
[GenerateSerializer, Immutable]
public sealed record ModelEntry([property: Id(0)] string Name, [property: Id(1)] string Sha256, [property: Id(2)] long Length);

/// <summary>
/// What a camera's grain state holds of its model: the version, the .zip's entries by content hash, and the threshold
/// the fit stored in it (null when it stored none). The bytes live in the blob store, where entries equal across cameras
/// (the default models' graphs) are stored once.
/// </summary>
[GenerateSerializer, Immutable]
public sealed record ModelReference(
    [property: Id(0)] string CameraId,
    [property: Id(1)] int Version,
    [property: Id(2)] ModelEntry[] Entries,
    [property: Id(3)] float? Threshold = null)
{
    /// <summary>The model's size as a .zip's uncompressed entries.</summary>
    public long Length => Entries.Sum(e => e.Length);
}

/// <summary>A camera's model as its grain reports it after a fit (or when asked).</summary>
[GenerateSerializer, Immutable]
public sealed record CameraModelInfo
{
    [Id(0)] public required string CameraId { get; init; }

    /// <summary>1 after the first fit, one more with each fit or update.</summary>
    [Id(1)] public int Version { get; init; }

    /// <summary>Images the last fit used (unreadable ones are skipped).</summary>
    [Id(2)] public int ImagesFitted { get; init; }

    /// <summary>Images the last fit or update skipped as unreadable; <see cref="Warnings"/> names them.</summary>
    [Id(3)] public int ImagesSkipped { get; init; }

    [Id(4)] public DateTimeOffset FittedAt { get; init; }

    /// <summary>The model's size (the .zip's uncompressed entries).</summary>
    [Id(5)] public long ModelBytes { get; init; }

    /// <summary>Bytes this fit added to the blob store: entries no camera had stored before.</summary>
    [Id(6)] public long NewBytesStored { get; init; }

    [Id(7)] public string[] Warnings { get; init; } = [];

    [Id(8)] public CameraFitSettings Settings { get; init; } = new();

    /// <summary>The model's threshold (<c>RkdeModelInfo.Threshold</c>: the held-out score that flags <c>FalsePositiveRate</c> of normal images); null when none.</summary>
    [Id(9)] public float? Threshold { get; init; }

    /// <summary>Images the updates since the last fit added (0 right after a fit).</summary>
    [Id(10)] public int ImagesAdded { get; init; }

    /// <summary>When the last update since the last fit was stored; null right after a fit.</summary>
    [Id(11)] public DateTimeOffset? UpdatedAt { get; init; }
}

/// <summary>One image's score from a camera's model.</summary>
[GenerateSerializer, Immutable]
public sealed record CameraScore
{
    /// <summary>The image's anomaly score: its highest box score, 0 without boxes.</summary>
    [Id(0)] public float Score { get; init; }

    /// <summary>5 values per box, x1, y1, x2, y2 in the image's own pixels and the box's score, highest score first.</summary>
    [Id(1)] public float[] Boxes { get; init; } = [];

    [Id(2)] public int Width { get; init; }

    [Id(3)] public int Height { get; init; }

    /// <summary>The model version that scored the image.</summary>
    [Id(4)] public int ModelVersion { get; init; }

    /// <summary>The silo that scored it (its address).</summary>
    [Id(5)] public string Silo { get; init; } = "";

    /// <summary>Whether <see cref="Score"/> reaches the model's <see cref="Threshold"/> (the model's own verdict).</summary>
    [Id(6)] public bool IsAnomaly { get; init; }

    /// <summary>The threshold the camera's model was fitted with; null when it stored none.</summary>
    [Id(7)] public float? Threshold { get; init; }
}
