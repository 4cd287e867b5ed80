using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms.Onnx;
using Rkde.MLNet.Onnx;

namespace Rkde.MLNet.Density;

/// <summary>
/// Fits R-KDE's density stage (PCA → scaling → Gaussian KDE) on a column of region features in one pass, keeping a
/// seeded reservoir sample of at most MaxTrainingPoints regions, and returns a stock <see cref="OnnxTransformer"/>
/// over the fitted density graph: it saves and loads with ML.NET alone.
/// </summary>
public sealed class RkdeDensityEstimator : IEstimator<OnnxTransformer>
{
    private readonly TransformsCatalog _catalog;
    private readonly RkdeDensityOptions _options;

    internal RkdeDensityEstimator(TransformsCatalog catalog, RkdeDensityOptions options)
    {
        options.Validate();
        _catalog = catalog;
        _options = options;
    }

    /// <inheritdoc/>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        FeatureDimension(inputSchema);
        // The fitted transformer is an OnnxTransformer over a graph with this signature: let ML.NET state its schema.
        return _catalog.ApplyOnnxModel([_options.BoxScoresColumnName, _options.ScoreColumnName], [_options.FeaturesColumnName],
            new MemoryStream(DensityGraphOutputs.Signature(_options.FeaturesColumnName, _options.FeatureDimension, _options.BoxScoresColumnName, _options.ScoreColumnName)))
            .GetOutputSchema(inputSchema);
    }

    /// <inheritdoc/>
    public OnnxTransformer Fit(IDataView input)
    {
        SchemaChecks.FloatVector(input.Schema, _options.FeaturesColumnName, nameof(RkdeDensityOptions.FeaturesColumnName), "the region features");
        int d = _options.FeatureDimension > 0 ? _options.FeatureDimension
            : input.Schema[_options.FeaturesColumnName].Type is VectorDataViewType { IsKnownSize: true } v ? v.Size
            : throw VariableLength();
        int seed = _options.Seed;
        void Report(string message) => _options.Progress?.Report(message);

        var (sample, sampled, seen, images) = Sample(input, d, seed, Report);
        if (seen == 0)
            throw new InvalidOperationException(
                $"The {images} training images gave no regions at all in column '{_options.FeaturesColumnName}', so there is nothing to fit the density on. " +
                "Use more or larger images, or lower RoiScoreThreshold / MinBoxSize.");
        Report(string.Create(CultureInfo.InvariantCulture,
            $"RkdeDensity: {seen} regions from {images} images; fitting PCA ({_options.PcaComponents} components) and KDE on {sampled} of them."));
        var model = KdeDensityModel.Fit(sample.AsSpan(0, sampled * d), sampled, d, _options.Density, seed,
            new Progress<string>(Report));
        var graph = OnnxModelContract.Emitted("density graph", DensityGraph.Build(model), "density");
        byte[] bytes = graph.Rewire(
            [(DensityGraphOutputs.Features, _options.FeaturesColumnName, [1, "N", d])],
            [(DensityGraphOutputs.BoxScores, _options.BoxScoresColumnName, null), (DensityGraphOutputs.Score, _options.ScoreColumnName, null)]);
        Report("RkdeDensity: done.");
        return _catalog.ApplyOnnxModel([_options.BoxScoresColumnName, _options.ScoreColumnName], [_options.FeaturesColumnName],
            new MemoryStream(bytes), _options.GpuDeviceId, _options.FallbackToCpu).Fit(input);
    }

    /// <summary>One cursor pass with reservoir sampling (Algorithm R) over regions; rejects non-finite features.</summary>
    private (float[] Sample, int Sampled, long Seen, long Images) Sample(IDataView input, int d, int seed, Action<string> report)
    {
        int capacity = _options.MaxTrainingPoints;
        var sample = new float[checked(capacity * d)];
        var random = new Random(seed);
        long seen = 0, images = 0;
        var column = input.Schema[_options.FeaturesColumnName];
        using var cursor = input.GetRowCursor([column]);
        var getter = cursor.GetGetter<VBuffer<float>>(column);
        VBuffer<float> buffer = default;
        float[] dense = [];
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (cursor.MoveNext())
        {
            getter(ref buffer);
            int length = buffer.Length;
            if (length % d != 0)
                throw new InvalidOperationException(string.Create(CultureInfo.InvariantCulture,
                    $"Row {images} of column '{_options.FeaturesColumnName}' has {length} values, not a multiple of the feature length {d}."));
            if (dense.Length < length)
                dense = new float[length];
            Densify(buffer, dense);
            for (int r = 0; r < length / d; r++)
            {
                var row = dense.AsSpan(r * d, d);
                int bad = IndexOfNonFinite(row);
                if (bad >= 0)
                    throw new InvalidOperationException(string.Create(CultureInfo.InvariantCulture,
                        $"Column '{_options.FeaturesColumnName}' holds {row[bad]} at row {images}, region {r}, dimension {bad}: the feature model produced a non-finite value. Check that model's inputs (RGB 0–1 pixels, boxes in input pixels) and its numerics."));
                long slot = seen < capacity ? seen : random.NextInt64(seen + 1);
                if (slot < capacity)
                    row.CopyTo(sample.AsSpan((int)slot * d, d));
                seen++;
            }
            images++;
            if (clock.Elapsed.TotalSeconds >= 5)
            {
                report(string.Create(CultureInfo.InvariantCulture, $"RkdeDensity: read {images} images, {seen} regions."));
                clock.Restart();
            }
        }
        return (sample, (int)Math.Min(seen, capacity), seen, images);
    }

    private static void Densify(in VBuffer<float> buffer, float[] dense)
    {
        if (buffer.IsDense)
        {
            buffer.GetValues().CopyTo(dense);
            return;
        }
        Array.Clear(dense, 0, buffer.Length);
        var indices = buffer.GetIndices();
        var values = buffer.GetValues();
        for (int i = 0; i < indices.Length; i++)
            dense[indices[i]] = values[i];
    }

    private static int IndexOfNonFinite(ReadOnlySpan<float> row)
    {
        for (int i = 0; i < row.Length; i++)
        {
            if (!float.IsFinite(row[i]))
                return i;
        }
        return -1;
    }

    private void FeatureDimension(SchemaShape inputSchema)
    {
        string name = _options.FeaturesColumnName;
        SchemaChecks.FloatVector(inputSchema, name, nameof(RkdeDensityOptions.FeaturesColumnName), "the region features");
        if (_options.FeatureDimension == 0 && !SchemaChecks.IsKnownSizeVector(inputSchema, name))
            throw VariableLength();
    }

    private ArgumentOutOfRangeException VariableLength() => new("inputSchema",
        $"Input column '{_options.FeaturesColumnName}' has variable length, so set FeatureDimension to the length of one region's features.");
}
