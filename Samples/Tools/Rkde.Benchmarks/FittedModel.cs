using Google.Protobuf;
using Microsoft.ML;
using Rkde.MLNet;
using Rkde.MLNet.DefaultModel;
using Rkde.MLNet.Density;
using Rkde.MLNet.NanoDet;
using Rkde.MLNet.Features;
using Rkde.MLNet.Regions;

namespace Rkde.Benchmarks;

/// <summary>A model fitted on the demo set's train/good images and saved to a temporary .zip (deleted on dispose).</summary>
public sealed class FittedModel : IDisposable
{
    private FittedModel(string path) => Path = path;

    public string Path { get; }

    /// <summary>RkdeAnomaly's model (one ONNX graph) with the default options, or with <paramref name="pcaComponents"/> (a second, differently scoring model).</summary>
    public static FittedModel Create(bool int8, int? pcaComponents = null) =>
        Create((int8 ? "int8" : "fp32") + (pcaComponents is int k ? $"-k{k}" : ""), new RkdeOptions { QuantizeBackbone = int8, PcaComponents = pcaComponents });

    /// <summary>RkdeAnomaly's model (one ONNX graph) fitted with <paramref name="options"/>.</summary>
    public static FittedModel Create(string name, RkdeOptions options)
    {
        var ml = new MLContext(seed: 0);
        ml.DisableThreadSpinning();
        var train = ml.Data.LoadFromEnumerable(DemoData.Train.Select(p => new ImageInput { ImagePath = p }));
        var model = ml.Transforms.RkdeAnomaly(options).Fit(train);
        return Save(ml, model, train, name);
    }

    /// <summary>
    /// The same model as a chain of four ONNX stages (proposer, region filter, features, density), as RkdeAnomaly fitted it
    /// before the fitted model became one graph: the stage-level estimators with the built-in models of <paramref name="options"/>
    /// (ResNet18, its INT8 backbone, or NanoDet) and the default filter and density options.
    /// </summary>
    public static FittedModel CreateFourStages(string name, RkdeOptions options)
    {
        const int width = 360, height = 240;
        bool nanoDet = options.BuiltInModel == RkdeBuiltInModel.NanoDet;
        var ml = new MLContext(seed: 0);
        ml.DisableThreadSpinning();
        var train = ml.Data.LoadFromEnumerable(DemoData.Train.Select(p => new ImageInput { ImagePath = p }));
        byte[]? proposer = nanoDet ? NanoDetModels.Proposer(width, height)
            : options.QuantizeBackbone ? DefaultModels.QuantizedProposer(width, height, PipelineFigures.Pixels(DemoData.Train[..8])) : null;
        var features = ml.Transforms.RkdeRoiFeatures(new RkdeRoiFeatureOptions
        {
            ImageWidth = width,
            ImageHeight = height,
            PixelsColumnName = "Pixels",
            FeatureModelBytes = nanoDet ? NanoDetModels.FeatureExtractor(width, height) : null,
        });
        string[] maps = nanoDet ? [NanoDetModels.Stride8MapName, NanoDetModels.Stride16MapName] : [DefaultModels.Layer2Name, DefaultModels.Layer3Name];
        var pipeline = PipelineFigures.PixelPipeline(ml, "Pixels")
            .Append(ml.Transforms.RkdeRegionProposals(new RkdeRegionProposalOptions
            {
                ImageWidth = width,
                ImageHeight = height,
                ProposerModelBytes = proposer,
            }))
            .Append(features)
            .Append(ml.Transforms.RkdeDensity(new RkdeDensityOptions { FeatureDimension = features.FeatureDimension, PcaComponents = DefaultModels.PcaComponents }))
            .Append(ml.Transforms.DropColumns(["image", "Pixels", "RegionBoxes", "RegionScores", .. maps, "Features"]));
        var model = pipeline.Fit(train);
        return Save(ml, model, train, name + "-4stage");
    }

    private static FittedModel Save(MLContext ml, ITransformer model, IDataView train, string name)
    {
        string path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"rkde-bench-{Environment.ProcessId}-{name}.zip");
        ml.Model.Save(model, train.Schema, path);
        return new FittedModel(path);
    }

    /// <summary>The ONNX graph of one stage of a four-stage model ("proposer", "regions", "features", "density").</summary>
    public byte[] Graph(string stage) => Graphs(Path).Single(g => g.Stage == stage).Bytes;

    /// <summary>The ONNX graphs of a saved pipeline in pipeline order, named by stage.</summary>
    internal static List<(string Stage, byte[] Bytes)> Graphs(string zip) =>
        RkdeModelCatalog.OnnxGraphs(zip).Select(g => (g.Model.Graph.Name switch
        {
            "rkde_default_proposer" or "rkde_nanodet_proposer" => "proposer",
            "rkde_regions" => "regions",
            "rkde_default_features" or "rkde_nanodet_features" => "features",
            "rkde_density" => "density",
            "rkde_fitted" => "fitted",
            string graph => graph,
        }, g.Model.ToByteArray())).ToList();

    public void Dispose() => File.Delete(Path);
}
