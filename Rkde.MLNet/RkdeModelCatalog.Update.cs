using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Data;
using Rkde.MLNet.Checks;
using Rkde.MLNet.Density;
using Rkde.MLNet.Images;
using Rkde.MLNet.Pipeline;

namespace Rkde.MLNet;

public static partial class RkdeModelCatalog
{
    /// <summary>How far below the training regions' explained variance the new regions' may fall before progress suggests a refit.</summary>
    internal const double RefitHintMargin = 0.10;

    /// <summary>
    /// Adds new normal images to a fitted R-KDE model without the images it was fitted on: a model just fitted with
    /// <see cref="RkdeCatalog.RkdeAnomaly"/>, or one read back with <c>Model.Load</c> / <see cref="LoadRkdeModel"/>. The
    /// model's own stages find the new images' regions (through the training images' region filter, as the fit did:
    /// <see cref="RkdeOptions.TrainingIouThreshold"/>) and compute their features; the projection (PCA and scaling) stays;
    /// the regions enter the training sample as <see cref="RkdeUpdateOptions.Sampling"/> says; the KDE's bandwidth is
    /// recomputed. The threshold behind IsAnomaly is chosen again for the model's false-positive rate from its held-out scores
    /// and the new images' scores under the model before the update (held out too: the model had not seen them). The result's
    /// model is a new chain of the same stock ML.NET transformers, in the newest format (save it with <c>Model.Save</c>);
    /// the given model is not changed. Below MaxTrainingPoints, updating with B and then with C gives the density that one
    /// update with B and C gives (the threshold may differ a little: C's images are then scored by the model that holds B).
    /// A model of the density stage alone (<see cref="RkdeCatalog.RkdeDensity"/>) is updated from a column of features instead.
    /// </summary>
    /// <param name="catalog">The model catalog the model is read with (and, for a density model, the new one loaded in).</param>
    /// <param name="model">The fitted R-KDE model.</param>
    /// <param name="newNormals">Normal images, in the image column the model was fitted with (or the features column, for a density model).</param>
    /// <param name="options">Sampling, unreadable images and progress; null: the defaults.</param>
    /// <exception cref="InvalidDataException">The model is not an R-KDE model, or was saved in a format that cannot be updated (refit it once).</exception>
    /// <exception cref="InvalidOperationException">No new image is readable, the new images give no regions, or their features are non-finite.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The input lacks the column the model reads, or its features have another length than the model's.</exception>
    public static RkdeUpdateResult UpdateRkde(this ModelOperationsCatalog catalog, ITransformer model, IDataView newNormals, RkdeUpdateOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(newNormals);
        options ??= new RkdeUpdateOptions();
        options.Validate();
        var progress = options.Progress;

        FittedChain.Updatable chain;
        KdeDensityModel density;
        try
        {
            chain = FittedChain.Open(catalog, model);
        }
        catch (InvalidDataException e)
        {
            throw new InvalidDataException($"The model {e.Message}. Give UpdateRkde a model fitted with RkdeAnomaly (or RkdeDensity).", e);
        }
        try
        {
            density = DensityGraph.Read(chain.Density);
        }
        catch (InvalidDataException e)
        {
            throw new InvalidDataException(
                $"The model cannot be updated: {e.Message}. Refit it with RkdeAnomaly on its normal images once; models saved by this version can be updated.", e);
        }
        var threshold = DensityGraph.ReadThreshold(chain.Density);

        int skipped = 0;
        var input = newNormals;
        bool fromImages = chain.ReadsImages && newNormals.Schema.GetColumnOrNull(chain.FeaturesColumn) is null;
        string imageColumn = options.ImageColumnName;
        if (fromImages)
        {
            SchemaChecks.Text(newNormals.Schema, imageColumn, nameof(RkdeUpdateOptions.ImageColumnName), "paths of the new normal images");
            int readable;
            (input, readable, skipped) = ReadableImages.Filter(newNormals, imageColumn, chain.ImageFolder, options.SkipUnreadableImages,
                progress, "new image", "update with", "updating with", "RkdeUpdate", nameof(RkdeUpdateOptions.SkipUnreadableImages));
            if (readable == 0)
                throw new InvalidOperationException("There are no new images to update the model with: the input has no rows.");
        }
        IDataView features;
        try
        {
            features = chain.Features(input);
        }
        catch (ArgumentOutOfRangeException e)
        {
            throw new ArgumentOutOfRangeException(nameof(newNormals), $"The model's stages cannot read the new input: {e.Message} Give it in the columns " +
                (chain.ReadsImages ? $"the model was fitted on (its image paths in '{imageColumn}')." : $"the model was fitted on (its features in '{chain.FeaturesColumn}')."));
        }
        int d = density.FeatureDimension;
        CheckFeatures(features.Schema, chain.FeaturesColumn, d);

        var update = new DensityUpdate(density, options.Sampling);
        var newScores = new List<float>();
        long rows;
        using (var scorer = threshold is null ? null : new DensityImageScorer(chain.DensityBytes, d))
        {
            var scoring = chain.Scoring;
            var subset = new List<float>();
            rows = RegionFeatureColumn.Read(features, chain.FeaturesColumn, d, scoring, (_, regions, count, boxes, scores) =>
            {
                if (scorer is not null && scoring is null) newScores.Add(scorer.Score(regions, count));
                else if (scorer is not null)
                {
                    // Held out on the regions the model scores (the update itself adds every region the training filter keeps).
                    subset.Clear();
                    foreach (int r in scoring!.Keep(boxes, scores)) subset.AddRange(regions.Slice(r * d, d));
                    newScores.Add(scorer.Score(subset.ToArray(), subset.Count / d));
                }
                update.Add(regions, count);
            }, read => progress?.Report(string.Create(CultureInfo.InvariantCulture, $"RkdeUpdate: read {read} images, {update.RegionsAdded} regions.")));
        }
        if (update.RegionsAdded == 0)
            throw new InvalidOperationException(NoRegions(fromImages ? newNormals : null, imageColumn, chain.FeaturesColumn, rows));
        var updated = update.Finish();
        var newThreshold = threshold?.Pooled(newScores);
        double share = update.ExplainedVariance, trainingShare = density.History.ExplainedVariance;
        progress?.Report(string.Create(CultureInfo.InvariantCulture,
            $"RkdeUpdate ({options.Sampling}): added {update.RegionsAdded} regions of {rows} images; the sample holds {updated.PointCount} of the " +
            $"{update.RegionsSeen} regions seen. The kept projection explains {share:P1} of the new regions' variance (training regions: {trainingShare:P1})") +
            (share < trainingShare - RefitHintMargin
                ? ": well below, so the new images differ in directions the projection drops, and a full refit on all normal images would describe them better."
                : "."));
        if (newThreshold is not null)
            progress?.Report(string.Create(CultureInfo.InvariantCulture,
                $"RkdeUpdate: threshold {newThreshold.Value:G6} (was {threshold!.Value:G6}) for a false-positive rate of {newThreshold.FalsePositiveRate:P1}, from {newThreshold.Images} held-out scores ({newScores.Count} of them the new images' under the model before this update)."));
        return new RkdeUpdateResult(chain.WithDensity(updated, newThreshold, input), (int)rows, skipped, update.RegionsAdded, update.RegionsSeen,
            updated.PointCount, share, trainingShare, newThreshold?.Value ?? float.NaN);
    }

    /// <summary>The features column must be a float vector; of known size, a multiple of the model's feature length.</summary>
    private static void CheckFeatures(DataViewSchema schema, string column, int d)
    {
        SchemaChecks.FloatVector(schema, column, "the model's features column", "the region features");
        if (schema[column].Type is VectorDataViewType { IsKnownSize: true } v && v.Size % d != 0)
            throw new ArgumentOutOfRangeException(nameof(schema), string.Create(CultureInfo.InvariantCulture,
                $"Column '{column}' holds {v.Size} feature values per row, but the model's density stage takes {d} per region: compute the new features with the feature extractor the model was fitted with."));
    }

    /// <summary>"The 3 new images (a.png, b.png, c.png) gave no regions…", naming up to five images when the input holds paths.</summary>
    private static string NoRegions(IDataView? images, string imageColumn, string featuresColumn, long rows)
    {
        string named = "";
        if (images is not null)
        {
            var column = images.Schema[imageColumn];
            var paths = new List<string>();
            using var cursor = images.GetRowCursor([column]);
            var getter = cursor.GetGetter<ReadOnlyMemory<char>>(column);
            ReadOnlyMemory<char> value = default;
            while (paths.Count < 5 && cursor.MoveNext())
            {
                getter(ref value);
                paths.Add(value.ToString());
            }
            named = $" ({string.Join(", ", paths)}{(rows > paths.Count ? ", …" : "")})";
        }
        return string.Create(CultureInfo.InvariantCulture,
            $"The {rows} new images{named} gave no regions in column '{featuresColumn}', so there is nothing to add; the model is unchanged. ") +
            "Give images that show objects, or refit with a lower RoiScoreThreshold or MinBoxSize.";
    }
}
