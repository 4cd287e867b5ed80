using Orleans.Concurrency;

namespace Rkde.Orleans;

/// <summary>
/// A camera's R-KDE model (key = camera id): fitting it and the reference to its stored model. One activation in the
/// cluster; Orleans places it, and activates it again on any silo from grain storage when its silo is gone.
/// </summary>
public interface ICameraGrain : IGrainWithStringKey
{
    /// <summary>
    /// Fits a new model on the camera's normal images (encoded PNG, JPEG, …), stores it and makes it the camera's model:
    /// every score after this returns uses it. Unreadable images are skipped and named in the result's warnings.
    /// A repeat with the same <paramref name="request"/> (a client retrying a fit whose answer it lost) returns the model
    /// that request made instead of fitting again.
    /// </summary>
    /// <remarks>A fit takes seconds to minutes, longer than Orleans' default 30 s response timeout for other calls.</remarks>
    [ResponseTimeout("00:10:00")]
    Task<CameraModelInfo> Fit(byte[][] images, CameraFitSettings settings, Guid request);

    /// <summary>
    /// Adds normal images to the camera's current model (Rkde.MLNet's UpdateRkde: same proposer, features and projection;
    /// the new regions in the density's sample; a new threshold) and stores it as the next version: every score after this
    /// returns uses it, on any silo. A repeat with the same <paramref name="request"/> returns that update's result.
    /// </summary>
    /// <exception cref="CameraNotFittedException">The camera has no model to update.</exception>
    [ResponseTimeout("00:10:00")]
    Task<CameraModelInfo> Update(byte[][] images, Guid request);

    /// <summary>The camera's current model, or null before its first fit. Answers during a fit or update (with the model before it).</summary>
    [AlwaysInterleave]
    Task<ModelReference?> GetModel();

    /// <summary>The camera's current model's description, or null before its first fit.</summary>
    [AlwaysInterleave]
    Task<CameraModelInfo?> GetInfo();
}

/// <summary>
/// Scores images with loaded copies of the cameras' models. A stateless worker: Orleans runs it on the silo whose
/// gateway takes the call, as many activations per silo as it has cores; <see cref="RkdeCluster"/> spreads its calls over
/// the gateways (the key is only a lane), so one busy camera is scored by the whole cluster.
/// </summary>
public interface IScoringGrain : IGrainWithIntegerKey
{
    /// <summary>Scores one encoded image with the camera's current model.</summary>
    Task<CameraScore> Score(string cameraId, byte[] image);
}

/// <summary>An immutable stored blob (key = SHA-256 of its bytes, in hex): one entry of a model .zip.</summary>
public interface IModelBlobGrain : IGrainWithStringKey
{
    /// <summary>Stores the bytes, which must hash to the key; a blob already stored is left as it is. Returns whether it was new.</summary>
    Task<bool> Store(byte[] bytes);

    /// <summary>The stored bytes.</summary>
    [ReadOnly]
    Task<byte[]> Read();
}
