using Rkde.MLNet.Checks;
using Rkde.MLNet.Density;

namespace Rkde.MLNet;

/// <summary>
/// Options of <see cref="RkdeModelCatalog.UpdateRkde"/>: how new normal images enter a fitted model. Everything else (image
/// size, image folder, detector, features, projection, MaxTrainingPoints) is the fitted model's own.
/// </summary>
public sealed class RkdeUpdateOptions
{
    /// <summary>The input column of image paths: the one the model was fitted with (RkdeOptions.ImageColumnName). Default "ImagePath".</summary>
    public string ImageColumnName = "ImagePath";

    /// <summary>
    /// How the new regions enter the training sample. Default <see cref="UpdateSampling.Reservoir"/>: a uniform sample of every
    /// region the model has seen; <see cref="UpdateSampling.Window"/>: the newest MaxTrainingPoints regions.
    /// </summary>
    public UpdateSampling Sampling = UpdateSampling.Reservoir;

    /// <summary>
    /// Skip new images that are missing or do not decode completely, each with a warning through <see cref="Progress"/>;
    /// false: the update throws, naming the first such image and its row. It throws either way when none is readable. Default true.
    /// </summary>
    public bool SkipUnreadableImages = true;

    /// <summary>Receives progress messages and warnings, among them how well the kept projection describes the new regions.</summary>
    public IProgress<string>? Progress;

    /// <summary>Throws when a value is invalid, naming the option and the valid values.</summary>
    public void Validate()
    {
        OptionChecks.NotEmpty(nameof(ImageColumnName), ImageColumnName);
        OptionChecks.Defined(nameof(Sampling), Sampling);
    }
}
