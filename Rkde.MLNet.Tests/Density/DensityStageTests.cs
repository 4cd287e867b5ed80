using Microsoft.ML;
using Microsoft.ML.Data;
using Rkde.MLNet.Density;

namespace Rkde.MLNet.Tests.Density;

[TestClass]
public sealed class DensityStageTests
{
    public sealed class Row
    {
        [VectorType]
        public float[] Features { get; set; } = [];
    }

    public sealed class Scored
    {
        [VectorType]
        public float[] BoxScores { get; set; } = [];

        public float Score { get; set; }
    }

    /// <summary>Rows of 0–3 regions with 3 features each, seeded Gaussian.</summary>
    private static Row[] Rows(int count, int seed, float shift = 0)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, count).Select(i => new Row
        {
            Features = Enumerable.Range(0, 3 * (i % 4)).Select(_ => shift + (float)(random.NextDouble() * 2 - 1)).ToArray(),
        }).ToArray();
    }

    private static RkdeDensityOptions Options(List<string>? progress = null) => new()
    {
        FeatureDimension = 3,
        PcaComponents = 2,
        MaxTrainingPoints = 50,
        Seed = 7,
        Progress = progress is null ? null : new SynchronousProgress(progress.Add),
    };

    [TestMethod]
    public void FitsOnAReservoirSampleAndScoresEachRegion()
    {
        var ml = new MLContext(seed: 1);
        var messages = new List<string>();
        var model = ml.Transforms.RkdeDensity(Options(messages)).Fit(ml.Data.LoadFromEnumerable(Rows(200, 1)));
        StringAssert.Contains(string.Join("\n", messages), "300 regions from 200 images; fitting PCA (2 components) and KDE on 50 of them");

        var test = Rows(8, 2).Concat(Rows(4, 3, shift: 25)).ToArray();
        var scored = ml.Data.CreateEnumerable<Scored>(model.Transform(ml.Data.LoadFromEnumerable(test)), false).ToArray();
        for (int i = 0; i < test.Length; i++)
        {
            Assert.HasCount(test[i].Features.Length / 3, scored[i].BoxScores);
            Assert.AreEqual(scored[i].BoxScores.Length == 0 ? 0 : scored[i].BoxScores.Max(), scored[i].Score);
        }
        Assert.IsTrue(scored[8..].Where(s => s.BoxScores.Length > 0).All(s => s.Score > 0.99f), "far-away regions are anomalous");
    }

    [TestMethod]
    public void TheSampleGrowsUpToMaxTrainingPoints()
    {
        var ml = new MLContext();
        var messages = new List<string>();
        var options = Options(messages);
        options.MaxTrainingPoints = 2000;
        ml.Transforms.RkdeDensity(options).Fit(ml.Data.LoadFromEnumerable(Rows(1500, 1)));
        StringAssert.Contains(string.Join("\n", messages), "2250 regions from 1500 images; fitting PCA (2 components) and KDE on 2000 of them");
    }

    [TestMethod]
    public void ScoreColumnCanBeRenamedAndIsAFloat()
    {
        var ml = new MLContext();
        var data = ml.Data.LoadFromEnumerable(Rows(40, 1));
        var options = Options();
        options.ScoreColumnName = "ImageScore";
        var estimator = ml.Transforms.RkdeDensity(options);
        var schema = estimator.Fit(data).GetOutputSchema(data.Schema);
        Assert.AreEqual(NumberDataViewType.Single, schema["ImageScore"].Type);
        Assert.IsNull(schema.GetColumnOrNull("Score"));
        CollectionAssert.AreEqual(new[] { "Features", "BoxScores", "ImageScore" }, schema.Where(c => !c.IsHidden).Select(c => c.Name).ToArray());
    }

    [TestMethod]
    public void SameDataAndSeedGiveTheSameModel()
    {
        var ml = new MLContext();
        var data = ml.Data.LoadFromEnumerable(Rows(200, 1));
        var test = ml.Data.LoadFromEnumerable(Rows(20, 5));
        float[][] Scores() => ml.Data.CreateEnumerable<Scored>(ml.Transforms.RkdeDensity(Options()).Fit(data).Transform(test), false)
            .Select(s => s.BoxScores).ToArray();
        var first = Scores();
        var second = Scores();
        for (int i = 0; i < first.Length; i++)
            CollectionAssert.AreEqual(first[i], second[i]);
    }

    [TestMethod]
    public void NonFiniteFeaturesFailNamingRowRegionAndDimension()
    {
        var ml = new MLContext();
        var rows = Rows(20, 1);
        rows[6].Features[4] = float.NaN;
        var e = Assert.Throws<InvalidOperationException>(() => ml.Transforms.RkdeDensity(Options()).Fit(ml.Data.LoadFromEnumerable(rows)));
        StringAssert.Contains(e.Message, "holds NaN at row 6, region 1, dimension 1");
    }

    [TestMethod]
    public void NonFiniteFeaturesAtScoringGiveBoxScoreOneAndImageScoreOne()
    {
        var ml = new MLContext();
        var model = ml.Transforms.RkdeDensity(Options()).Fit(ml.Data.LoadFromEnumerable(Rows(200, 1)));
        var test = new[]
        {
            new Row { Features = [0.1f, float.NaN, 0.2f, 0.3f, -0.1f, 0.2f] },
            new Row { Features = [float.PositiveInfinity, 0, 0] },
            new Row { Features = [0.1f, 0.2f, 0.3f] },
        };
        var scored = ml.Data.CreateEnumerable<Scored>(model.Transform(ml.Data.LoadFromEnumerable(test)), false).ToArray();
        Assert.AreEqual(1f, scored[0].BoxScores[0]);
        Assert.IsTrue(scored[0].BoxScores[1] is >= 0 and < 1, "the finite box keeps its score");
        Assert.AreEqual(1f, scored[0].Score);
        CollectionAssert.AreEqual(new[] { 1f }, scored[1].BoxScores);
        Assert.AreEqual(1f, scored[1].Score);
        Assert.IsFalse(float.IsNaN(scored[2].Score) || scored[2].Score == 1f, "a finite image is unaffected");
    }

    [TestMethod]
    public void NoRegionsOrTooFewFailNamingTheCounts()
    {
        var ml = new MLContext();
        var empty = Enumerable.Range(0, 4).Select(_ => new Row()).ToArray();
        var e = Assert.Throws<InvalidOperationException>(() => ml.Transforms.RkdeDensity(Options()).Fit(ml.Data.LoadFromEnumerable(empty)));
        StringAssert.Contains(e.Message, "The 4 training images gave no regions at all");
        var few = new[] { new Row { Features = [1, 2, 3] } };
        var o = Options();
        o.PcaComponents = 2;
        e = Assert.Throws<InvalidOperationException>(() => ml.Transforms.RkdeDensity(o).Fit(ml.Data.LoadFromEnumerable(few)));
        StringAssert.Contains(e.Message, "1");
    }

    /// <summary>
    /// Every progress message of a fit, the density model's own included, reaches the caller's sink synchronously: on the
    /// fitting thread, in order, all before Fit returns.
    /// </summary>
    [TestMethod]
    public void ProgressArrivesOnTheFittingThreadInOrderBeforeFitReturns()
    {
        var ml = new MLContext(seed: 1);
        var messages = new List<(int Thread, string Text)>();
        var options = Options();
        options.Progress = new SynchronousProgress(m => { lock (messages) messages.Add((Environment.CurrentManagedThreadId, m)); });
        int thread = Environment.CurrentManagedThreadId;
        ml.Transforms.RkdeDensity(options).Fit(ml.Data.LoadFromEnumerable(Rows(200, 1)));
        (int Thread, string Text)[] seen;
        lock (messages) seen = [.. messages];

        string[] expected = ["RkdeDensity: 300 regions", "R-KDE density: fitting on", "R-KDE density: PCA solved", "R-KDE density: KDE fitted", "RkdeDensity: done."];
        CollectionAssert.AreEqual(expected, seen.Select(m => expected.FirstOrDefault(m.Text.StartsWith) ?? m.Text).ToArray(),
            string.Join(" | ", seen.Select(m => m.Text)));
        Assert.IsTrue(seen.All(m => m.Thread == thread), "a message arrived on another thread");
    }

    public sealed class FixedRow
    {
        [VectorType(3)]
        public float[] Features { get; set; } = [];
    }

    public sealed class PairRow
    {
        [VectorType(6)]
        public float[] Features { get; set; } = [];
    }

    /// <summary>
    /// A fixed-size features column (one region per row with FeatureDimension 0, or a fixed number of regions per row)
    /// fits and scores like the same regions in a variable-length column.
    /// </summary>
    [TestMethod]
    public void FixedSizeFeatureColumnsScoreLikeVariableLengthOnes()
    {
        var ml = new MLContext(seed: 1);
        var random = new Random(3);
        float[] Region() => [(float)random.NextDouble(), (float)random.NextDouble(), (float)random.NextDouble()];
        var train = Enumerable.Range(0, 60).Select(_ => Region()).ToArray();
        var test = Enumerable.Range(0, 6).Select(_ => Region()).Append([5f, 5f, 5f]).Append([0.5f, 0.4f, 0.6f]).ToArray();
        var variable = ml.Transforms.RkdeDensity(Options()).Fit(ml.Data.LoadFromEnumerable(train.Select(f => new Row { Features = f })));
        float[] expected = ml.Data.CreateEnumerable<Scored>(variable.Transform(ml.Data.LoadFromEnumerable(test.Select(f => new Row { Features = f }))), false)
            .Select(s => s.Score).ToArray();

        var options = Options();
        options.FeatureDimension = 0;
        var single = ml.Transforms.RkdeDensity(options).Fit(ml.Data.LoadFromEnumerable(train.Select(f => new FixedRow { Features = f })));
        var scored = ml.Data.CreateEnumerable<Scored>(single.Transform(ml.Data.LoadFromEnumerable(test.Select(f => new FixedRow { Features = f }))), false).ToArray();
        CollectionAssert.AreEqual(expected, scored.Select(s => s.Score).ToArray());
        Assert.IsTrue(scored.All(s => s.BoxScores.Length == 1 && s.BoxScores[0] == s.Score));
        Assert.IsGreaterThan(0.99f, scored[6].Score, "the far-away region is anomalous");

        var pairs = ml.Transforms.RkdeDensity(Options()).Fit(ml.Data.LoadFromEnumerable(train.Chunk(2).Select(p => new PairRow { Features = [.. p[0], .. p[1]] })));
        var pairScores = ml.Data.CreateEnumerable<Scored>(pairs.Transform(ml.Data.LoadFromEnumerable(test.Chunk(2).Select(p => new PairRow { Features = [.. p[0], .. p[1]] }))), false)
            .SelectMany(s => s.BoxScores).ToArray();
        CollectionAssert.AreEqual(expected, pairScores);
    }

    [TestMethod]
    public void MissingMistypedOrAmbiguousFeatureColumnIsNamed()
    {
        var ml = new MLContext();
        var e = Assert.Throws<ArgumentOutOfRangeException>(() =>
            ml.Transforms.RkdeDensity(new RkdeDensityOptions { FeaturesColumnName = "F", FeatureDimension = 3 }).Fit(ml.Data.LoadFromEnumerable(Rows(4, 1))));
        StringAssert.Contains(e.Message, "Input column 'F' (FeaturesColumnName) is missing; expected a vector of Single");
        var text = ml.Data.LoadFromEnumerable(new[] { new { Features = "x" } });
        e = Assert.Throws<ArgumentOutOfRangeException>(() => ml.Transforms.RkdeDensity(new RkdeDensityOptions { FeatureDimension = 3 }).Fit(text));
        StringAssert.Contains(e.Message, "Input column 'Features' (FeaturesColumnName) is String; expected a vector of Single");
        e = Assert.Throws<ArgumentOutOfRangeException>(() => ml.Transforms.RkdeDensity().Fit(ml.Data.LoadFromEnumerable(Rows(4, 1))));
        StringAssert.Contains(e.Message, "has variable length, so set FeatureDimension");
    }
}
