using Rkde.MLNet.Density;

namespace Rkde.MLNet.Tests.Density;

[TestClass]
public sealed class DensityModelTests
{
    /// <summary>Rows with a rank-<paramref name="rank"/> structure (decaying scales) plus small noise and an offset.</summary>
    private static float[] LowRank(int rows, int dim, int rank, int seed)
    {
        var random = new Random(seed);
        var basis = new double[rank * dim];
        for (int i = 0; i < basis.Length; i++) basis[i] = Gaussian(random);
        var data = new float[rows * dim];
        for (int r = 0; r < rows; r++)
        {
            var coefficients = new double[rank];
            for (int j = 0; j < rank; j++) coefficients[j] = 3 * Math.Pow(0.7, j) * Gaussian(random);
            for (int d = 0; d < dim; d++)
            {
                double v = 1 + 0.05 * Gaussian(random);
                for (int j = 0; j < rank; j++) v += coefficients[j] * basis[j * dim + d];
                data[r * dim + d] = (float)v;
            }
        }
        return data;
    }

    private static double Gaussian(Random random) =>
        Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());

    [TestMethod]
    public void TrainingSampleIsSeededDistinctAndBounded()
    {
        Assert.IsNull(Reservoir.Sample(100, 100, seed: 1));
        var a = Reservoir.Sample(1000, 100, seed: 7)!;
        CollectionAssert.AreEqual(a, Reservoir.Sample(1000, 100, seed: 7));
        CollectionAssert.AreNotEqual(a, Reservoir.Sample(1000, 100, seed: 8));
        Assert.HasCount(100, a);
        Assert.HasCount(100, a.Distinct());
        Assert.IsTrue(a.All(i => i is >= 0 and < 1000));
    }

    [TestMethod]
    public void TrainingSampleIsUniform()
    {
        // Every seed keeps exactly `capacity` of n rows, so the inclusion counts over the seeds are binomial with their
        // sum fixed: Σ (o − e)² / (e (1 − p)) follows χ² with n − 1 degrees of freedom. Two-sided at 0.1 %: a sampler
        // that favours early or late rows fails above, one that spreads them too evenly to be random fails below.
        const int n = 40, capacity = 10, seeds = 4000;
        var counts = new int[n];
        for (int seed = 0; seed < seeds; seed++)
            foreach (int i in Reservoir.Sample(n, capacity, seed)!) counts[i]++;
        double p = (double)capacity / n, expected = seeds * p;
        double chiSquare = counts.Sum(c => (c - expected) * (c - expected)) / (expected * (1 - p));
        Assert.IsGreaterThan(17.2, chiSquare, "χ²(39) 0.1 % quantile");
        Assert.IsLessThan(72.1, chiSquare, "χ²(39) 99.9 % quantile");
    }

    [TestMethod]
    public void FitOnABufferKeepsTheRowsTheReservoirKeepsFromTheSameStream()
    {
        const int rows = 1000, dim = 12, capacity = 300;
        var data = LowRank(rows, dim, 6, seed: 4);
        using var reservoir = new Reservoir(capacity, dim, seed: 9);
        for (int r = 0; r < rows; r++) reservoir.Add(data.AsSpan(r * dim, dim));
        var options = new RkdeDensityOptions { PcaComponents = 4, MaxTrainingPoints = capacity };
        var streamed = KdeDensityModel.Fit(reservoir.RowsOldestFirst(), options, seed: 9, progress: null);
        var buffered = KdeDensityModel.Fit(data, rows, dim, options, seed: 9);
        CollectionAssert.AreEqual(streamed.Points, buffered.Points);
    }

    [TestMethod]
    public void ReservoirKeepsAlgorithmRsSampleAcrossChunksAndFitsAsTheSameRowsInOneBuffer()
    {
        const int rows = 1000, dim = 12, capacity = 300;
        var data = LowRank(rows, dim, 6, seed: 4);
        using var reservoir = new Reservoir(capacity, dim, seed: 9, chunkRows: 7);
        for (int r = 0; r < rows; r++) reservoir.Add(data.AsSpan(r * dim, dim));

        // Algorithm R over one contiguous buffer, with the same random sequence.
        var expected = new float[capacity * dim];
        var random = new Random(9);
        for (long seen = 0; seen < rows; seen++)
        {
            long slot = seen < capacity ? seen : random.NextInt64(seen + 1);
            if (slot < capacity) data.AsSpan((int)seen * dim, dim).CopyTo(expected.AsSpan((int)slot * dim, dim));
        }
        Assert.AreEqual(1000L, reservoir.Seen);
        var view = reservoir.Rows();
        Assert.AreEqual(capacity, view.Count);

        // The points come out in row order: equal points mean the same rows in the same order.
        var options = new RkdeDensityOptions { PcaComponents = 4 };
        var fromChunks = KdeDensityModel.Fit(view, options, seed: 2, progress: null);
        CollectionAssert.AreEqual(KdeDensityModel.Fit(expected, capacity, dim, options, seed: 2).Points, fromChunks.Points);
    }

    [TestMethod]
    public void FitSubsamplesToMaxTrainingPointsDeterministically()
    {
        const int rows = 300, dim = 12;
        var data = LowRank(rows, dim, 6, seed: 3);
        var options = new RkdeDensityOptions { PcaComponents = 4, MaxTrainingPoints = 100 };
        var first = KdeDensityModel.Fit(data, rows, dim, options, seed: 5);
        var again = KdeDensityModel.Fit(data, rows, dim, options, seed: 5);
        var other = KdeDensityModel.Fit(data, rows, dim, options, seed: 6);
        Assert.AreEqual(100, first.PointCount);
        CollectionAssert.AreEqual(first.Points, again.Points);
        CollectionAssert.AreNotEqual(first.Mean, other.Mean);
    }

    [TestMethod]
    [DataRow(1500, 512, DisplayName = "one stage")]
    [DataRow(2 * Lobpcg.WarmStartRows + 500, 288, DisplayName = "warm-started on a row subset")]
    [DataRow(300, 512, DisplayName = "fewer rows than D: exact from the Gram matrix")]
    public void RandomizedPcaAgreesWithExactPca(int rows, int dim)
    {
        // D > Pca.ExactMaxDimension: the exact path decomposes the covariance, or the Gram matrix when there are fewer rows than D;
        // Randomized is LOBPCG, to its error tolerance.
        const int test = 40;
        var data = LowRank(rows + test, dim, 24, seed: 11);
        var training = data.AsSpan(0, rows * dim).ToArray();
        var options = new RkdeDensityOptions { PcaComponents = 8 };
        var exact = KdeDensityModel.Fit(training, rows, dim, options, 0, null, PcaSolver.Exact);
        var randomized = KdeDensityModel.Fit(training, rows, dim, options, 0, null, PcaSolver.Randomized);
        Assert.AreEqual(exact.MaxLength, randomized.MaxLength, 1e-7 * exact.MaxLength);
        Assert.AreEqual(exact.LogNormaliser, randomized.LogNormaliser, 1e-5);
        for (int i = 0; i < test; i++)
        {
            var row = data.AsSpan((rows + i) * dim, dim);
            double expected = exact.LogDensity(row);
            Assert.AreEqual(expected, randomized.LogDensity(row), 1e-5 * Math.Max(1, Math.Abs(expected)), $"test row {i}");
        }
    }

    [TestMethod]
    public void NonFiniteFeatureIsRejectedNamingTheRow()
    {
        var data = LowRank(50, 10, 4, seed: 1);
        data[17 * 10 + 3] = float.NaN;
        var error = Assert.ThrowsExactly<ArgumentException>(() => KdeDensityModel.Fit(data, 50, 10, new RkdeDensityOptions { PcaComponents = 4 }));
        StringAssert.Contains(error.Message, "row 17");
        StringAssert.Contains(error.Message, "column 3");
        data[17 * 10 + 3] = 1;
        data[2 * 10 + 9] = float.NegativeInfinity;
        error = Assert.ThrowsExactly<ArgumentException>(() => KdeDensityModel.Fit(data, 50, 10, new RkdeDensityOptions { PcaComponents = 4 }));
        StringAssert.Contains(error.Message, "row 2");
    }

    [TestMethod]
    public void TooFewRowsNamesBothCountsAndTheFix()
    {
        var data = LowRank(5, 10, 4, seed: 1);
        var error = Assert.ThrowsExactly<InvalidOperationException>(() => KdeDensityModel.Fit(data, 5, 10, new RkdeDensityOptions { PcaComponents = 8 }));
        StringAssert.Contains(error.Message, "found 5 training regions");
        StringAssert.Contains(error.Message, "at least 8");
        StringAssert.Contains(error.Message, "MinBoxSize");
    }

    [TestMethod]
    public void RowsThatSpanTooFewDimensionsGiveAClearError()
    {
        // 8 centred rows span at most 7 dimensions: the 8-d KDE covariance is singular.
        var data = LowRank(8, 10, 6, seed: 1);
        var error = Assert.ThrowsExactly<InvalidOperationException>(() => KdeDensityModel.Fit(data, 8, 10, new RkdeDensityOptions { PcaComponents = 8 }));
        StringAssert.Contains(error.Message, "singular");
    }

    [TestMethod]
    public void ComponentsAreCappedAtTheFeatureDimension()
    {
        var data = LowRank(100, 6, 6, seed: 1);
        var model = KdeDensityModel.Fit(data, 100, 6, new RkdeDensityOptions { PcaComponents = 16 });
        Assert.AreEqual(6, model.ComponentCount);
        Assert.IsTrue(double.IsFinite(model.LogDensity(data.AsSpan(0, 6))));
    }

    [TestMethod]
    public void ScaleKeepsTheLargestProjectedNormAndIsInvariantToGlobalScale()
    {
        const int rows = 200, dim = 16, k = 4;
        var data = LowRank(rows, dim, 6, seed: 2);
        var options = new RkdeDensityOptions { PcaComponents = k, FeatureScaling = FeatureScalingMethod.Scale };
        var model = KdeDensityModel.Fit(data, rows, dim, options);
        double largest = 0;
        for (int r = 0; r < rows; r++)
        {
            double s = 0;
            for (int j = 0; j < k; j++)
            {
                double y = 0;
                for (int d = 0; d < dim; d++) y += ((double)data[r * dim + d] - model.Mean[d]) * model.Components[d * k + j];
                s += y * y;
            }
            largest = Math.Max(largest, Math.Sqrt(s));
        }
        Assert.AreEqual(largest, model.MaxLength, 1e-9 * largest);

        var scaled = data.Select(v => 3 * v).ToArray();
        var scaledModel = KdeDensityModel.Fit(scaled, rows, dim, options);
        Assert.AreEqual(3 * model.MaxLength, scaledModel.MaxLength, 1e-5 * model.MaxLength);
        Assert.AreEqual(model.LogDensity(data.AsSpan(0, dim)), scaledModel.LogDensity(scaled.AsSpan(0, dim)), 1e-4);
    }

    [TestMethod]
    public void NormDividesEachProjectedRowByItsNorm()
    {
        const int rows = 200, dim = 16;
        var data = LowRank(rows, dim, 6, seed: 4);
        var model = KdeDensityModel.Fit(data, rows, dim, new RkdeDensityOptions { PcaComponents = 4, FeatureScaling = FeatureScalingMethod.Norm });
        Assert.AreEqual(1.0, model.MaxLength);
        // A row moved away from the mean along its own direction projects to the same unit vector.
        var row = data.AsSpan(0, dim).ToArray();
        var farther = row.Select((v, d) => model.Mean[d] + 2.5f * (v - model.Mean[d])).ToArray();
        Assert.AreEqual(model.LogDensity(row), model.LogDensity(farther), 1e-4);
    }

    /// <summary>
    /// Isotropic: L is 1/(h·σ) times the identity, σ² the mean of the components' (unbiased) variances and h Scott's factor,
    /// and the log-density is that of a Gaussian mixture with covariance h²σ²·I at the scaled training projections, written
    /// out here; anomalib's Covariance kernel on the same rows has unequal scales (the components' variances decay).
    /// </summary>
    [TestMethod]
    public void IsotropicKernelHasOneScaleInEveryDirection()
    {
        const int rows = 300, dim = 16, k = 4;
        var data = LowRank(rows, dim, 6, seed: 11);
        var model = KdeDensityModel.Fit(data, rows, dim, new RkdeDensityOptions { PcaComponents = k, Bandwidth = KdeBandwidth.Isotropic });
        Assert.AreEqual(KdeBandwidth.Isotropic, model.Bandwidth);
        var y = model.Sample;
        double variance = 0;
        for (int a = 0; a < k; a++)
        {
            double mean = Enumerable.Range(0, rows).Average(i => y[i * k + a]);
            variance += Enumerable.Range(0, rows).Sum(i => (y[i * k + a] - mean) * (y[i * k + a] - mean)) / (rows - 1) / k;
        }
        double h = GaussianKde.ScottFactor(rows, k), scale = 1 / (h * Math.Sqrt(variance));
        for (int a = 0; a < k; a++)
            for (int b = 0; b < k; b++)
                Assert.AreEqual(a == b ? scale : 0, model.BandwidthTransform[a * k + b], 1e-9 * scale, $"L[{a},{b}]");

        var query = data.AsSpan(5 * dim, dim).ToArray().Select((v, d) => v + 0.3f * (d % 3)).ToArray();
        var q = new double[k];
        for (int a = 0; a < k; a++)
            for (int d = 0; d < dim; d++)
                q[a] += (query[d] - model.Mean[d]) * model.Components[d * k + a] / model.MaxLength;
        var centre = Enumerable.Range(0, k).Select(a => Enumerable.Range(0, rows).Average(i => y[i * k + a])).ToArray();
        double s2 = h * h * variance;
        var terms = Enumerable.Range(0, rows).Select(i =>
            -Enumerable.Range(0, k).Sum(a => Math.Pow(q[a] - (y[i * k + a] - centre[a]), 2)) / (2 * s2)).ToArray();
        double top = terms.Max();
        double expected = top + Math.Log(terms.Sum(t => Math.Exp(t - top))) - Math.Log(rows) - 0.5 * k * Math.Log(2 * Math.PI * s2);
        Assert.AreEqual(expected, model.LogDensity(query), 1e-6 * Math.Max(1, Math.Abs(expected)));

        var covariance = KdeDensityModel.Fit(data, rows, dim, new RkdeDensityOptions { PcaComponents = k });
        Assert.AreEqual(KdeBandwidth.Covariance, covariance.Bandwidth);
        Assert.IsGreaterThan(1.5 * covariance.BandwidthTransform[0], covariance.BandwidthTransform[(k - 1) * k + k - 1],
            "the covariance kernel scales the last, weakest component up the most");
    }

    [TestMethod]
    public void ProbabilityIsTheLogisticOfTheLogDensityWithoutOverflow()
    {
        Assert.AreEqual(0.5, KdeDensityModel.Probability(12), 1e-15);
        Assert.AreEqual(1 / (1 + Math.Exp(0.05 * (3 - 12))), KdeDensityModel.Probability(3), 1e-15);
        Assert.AreEqual(1.0, KdeDensityModel.Probability(-1e6));
        Assert.AreEqual(0.0, KdeDensityModel.Probability(1e6));
        Assert.IsLessThan(1.0, KdeDensityModel.Probability(-300));
    }

    [TestMethod]
    public void FarAwayRowsGetAFiniteLogDensity()
    {
        const int rows = 100, dim = 8;
        var data = LowRank(rows, dim, 4, seed: 9);
        var model = KdeDensityModel.Fit(data, rows, dim, new RkdeDensityOptions { PcaComponents = 4 });
        var far = Enumerable.Repeat(1e4f, dim).ToArray();
        double logDensity = model.LogDensity(far);
        Assert.IsTrue(double.IsFinite(logDensity));
        Assert.IsLessThan(-1000, logDensity);
    }
}
