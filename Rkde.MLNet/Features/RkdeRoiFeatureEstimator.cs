using Microsoft.ML;
using Microsoft.ML.Data;
using Rkde.MLNet.Onnx;
using Rkde.MLNet.Checks;

namespace Rkde.MLNet.Features;

/// <summary>
/// RoI features: a feature-extractor ONNX model (stock ONNX transformer) reading the pixels and the boxes in pixels,
/// plus any inputs named like extra proposer outputs, read from columns of the same name.
/// </summary>
public sealed class RkdeRoiFeatureEstimator : IEstimator<TransformerChain<ITransformer>>
{
    private readonly TransformsCatalog _catalog;
    private readonly RkdeRoiFeatureOptions _options;
    private readonly Lazy<FeatureSlot> _features;
    private readonly Lazy<EstimatorChain<ITransformer>> _chain;

    /// <summary>Validates a private copy of <paramref name="options"/>: changing them afterwards does not change this estimator.</summary>
    internal RkdeRoiFeatureEstimator(TransformsCatalog catalog, RkdeRoiFeatureOptions options)
    {
        options = options.Clone();
        options.Validate();
        _catalog = catalog;
        _options = options;
        _features = FeatureSlot.Load(options.FeatureModelPath, options.FeatureModelBytes, options.ImageWidth, options.ImageHeight,
            nameof(options.FeatureModelPath), nameof(options.FeatureModelBytes));
        _chain = new Lazy<EstimatorChain<ITransformer>>(() => new EstimatorChain<ITransformer>().Append<ITransformer>(_features.Value.Estimator(_catalog,
            _options.PixelsColumnName, _options.BoxesColumnName, _features.Value.ExtraInputs.ToDictionary(i => i, i => i), _options.FeaturesColumnName,
            _options.GpuDeviceId, _options.FallbackToCpu)));
    }

    /// <summary>D, the number of features per box (from the model's "features" output).</summary>
    public int FeatureDimension => _features.Value.FeatureDimension;

    /// <inheritdoc/>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        NativeRuntime.EnsureLoaded();
        Check(SchemaChecks.FloatVector, inputSchema);
        return _chain.Value.GetOutputSchema(inputSchema);
    }

    /// <inheritdoc/>
    public TransformerChain<ITransformer> Fit(IDataView input)
    {
        NativeRuntime.EnsureLoaded();
        Check(SchemaChecks.FloatVector, input.Schema);
        return _chain.Value.Fit(input);
    }

    private void Check<TSchema>(Action<TSchema, string, string, string> floatVector, TSchema inputSchema)
    {
        var slot = _features.Value;
        if (slot.ReadsImage)
            floatVector(inputSchema, _options.PixelsColumnName, nameof(_options.PixelsColumnName),
                $"3 × {_options.ImageHeight} × {_options.ImageWidth} RGB values in 0–1");
        floatVector(inputSchema, _options.BoxesColumnName, nameof(_options.BoxesColumnName), "4 values per box, in pixels of the model input");
        foreach (var extra in slot.ExtraInputs)
            floatVector(inputSchema, extra, "an extra input of the feature model, read by name", "the proposer output of that name");
    }
}
