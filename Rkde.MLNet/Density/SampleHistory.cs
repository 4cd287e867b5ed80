namespace Rkde.MLNet.Density;

/// <summary>
/// What an update needs to continue a model's training sample, saved with the density graph.
/// </summary>
/// <param name="RegionsSeen">Every region the sample was drawn from, over the fit and all updates (Reservoir keeps each with equal probability).</param>
/// <param name="RandomState">The state of the sampler's generator (<see cref="SplitMix64"/>), so that the same update of the same model gives the same model.</param>
/// <param name="Capacity">The most rows the sample keeps (MaxTrainingPoints at the fit or the last update).</param>
/// <param name="ExplainedVariance">
/// The share of the training regions' variance (about the fitted mean) that the kept components explain, from the fit;
/// an update compares the new regions' share with it. NaN when unknown.
/// </param>
internal sealed record SampleHistory(long RegionsSeen, ulong RandomState, int Capacity, double ExplainedVariance);
