using Microsoft.ML;
using Microsoft.ML.Data;
using Rkde.MLNet.Onnx;

namespace Rkde.MLNet.Regions;

/// <summary>Appends proposer ONNX → region-filter ONNX (score threshold, min size, class-agnostic NMS, top-k, normalisation).</summary>
internal static class RegionStage
{
    public static EstimatorChain<ITransformer> Append(EstimatorChain<ITransformer> chain, TransformsCatalog catalog, ProposerSlot proposer,
        RegionFilterOptions filter, int width, int height, string pixels, string rawPrefix, string pixelBoxes, string normalizedBoxes,
        string regionScores, IReadOnlyDictionary<string, string> extraColumns, int? gpuDeviceId, bool fallbackToCpu)
    {
        string rawBoxes = rawPrefix + "raw_boxes", rawScores = rawPrefix + "raw_scores";
        var names = new RegionFilterGraphNames();
        var graph = OnnxModelContract.Emitted("region filter graph", RegionFilterGraph.Build(filter, width, height, names), "regions");
        byte[] filterBytes = graph.Rewire(
            [(names.Boxes, rawBoxes, null), (names.Scores, rawScores, null)],
            [
                (names.KeptBoxes, pixelBoxes, null),
                (names.KeptScores, regionScores, null),
                (names.KeptBoxesNormalized, normalizedBoxes, null),
            ]);
        return chain
            .Append<ITransformer>(proposer.Estimator(catalog, pixels, rawBoxes, rawScores, extraColumns, gpuDeviceId, fallbackToCpu))
            .Append<ITransformer>(catalog.ApplyOnnxModel([pixelBoxes, regionScores, normalizedBoxes], [rawBoxes, rawScores],
                new MemoryStream(filterBytes), gpuDeviceId, fallbackToCpu))
            .Append<ITransformer>(catalog.DropColumns(rawBoxes, rawScores));
    }
}
