namespace Rkde.Orleans;

/// <summary>A camera was asked to score before any model was fitted for it.</summary>
[GenerateSerializer]
public sealed class CameraNotFittedException : Exception
{
    public CameraNotFittedException(string cameraId)
        : base($"Camera '{cameraId}' has no model yet: fit one with its normal images first (RkdeCluster.FitAsync).") => CameraId = cameraId;

    /// <summary>The camera's id.</summary>
    [Id(0)] public string CameraId { get; }
}

/// <summary>
/// The database that holds the cameras' models and the cluster's membership cannot be reached. Nothing stored is lost:
/// the call can be repeated once it is back; cameras whose models are loaded keep scoring meanwhile.
/// </summary>
[GenerateSerializer]
public sealed class ModelStoreUnavailableException : Exception
{
    public ModelStoreUnavailableException(string message, Exception? inner = null) : base(message, inner)
    {
    }
}
