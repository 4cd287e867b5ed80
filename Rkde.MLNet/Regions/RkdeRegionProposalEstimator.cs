using Microsoft.ML;
using Microsoft.ML.Data;
using Rkde.MLNet.Onnx;
using Rkde.MLNet.Checks;

namespace Rkde.MLNet.Regions;

/// <summary>
/// Region proposals: a proposer ONNX model followed by R-KDE's post-processing, both as stock ONNX transformers.
/// Outputs the kept boxes (normalised and in pixels), their detector scores and any requested extra proposer outputs.
/// </summary>
public sealed class RkdeRegionProposalEstimator : IEstimator<TransformerChain<ITransformer>>
{
    private readonly TransformsCatalog _catalog;
    private readonly RkdeRegionProposalOptions _options;
    private readonly Lazy<ProposerSlot> _proposer;
    private readonly Lazy<EstimatorChain<ITransformer>> _chain;

    /// <summary>Validates a private copy of <paramref name="options"/>: changing them afterwards does not change this estimator.</summary>
    internal RkdeRegionProposalEstimator(TransformsCatalog catalog, RkdeRegionProposalOptions options)
    {
        options = options.Clone();
        options.Validate();
        _catalog = catalog;
        _options = options;
        _proposer = ProposerSlot.Load(options.ProposerModelPath, options.ProposerModelBytes, options.ImageWidth, options.ImageHeight, options.RoiStage,
            nameof(options.ProposerModelPath), nameof(options.ProposerModelBytes));
        _chain = new Lazy<EstimatorChain<ITransformer>>(Build);
    }

    /// <inheritdoc/>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        NativeRuntime.EnsureLoaded();
        SchemaChecks.FloatVector(inputSchema, _options.PixelsColumnName, nameof(_options.PixelsColumnName),
            $"3 × {_options.ImageHeight} × {_options.ImageWidth} RGB values in 0–1");
        return _chain.Value.GetOutputSchema(inputSchema);
    }

    /// <inheritdoc/>
    public TransformerChain<ITransformer> Fit(IDataView input)
    {
        NativeRuntime.EnsureLoaded();
        SchemaChecks.FloatVector(input.Schema, _options.PixelsColumnName, nameof(_options.PixelsColumnName),
            $"3 × {_options.ImageHeight} × {_options.ImageWidth} RGB values in 0–1");
        return _chain.Value.Fit(input);
    }

    private EstimatorChain<ITransformer> Build()
    {
        var proposer = _proposer.Value;
        var extras = _options.ExtraOutputColumns
            ?? proposer.ExtraOutputs.Where(o => proposer.ExtraOutputDims(o).Skip(1).All(d => d is long)).ToArray();
        foreach (var extra in extras.Where(e => !proposer.ExtraOutputs.Contains(e)))
            throw new ArgumentException(
                $"ExtraOutputColumns names '{extra}', which is not an extra output of the proposer model (it has: {string.Join(", ", proposer.ExtraOutputs)}).",
                nameof(_options.ExtraOutputColumns));
        return RegionStage.Append(new EstimatorChain<ITransformer>(), _catalog, proposer, _options.RegionFilter, _options.ImageWidth, _options.ImageHeight,
            _options.PixelsColumnName, InternalColumns.Prefix, _options.PixelBoxesColumnName, _options.BoxesColumnName, _options.RegionScoresColumnName,
            extras.ToDictionary(e => e, e => e), _options.GpuDeviceId, _options.FallbackToCpu);
    }
}
