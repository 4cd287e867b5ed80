using BenchmarkDotNet.Attributes;
using Rkde.MLNet.Density;

namespace Rkde.Benchmarks;

/// <summary>BenchmarkDotNet's view of the density fit (the full, statistically careful run; scoring is the ONNX graph's, see Figures).</summary>
[MemoryDiagnoser]
public class DensityBenchmarks
{
    private const int Dimension = 4096;
    private float[] _data = [];

    [Params(5_000, 20_000, 40_000)]
    public int Rows { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _data = SyntheticFeatures.Generate(Rows, Dimension);
    }

    [Benchmark]
    public object Fit() =>
        KdeDensityModel.Fit(_data.AsSpan(0, Rows * Dimension), Rows, Dimension, new RkdeDensityOptions { PcaComponents = 16 });
}
