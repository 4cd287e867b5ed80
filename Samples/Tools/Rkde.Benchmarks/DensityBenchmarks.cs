using BenchmarkDotNet.Attributes;
using Rkde.MLNet.Density;

namespace Rkde.Benchmarks;

/// <summary>BenchmarkDotNet's view of the density figures (the full, statistically careful run).</summary>
[MemoryDiagnoser]
public class DensityBenchmarks
{
    private const int Dimension = 4096;
    private float[] _data = [];
    private float[] _queries = [];
    private KdeDensityModel? _model;
    private readonly double[] _output = new double[100];

    [Params(5_000, 20_000, 40_000)]
    public int Rows { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _data = SyntheticFeatures.Generate(Rows + 100, Dimension);
        _queries = _data.AsSpan(Rows * Dimension).ToArray();
        _model = FitModel();
    }

    [Benchmark]
    public object Fit() => FitModel();

    private KdeDensityModel FitModel() =>
        KdeDensityModel.Fit(_data.AsSpan(0, Rows * Dimension), Rows, Dimension, new RkdeDensityOptions { PcaComponents = 16 });

    [Benchmark]
    public double[] Score100Boxes()
    {
        _model!.LogDensities(_queries, _output);
        return _output;
    }
}
