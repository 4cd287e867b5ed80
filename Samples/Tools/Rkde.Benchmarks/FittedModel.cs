using Google.Protobuf;
using Microsoft.ML;
using Rkde.MLNet;

namespace Rkde.Benchmarks;

/// <summary>The pipeline with the given options fitted on the demo set's train/good images and saved to a temporary .zip (deleted on dispose).</summary>
public sealed class FittedModel : IDisposable
{
    private FittedModel(string path) => Path = path;

    public string Path { get; }

    public static FittedModel Create(string name, RkdeOptions options)
    {
        var ml = new MLContext(seed: 0);
        ml.DisableThreadSpinning();
        var train = ml.Data.LoadFromEnumerable(DemoData.Train.Select(p => new ImageInput { ImagePath = p }));
        var model = ml.Transforms.RkdeAnomaly(options).Fit(train);
        string path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"rkde-bench-{Environment.ProcessId}-{name}.zip");
        ml.Model.Save(model, train.Schema, path);
        return new FittedModel(path);
    }

    /// <summary>The ONNX graph of one stage ("proposer", "regions", "features", "density").</summary>
    public byte[] Graph(string stage) => Graphs(Path).Single(g => g.Stage == stage).Bytes;

    /// <summary>The ONNX graphs of a saved pipeline in pipeline order, named by stage.</summary>
    internal static List<(string Stage, byte[] Bytes)> Graphs(string zip) =>
        RkdeModelCatalog.OnnxGraphs(zip).Select(g => (g.Model.Graph.Name switch
        {
            "rkde_default_proposer" or "rkde_nanodet_proposer" => "proposer",
            "rkde_regions" => "regions",
            "rkde_default_features" or "rkde_nanodet_features" => "features",
            "rkde_density" => "density",
            string graph => graph,
        }, g.Model.ToByteArray())).ToList();

    public void Dispose() => File.Delete(Path);
}
