using System.Globalization;
using Rkde.MLNet.Checks;

namespace Rkde.MLNet.Density;

/// <summary>
/// Updates a fitted density model with new regions without the old ones: each new feature row is projected with the
/// model's own projection (mean, components, scaling), enters the kept sample as <see cref="UpdateSampling"/> says, and
/// <see cref="Finish"/> recomputes the bandwidth (Scott's rule on the new sample's covariance). Below the capacity the
/// result is exactly the density a fit on the old and new regions together would give with the old projection: the
/// same points and the same bandwidth. Rows stream through; only the sample and one image's rows are held.
/// </summary>
internal sealed class DensityUpdate
{
    private readonly KdeDensityModel _model;
    private readonly KeptSample _sample;
    private double _centredSquares;
    private double _projectedSquares;

    public DensityUpdate(KdeDensityModel model, UpdateSampling sampling)
    {
        ArgumentNullException.ThrowIfNull(model);
        OptionChecks.Defined(nameof(UpdateSampling), sampling);
        _model = model;
        var history = model.History;
        _sample = new KeptSample(model.Sample, model.ComponentCount, history.RegionsSeen, history.RandomState, history.Capacity, sampling);
    }

    /// <summary>New rows offered so far.</summary>
    public long RegionsAdded { get; private set; }

    /// <summary>Rows the sample stands for now.</summary>
    public long RegionsSeen => _sample.Seen;

    /// <summary>The share of the new rows' spread about the model's mean that its components explain (NaN before any row).</summary>
    public double ExplainedVariance => Density.ExplainedVariance.Share(_projectedSquares, _centredSquares);

    /// <summary>
    /// Offers <paramref name="count"/> feature rows (row-major, D values each, finite), projected in parallel and
    /// offered in order, so the result does not depend on the thread count.
    /// </summary>
    public void Add(ReadOnlySpan<float> rows, int count)
    {
        int d = _model.FeatureDimension, k = _model.ComponentCount;
        if (rows.Length != (long)count * d)
            throw new ArgumentException(string.Create(CultureInfo.InvariantCulture,
                $"rows holds {rows.Length} values, not {count} rows of the model's {d} features."), nameof(rows));
        if (count == 0) return;
        var input = rows.ToArray();
        var projected = new double[(long)count * k];
        var squares = new (double Centred, double Projected)[count];
        int workers = Math.Clamp(count / 16, 1, Environment.ProcessorCount);
        Parallel.For(0, workers, w =>
        {
            var centred = new double[d];
            for (int i = count * w / workers; i < count * (w + 1) / workers; i++)
                squares[i] = _model.Project(input.AsSpan(i * d, d), projected.AsSpan(i * k, k), centred);
        });
        for (int i = 0; i < count; i++)
        {
            _centredSquares += squares[i].Centred;
            _projectedSquares += squares[i].Projected;
            _sample.Offer(projected.AsSpan(i * k, k));
        }
        RegionsAdded += count;
    }

    /// <summary>The updated model: the same projection, the new sample, its bandwidth, and the sample's history to continue from.</summary>
    public KdeDensityModel Finish()
    {
        int k = _model.ComponentCount, n = _sample.Count;
        double[] sample = _sample.Rows();
        var kde = GaussianKde.Fit(sample, n, k, _model.Bandwidth);
        var history = _model.History with { RegionsSeen = _sample.Seen, RandomState = _sample.RandomState };
        return new KdeDensityModel(_model.FeatureDimension, k, _model.Scaling, _model.Mean, _model.Components, _model.MaxLength, _model.Bandwidth,
            kde.BandwidthTransform, kde.LogNormaliser, sample, history);
    }
}
