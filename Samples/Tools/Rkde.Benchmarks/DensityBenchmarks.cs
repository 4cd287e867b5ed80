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
        _model = Fit();
    }

    [Benchmark]
    public KdeDensityModel Fit() =>
        KdeDensityModel.Fit(_data.AsSpan(0, Rows * Dimension), Rows, Dimension, new DensityOptions { PcaComponents = 16 });

    [Benchmark]
    public double[] Score100Boxes()
    {
        _model!.LogDensities(_queries, _output);
        return _output;
    }
}
