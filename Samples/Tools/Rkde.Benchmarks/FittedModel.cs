using Google.Protobuf;
using Microsoft.ML;
using Rkde.MLNet;

namespace Rkde.Benchmarks;

/// <summary>The default pipeline fitted on the demo set's train/good images and saved to a temporary .zip (deleted on dispose).</summary>
public sealed class FittedModel : IDisposable
{
    private FittedModel(string path) => Path = path;

    public string Path { get; }

    /// <summary>Fits with the default options, or with <paramref name="pcaComponents"/> (a second, differently scoring model).</summary>
    public static FittedModel Create(bool int8, int? pcaComponents = null)
    {
        var ml = new MLContext(seed: 0);
        ml.DisableThreadSpinning();
        var train = ml.Data.LoadFromEnumerable(DemoData.Train.Select(p => new ImageInput { ImagePath = p }));
        var model = ml.Transforms.RkdeAnomaly(new RkdeOptions { QuantizeBackbone = int8, PcaComponents = pcaComponents }).Fit(train);
        string path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"rkde-bench-{Environment.ProcessId}-{(int8 ? "int8" : "fp32")}{(pcaComponents is int k ? $"-k{k}" : "")}.zip");
        ml.Model.Save(model, train.Schema, path);
        return new FittedModel(path);
    }

    /// <summary>The ONNX graph of one stage ("proposer", "regions", "features", "density").</summary>
    public byte[] Graph(string stage) => Graphs(Path).Single(g => g.Stage == stage).Bytes;

    /// <summary>The ONNX graphs of a saved pipeline in pipeline order, named by stage.</summary>
    internal static List<(string Stage, byte[] Bytes)> Graphs(string zip) =>
        RkdeModelCatalog.OnnxGraphs(zip).Select(g => (g.Model.Graph.Name switch
        {
            "rkde_default_proposer" => "proposer",
            "rkde_regions" => "regions",
            "rkde_default_features" => "features",
            "rkde_density" => "density",
            string graph => graph,
        }, g.Model.ToByteArray())).ToList();

    public void Dispose() => File.Delete(Path);
}
