using Microsoft.ML;

namespace Rkde.MLNet;

/// <summary>What <see cref="RkdeModelCatalog.UpdateRkde"/> made: the updated model and how the update went.</summary>
public sealed class RkdeUpdateResult
{
    internal RkdeUpdateResult(ITransformer model, int imagesAdded, int imagesSkipped, long regionsAdded, long regionsSeen,
        int trainingPoints, double explainedVariance, double trainingExplainedVariance, float threshold)
    {
        Threshold = threshold;
        Model = model;
        ImagesAdded = imagesAdded;
        ImagesSkipped = imagesSkipped;
        RegionsAdded = regionsAdded;
        RegionsSeen = regionsSeen;
        TrainingPoints = trainingPoints;
        ExplainedVariance = explainedVariance;
        TrainingExplainedVariance = trainingExplainedVariance;
    }

    /// <summary>The updated model: the same stock ML.NET chain as the one given, with the new density; save it with <c>Model.Save</c>.</summary>
    public ITransformer Model { get; }

    /// <summary>New images whose regions were added.</summary>
    public int ImagesAdded { get; }

    /// <summary>New images skipped as unreadable.</summary>
    public int ImagesSkipped { get; }

    /// <summary>Regions of the new images offered to the training sample.</summary>
    public long RegionsAdded { get; }

    /// <summary>Regions the model has seen over its fit and all its updates.</summary>
    public long RegionsSeen { get; }

    /// <summary>Regions in the updated model's training sample (at most its MaxTrainingPoints).</summary>
    public int TrainingPoints { get; }

    /// <summary>
    /// The share of the new regions' variance (about the fitted mean) that the kept principal components explain, in [0, 1].
    /// Well below <see cref="TrainingExplainedVariance"/>, the new images differ from the training ones in directions the
    /// projection drops, and a full refit describes them better.
    /// </summary>
    public double ExplainedVariance { get; }

    /// <summary>
    /// The updated model's threshold behind IsAnomaly: chosen for the model's false-positive rate from its held-out scores pooled
    /// with the new images' scores under the model before the update (never a score of an image the model had absorbed). NaN
    /// for a model without a threshold (RkdeDensity).
    /// </summary>
    public float Threshold { get; }

    /// <summary>The same share for the regions the model was fitted on (NaN for a model that does not record it).</summary>
    public double TrainingExplainedVariance { get; }
}
