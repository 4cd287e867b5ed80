namespace Rkde.MLNet.Density;

/// <summary>How an update of a fitted R-KDE model lets new regions into its training sample (at most MaxTrainingPoints regions).</summary>
public enum UpdateSampling
{
    /// <summary>A uniform sample of every region the model has seen, over the fit and all updates: the past keeps its weight.</summary>
    Reservoir,

    /// <summary>The newest regions: once the sample is full, each new region replaces the oldest, so a changed scene forgets its past.</summary>
    Window,
}
