using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Trainers;
using Rkde.MLNet.Checks;

namespace Rkde.MLNet.Density;

/// <summary>
/// Turns the density graph's one-slot image score into a float column with stock, saveable ML.NET parts.
/// </summary>
/// <remarks>
/// OnnxTransformer types a rank-0 ONNX output as Single but cannot read it (ML.NET 6.0), and a [1] output becomes a
/// one-slot vector; no stock transform maps a one-slot vector to a scalar. A linear regression does, and one with
/// weight exactly 1 and bias exactly 0 is an exact identity (1·x + 0 = x in float). Online gradient descent with
/// learning rate ½, one unshuffled, unaveraged pass over (x = 1, y = 1), (x = 0, y = 0) lands on exactly those values
/// (checked below); its output column is always "Score", and it saves and loads with no registration.
/// </remarks>
internal static class ScalarScore
{
    /// <summary>The column the density graph writes its one-slot image score to (dropped from the output).</summary>
    public const string SlotColumn = InternalColumns.Prefix + "score_slot";

    /// <summary>The column ML.NET's regression scorer writes.</summary>
    public const string RegressionScoreColumn = "Score";

    private sealed class Example
    {
        [ColumnName(SlotColumn)]
        [VectorType(1)]
        public float[] Slot { get; set; } = [];

        public float Label { get; set; }
    }

    /// <summary>Appends the identity regression (slot → "Score") and, for another name, a copy to <paramref name="scoreColumn"/>.</summary>
    public static TransformerChain<ITransformer> Append(TransformerChain<ITransformer> chain, TransformsCatalog catalog, IDataView input,
        string scoreColumn)
    {
        var ml = new MLContext(seed: 0);
        var examples = ml.Data.LoadFromEnumerable(new[] { new Example { Slot = [1], Label = 1 }, new Example { Slot = [0], Label = 0 } });
        var identity = ml.Regression.Trainers.OnlineGradientDescent(new OnlineGradientDescentTrainer.Options
        {
            FeatureColumnName = SlotColumn,
            LabelColumnName = nameof(Example.Label),
            LearningRate = 0.5f,
            DecreaseLearningRate = false,
            NumberOfIterations = 1,
            Shuffle = false,
            L2Regularization = 0,
            Averaged = false,
        }).Fit(examples);
        if (identity.Model.Weights.Count != 1 || identity.Model.Weights[0] != 1f || identity.Model.Bias != 0f)
            throw new InvalidOperationException(
                $"The identity regression that makes Score a float came out as w = {identity.Model.Weights[0]}, b = {identity.Model.Bias}, not 1 and 0: this ML.NET version trains it differently.");
        chain = chain.Append<ITransformer>(identity);
        if (scoreColumn != RegressionScoreColumn)
        {
            var scored = chain.Transform(input);
            var copy = catalog.CopyColumns(scoreColumn, RegressionScoreColumn).Fit(scored);
            chain = chain.Append<ITransformer>(copy);
            chain = chain.Append<ITransformer>(catalog.DropColumns(RegressionScoreColumn).Fit(copy.Transform(scored)));
        }
        return chain.Append<ITransformer>(catalog.DropColumns(SlotColumn).Fit(chain.Transform(input)));
    }
}
