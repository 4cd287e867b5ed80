using MathNet.Numerics.LinearAlgebra;
using Rkde.MLNet.Density;

namespace Rkde.MLNet.Tests.Density;

/// <summary>
/// Updating a fitted density model with new regions: exact below the capacity (the density of a fit on A ∪ B with A's
/// projection, computed here independently), uniform over everything seen past it (Reservoir), the newest (Window), and
/// continued the same way after the model's state went through its ONNX graph.
/// </summary>
[TestClass]
public sealed class DensityUpdateTests
{
    private static float[] Rows(int count, int d, int seed, float shift = 0)
    {
        var random = new Random(seed);
        var rows = new float[count * d];
        for (int i = 0; i < count; i++)
        {
            for (int j = 0; j < d; j++)
                rows[i * d + j] = (float)((j + 1) * 0.3 * Gaussian(random) + (j % 3 == 0 ? shift : 0));
        }
        return rows;
    }

    private static double Gaussian(Random random) =>
        Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());

    private static KdeDensityModel Fit(float[] rows, int d, int k, FeatureScalingMethod scaling, int capacity = 40_000, int seed = 0) =>
        KdeDensityModel.Fit(rows, rows.Length / d, d, new RkdeDensityOptions { PcaComponents = k, FeatureScaling = scaling, MaxTrainingPoints = capacity }, seed);

    /// <summary>The model as a saved .zip holds it: emitted as the density graph and read back.</summary>
    private static KdeDensityModel ThroughGraph(KdeDensityModel model) =>
        DensityGraph.Read(global::Onnx.ModelProto.Parser.ParseFrom(DensityGraph.Build(model)));

    private static KdeDensityModel Update(KdeDensityModel model, float[] rows, UpdateSampling sampling, int? perImage = null)
    {
        int d = model.FeatureDimension, count = rows.Length / d, step = perImage ?? count;
        var update = new DensityUpdate(ThroughGraph(model), sampling);
        for (int first = 0; first < count; first += step)
        {
            int n = Math.Min(step, count - first);
            update.Add(rows.AsSpan(first * d, n * d), n);
        }
        return update.Finish();
    }

    /// <summary>
    /// The reference, written out here: every row of <paramref name="rows"/> projected with <paramref name="projection"/>'s
    /// mean, components and scaling, then anomalib's KDE on them (Scott's factor, unbiased covariance, Cholesky of its inverse).
    /// Returns the scaled rows, L, and a log-density function.
    /// </summary>
    private static (double[] Sample, double[] L, Func<float[], double> LogDensity) FitWithProjection(KdeDensityModel projection, float[] rows)
    {
        int d = projection.FeatureDimension, k = projection.ComponentCount, n = rows.Length / d;
        double[] Project(ReadOnlySpan<float> x)
        {
            var y = new double[k];
            for (int j = 0; j < k; j++)
            {
                for (int c = 0; c < d; c++) y[j] += ((double)x[c] - projection.Mean[c]) * projection.Components[c * k + j];
            }
            double divisor = projection.Scaling == FeatureScalingMethod.Scale ? projection.MaxLength : Math.Sqrt(y.Sum(v => v * v));
            return divisor > 0 ? y.Select(v => v / divisor).ToArray() : y;
        }
        var sample = new double[n * k];
        for (int i = 0; i < n; i++) Project(rows.AsSpan(i * d, d)).CopyTo(sample, i * k);
        var mean = Enumerable.Range(0, k).Select(j => Enumerable.Range(0, n).Average(i => sample[i * k + j])).ToArray();
        var covariance = Matrix<double>.Build.Dense(k, k, (a, b) => Enumerable.Range(0, n).Sum(i => (sample[i * k + a] - mean[a]) * (sample[i * k + b] - mean[b])) / (n - 1));
        double factor = Math.Pow(n, -1.0 / (k + 4));
        var l = (covariance.Inverse() / (factor * factor)).Cholesky().Factor;
        var lFlat = new double[k * k];
        for (int a = 0; a < k; a++)
        for (int b = 0; b < k; b++) lFlat[a * k + b] = l[a, b];
        double logNormaliser = Enumerable.Range(0, k).Sum(i => Math.Log(l[i, i])) - 0.5 * k * Math.Log(2 * Math.PI) - Math.Log(n);
        var lT = l.Transpose();
        var points = Enumerable.Range(0, n).Select(i => lT * Vector<double>.Build.Dense(k, j => sample[i * k + j] - mean[j])).ToArray();
        double LogDensity(float[] x)
        {
            var z = lT * Vector<double>.Build.Dense(Project(x));
            var exponents = points.Select(p => -0.5 * (z - p).DotProduct(z - p)).ToArray();
            double max = exponents.Max();
            return logNormaliser + max + Math.Log(exponents.Sum(e => Math.Exp(e - max)));
        }
        return (sample, lFlat, LogDensity);
    }

    [TestMethod]
    [DataRow(FeatureScalingMethod.Scale)]
    [DataRow(FeatureScalingMethod.Norm)]
    public void UpdatingAFitOnAWithBGivesTheFitOnAAndBWithAsProjection(FeatureScalingMethod scaling)
    {
        const int d = 20, k = 5;
        float[] a = Rows(150, d, seed: 1), b = Rows(90, d, seed: 2, shift: 0.7f), test = Rows(30, d, seed: 3, shift: 0.3f);
        var model = Fit(a, d, k, scaling);
        var updated = Update(model, b, UpdateSampling.Reservoir, perImage: 7);
        var (sample, l, logDensity) = FitWithProjection(model, [.. a, .. b]);

        Assert.AreEqual(240, updated.PointCount);
        Assert.AreEqual(240L, updated.History.RegionsSeen);
        // Same points: the A rows as the fit projected them, then the B rows, in order.
        CollectionAssert.AreEqual(model.Sample, updated.Sample[..model.Sample.Length]);
        for (int i = 0; i < sample.Length; i++)
            Assert.AreEqual(sample[i], updated.Sample[i], 1e-9, $"sample value {i}");
        CollectionAssert.AreEqual(model.Mean, updated.Mean);
        CollectionAssert.AreEqual(model.Components, updated.Components);
        Assert.AreEqual(model.MaxLength, updated.MaxLength);
        // Same bandwidth.
        for (int i = 0; i < l.Length; i++)
            Assert.AreEqual(l[i], updated.BandwidthTransform[i], 1e-7 * Math.Max(1, Math.Abs(l[i])), $"L value {i}");
        // Same scores, through the emitted graph (what a saved model runs).
        using var run = new OnnxRun(DensityGraph.Build(updated));
        var scored = (float[])run.Run(("features", test, [1, 30, d]))["log_density"].Data;
        for (int i = 0; i < 30; i++)
        {
            double expected = logDensity(test[(i * d)..((i + 1) * d)]);
            Assert.AreEqual(expected, scored[i], Math.Max(1e-5, 1e-7 * Math.Abs(expected)), $"test row {i}");
        }
    }

    /// <summary>
    /// The kernel's shape travels in the graph's metadata, and an update refits the bandwidth with it; a graph written before
    /// the shape was recorded (no such metadata) holds anomalib's Covariance kernel, and an unknown shape is refused.
    /// </summary>
    [TestMethod]
    public void AnUpdateKeepsTheKernelShape()
    {
        const int d = 12, k = 3;
        var rows = Rows(60, d, seed: 6);
        var model = KdeDensityModel.Fit(rows, 60, d, new RkdeDensityOptions { PcaComponents = k, Bandwidth = KdeBandwidth.Isotropic });
        Assert.AreEqual(KdeBandwidth.Isotropic, ThroughGraph(model).Bandwidth);
        var updated = Update(model, Rows(50, d, seed: 7, shift: 1), UpdateSampling.Reservoir);
        Assert.AreEqual(KdeBandwidth.Isotropic, updated.Bandwidth);
        var l = updated.BandwidthTransform;
        for (int a = 0; a < k; a++)
            for (int b = 0; b < k; b++)
                Assert.AreEqual(a == b ? l[0] : 0, l[a * k + b], 1e-12 * l[0], $"L[{a},{b}] of the updated isotropic kernel");
        Assert.AreNotEqual(model.BandwidthTransform[0], l[0], "the bandwidth was refitted to the new sample");

        var graph = global::Onnx.ModelProto.Parser.ParseFrom(DensityGraph.Build(model));
        var shape = graph.MetadataProps.Single(p => p.Key == DensityGraph.HistoryKeys.Bandwidth);
        graph.MetadataProps.Remove(shape);
        Assert.AreEqual(KdeBandwidth.Covariance, DensityGraph.Read(graph).Bandwidth);
        graph.MetadataProps.Add(new global::Onnx.StringStringEntryProto { Key = DensityGraph.HistoryKeys.Bandwidth, Value = "Wide" });
        var e = Assert.ThrowsExactly<InvalidDataException>(() => DensityGraph.Read(graph));
        StringAssert.Contains(e.Message, "Wide");
    }

    [TestMethod]
    public void TheSameUpdateOfTheSameModelGivesTheSameModel()
    {
        const int d = 12, k = 3;
        var model = Fit(Rows(60, d, seed: 4), d, k, FeatureScalingMethod.Scale, capacity: 80);
        float[] b = Rows(100, d, seed: 5);
        var first = Update(model, b, UpdateSampling.Reservoir);
        var again = Update(model, b, UpdateSampling.Reservoir, perImage: 3);
        CollectionAssert.AreEqual(first.Sample, again.Sample);
        CollectionAssert.AreEqual(DensityGraph.Build(first), DensityGraph.Build(again));
        Assert.AreEqual(80, first.PointCount);
        Assert.AreEqual(160L, first.History.RegionsSeen);
        Assert.AreNotEqual(model.History.RandomState, first.History.RandomState, "the generator moved on");
    }

    [TestMethod]
    public void PastTheCapacityReservoirKeepsAUniformSampleOfEveryRegionSeen()
    {
        // A (5 regions, fitted whole) then updates of 5 and 10, each through the saved graph: 20 regions, 5 kept, so each
        // region's inclusion count over 1,500 fits (seeds) is Binomial(1500, 1/4), and the counts' chi-square (19 degrees
        // of freedom, variance n·p·(1 − p)) stays below its 0.1 % quantile, 43.8. Small numbers make sampling errors
        // show: keeping a new region with probability cap/seen instead of cap/(seen + 1) gives about 90 (this sampler: 15),
        // keeping the first or the newest regions thousands.
        const int d = 6, k = 2, capacity = 5, seeds = 1500, total = 20;
        float[] a = Rows(5, d, seed: 6), b1 = Rows(5, d, seed: 7), b2 = Rows(10, d, seed: 8);
        var counts = new int[total];
        for (int seed = 0; seed < seeds; seed++)
        {
            var model = Fit(a, d, k, FeatureScalingMethod.Scale, capacity, seed);
            // Each region by its projection (the fit's for A, the kept projection for B).
            var ids = new Dictionary<(double, double), int>();
            for (int i = 0; i < 5; i++) ids.Add((model.Sample[i * k], model.Sample[i * k + 1]), i);
            var y = new double[k];
            float[] b = [.. b1, .. b2];
            for (int i = 0; i < 15; i++)
            {
                model.Project(b.AsSpan(i * d, d), y, new double[d]);
                ids.Add((y[0], y[1]), 5 + i);
            }
            var updated = Update(Update(model, b1, UpdateSampling.Reservoir), b2, UpdateSampling.Reservoir);
            Assert.AreEqual(capacity, updated.PointCount);
            Assert.AreEqual((long)total, updated.History.RegionsSeen);
            var kept = Enumerable.Range(0, capacity).Select(i => ids[(updated.Sample[i * k], updated.Sample[i * k + 1])]).ToArray();
            Assert.HasCount(capacity, kept.Distinct());
            CollectionAssert.AreEqual(kept.Order().ToArray(), kept, "oldest first");
            foreach (int id in kept) counts[id]++;
        }
        double p = (double)capacity / total, expected = seeds * p, variance = seeds * p * (1 - p);
        double chiSquare = counts.Sum(c => (c - expected) * (c - expected) / variance);
        Assert.IsLessThan(43.8, chiSquare, $"inclusion counts {string.Join(", ", counts)}");
    }

    [TestMethod]
    public void NearbySeedsGiveUnrelatedSamplerStreams()
    {
        // SplitMix64 advances its state by a constant, so states one step apart give one stream shifted by one draw.
        var first = new SplitMix64(SplitMix64.FromSeed(0));
        var earlier = Enumerable.Range(0, 1000).Select(_ => first.Next()).ToHashSet();
        for (int seed = 1; seed < 50; seed++)
        {
            var other = new SplitMix64(SplitMix64.FromSeed(seed));
            Assert.IsFalse(Enumerable.Range(0, 100).Any(_ => earlier.Contains(other.Next())), $"seed {seed} repeats seed 0's draws");
        }
    }

    [TestMethod]
    public void BoundedDrawsAreUniform()
    {
        var random = new SplitMix64(SplitMix64.FromSeed(3));
        var counts = new int[7];
        for (int i = 0; i < 70_000; i++) counts[random.NextBelow(7)]++;
        // Chi-square with 6 degrees of freedom below its 0.1 % quantile, 22.5.
        Assert.IsLessThan(22.5, counts.Sum(c => (c - 10_000.0) * (c - 10_000.0) / 10_000.0), string.Join(", ", counts));
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => random.NextBelow(0));
    }

    [TestMethod]
    public void WindowKeepsExactlyTheNewestRegions()
    {
        const int d = 10, k = 3, capacity = 50;
        float[] a = Rows(30, d, seed: 9), b1 = Rows(35, d, seed: 10, shift: 1), b2 = Rows(20, d, seed: 11, shift: 2);
        var model = Fit(a, d, k, FeatureScalingMethod.Scale, capacity);
        var once = Update(model, b1, UpdateSampling.Window, perImage: 4);
        var twice = Update(once, b2, UpdateSampling.Window);

        // All 85 regions projected as the model holds them (A as fitted, B with the kept projection), oldest first.
        var y = new double[k];
        var all = new List<double>(model.Sample);
        float[] b = [.. b1, .. b2];
        for (int i = 0; i < 55; i++)
        {
            model.Project(b.AsSpan(i * d, d), y, new double[d]);
            all.AddRange(y);
        }
        CollectionAssert.AreEqual(all.Skip((65 - capacity) * k).Take(capacity * k).ToArray(), once.Sample, "after 65 regions: the newest 50");
        CollectionAssert.AreEqual(all.Skip((85 - capacity) * k).ToArray(), twice.Sample, "after 85 regions: the newest 50");
        Assert.AreEqual(85L, twice.History.RegionsSeen);
    }

    [TestMethod]
    public void ExplainedVarianceIsHighForRegionsLikeTheTrainingOnesAndLowForOthers()
    {
        const int d = 16, k = 4;
        // Training rows live (up to small noise) in a 4-d subspace; "other" rows spread over all 16 dimensions.
        var random = new Random(12);
        var basis = Enumerable.Range(0, 4 * d).Select(_ => Gaussian(random)).ToArray();
        float[] InSubspace(int count) => Enumerable.Range(0, count).SelectMany(_ =>
        {
            var c = Enumerable.Range(0, 4).Select(_ => Gaussian(random)).ToArray();
            return Enumerable.Range(0, d).Select(j => (float)(Enumerable.Range(0, 4).Sum(i => c[i] * basis[i * d + j]) + 0.01 * Gaussian(random)));
        }).ToArray();
        var model = Fit(InSubspace(200), d, k, FeatureScalingMethod.Scale);
        Assert.IsGreaterThan(0.99, model.History.ExplainedVariance);

        var alike = new DensityUpdate(model, UpdateSampling.Reservoir);
        alike.Add(InSubspace(50), 50);
        Assert.IsGreaterThan(0.99, alike.ExplainedVariance);
        var other = new DensityUpdate(model, UpdateSampling.Reservoir);
        other.Add(Rows(50, d, seed: 13, shift: 3), 50);
        Assert.IsLessThan(0.5, other.ExplainedVariance);
    }

    [TestMethod]
    public void RowsOfAnotherLengthAreRejected()
    {
        const int d = 8;
        var update = new DensityUpdate(Fit(Rows(40, d, seed: 14), d, 2, FeatureScalingMethod.Scale), UpdateSampling.Reservoir);
        var e = Assert.ThrowsExactly<ArgumentException>(() => update.Add(new float[3 * 7], 3));
        StringAssert.Contains(e.Message, "not 3 rows of the model's 8 features");
    }
}
