using Orleans.Concurrency;
using Orleans.Runtime;
using Rkde.Orleans;

namespace Rkde.Orleans.Grains;

/// <summary>
/// Scores images for any camera on the silo that takes the call, with the silo's loaded copy of the camera's current
/// model (asked of the camera's grain on each call, so an update made on any silo is what the next score uses).
/// </summary>
[StatelessWorker]
internal sealed class ScoringGrain(LoadedModels models, ILocalSiloDetails silo) : Grain, IScoringGrain
{
    public async Task<CameraScore> Score(string cameraId, byte[] image)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(cameraId);
        ArgumentNullException.ThrowIfNull(image);
        var reference = await GrainFactory.GetGrain<ICameraGrain>(cameraId).GetModel() ?? throw new CameraNotFittedException(cameraId);
        return await models.Score(reference, image, silo.SiloAddress.ToString());
    }
}
