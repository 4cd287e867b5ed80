using Google.Protobuf;
using Onnx;
using Rkde.MLNet.Density;
using Rkde.MLNet.Features;
using Rkde.MLNet.Pipeline;
using Rkde.MLNet.Regions;

namespace Rkde.MLNet.Tests.Pipeline;

/// <summary>
/// The fitted model's one graph: composed from a front (proposer → region filter → features) and a density graph, it scores
/// as the parts run one after the other, and Split gives back exactly the parts it was composed of (the contract code that
/// rewrites the density relies on).
/// </summary>
[TestClass]
public sealed class FittedGraphTests
{
    private const int W = TinyModels.Width, H = TinyModels.Height;

    private static byte[] Front(byte[]? features = null)
    {
        var proposer = ProposerSlot.Load(null, TinyModels.Proposer(), W, H, RoiStage.Rcnn, "proposer", "proposer bytes").Value;
        var extractor = FeatureSlot.Load(null, features ?? TinyModels.Features(), W, H, "features", "feature bytes").Value;
        return FittedGraph.Front(proposer, new RegionFilterOptions { MinBoxSize = 4, IouThreshold = 0.9f }, extractor, W, H, [("rkde_note", "test")]);
    }

    /// <summary>A density graph with a threshold over 12-d features (the tiny extractor's), fitted on seeded rows.</summary>
    private static byte[] Density(int seed)
    {
        var random = new Random(seed);
        var rows = Enumerable.Range(0, 40 * 12).Select(_ => (float)random.NextDouble()).ToArray();
        var model = KdeDensityModel.Fit(rows, 40, 12, new RkdeDensityOptions { PcaComponents = 3 });
        return DensityGraph.Build(model, threshold: ImageThreshold.FromScores([0.2f, 0.4f, 0.6f], 0.4));
    }

    private static float[] Image(int seed)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, 3 * H * W).Select(_ => (float)random.NextDouble()).ToArray();
    }

    [TestMethod]
    public void SplitGivesBackWhatComposeJoined()
    {
        byte[] front = Front(), density = Density(1);
        var (f, d) = FittedGraph.Split(FittedGraph.Compose(front, density));
        CollectionAssert.AreEqual(front, f, "front");
        CollectionAssert.AreEqual(density, d, "density");
    }

    [TestMethod]
    public void TheComposedGraphScoresAsTheFrontThenTheDensity()
    {
        byte[] front = Front(), density = Density(2);
        using var composed = new OnnxRun(FittedGraph.Compose(front, density));
        using var frontRun = new OnnxRun(front);
        using var densityRun = new OnnxRun(density);
        for (int seed = 0; seed < 3; seed++)
        {
            var pixels = Image(seed);
            var whole = composed.Run((FittedGraph.Pixels, pixels, [1, 3, H, W]));
            var first = frontRun.Run((FittedGraph.Pixels, pixels, [1, 3, H, W]));
            var (features, shape) = first[FittedGraph.Features];
            Assert.IsGreaterThan(0L, shape[1], "the tiny proposer keeps boxes on a bright image");
            var second = densityRun.Run(("features", (float[])features, shape));
            CollectionAssert.AreEqual((float[])first[FittedGraph.Boxes].Data, (float[])whole[FittedGraph.Boxes].Data);
            CollectionAssert.AreEqual((float[])features, (float[])whole[FittedGraph.Features].Data, "the front's features are an output");
            CollectionAssert.AreEqual((float[])second["box_scores"].Data, (float[])whole[FittedGraph.BoxScores].Data);
            CollectionAssert.AreEqual((float[])second["image_score"].Data, (float[])whole[FittedGraph.ImageScore].Data);
            CollectionAssert.AreEqual((bool[])second["is_anomaly"].Data, (bool[])whole[FittedGraph.IsAnomaly].Data);
        }
    }

    [TestMethod]
    public void TheDensityKeepsItsInitializerNamesAndMetadataUnderItsPrefix()
    {
        var composed = ModelProto.Parser.ParseFrom(FittedGraph.Compose(Front(), Density(3)));
        var initializers = composed.Graph.Initializer.Select(i => i.Name).ToHashSet();
        foreach (var name in new[] { DensityGraph.State.Mean, DensityGraph.State.Components, DensityGraph.State.Sample, DensityGraph.State.BandwidthTransform,
                     DensityGraph.State.LogNormaliser, DensityGraph.ThresholdInitializer })
            Assert.Contains(FittedGraph.DensityPrefix + name, initializers);
        var meta = FittedGraph.Metadata(composed);
        Assert.AreEqual("fitted", meta["rkde_stage"]);
        Assert.AreEqual("density", meta["density/rkde_stage"]);
        Assert.AreEqual("front", meta["front/rkde_stage"]);
        Assert.AreEqual("test", meta["front/rkde_note"]);
        Assert.AreEqual($"{W}x{H}", meta["front/" + FittedGraph.InputSizeKey]);
        Assert.AreEqual(meta["density/rkde_threshold"], ((double)FittedGraph.Threshold(composed)!.Value).ToString("R", System.Globalization.CultureInfo.InvariantCulture));
    }

    [TestMethod]
    public void ADensityReplacedThroughSplitAndComposeScoresAsTheNewOne()
    {
        var (front, _) = FittedGraph.Split(FittedGraph.Compose(Front(), Density(4)));
        byte[] replacement = Density(5);
        using var updated = new OnnxRun(FittedGraph.Compose(front, replacement));
        using var frontRun = new OnnxRun(front);
        using var densityRun = new OnnxRun(replacement);
        var pixels = Image(7);
        var (features, shape) = frontRun.Run((FittedGraph.Pixels, pixels, [1, 3, H, W]))[FittedGraph.Features];
        CollectionAssert.AreEqual((float[])densityRun.Run(("features", (float[])features, shape))["box_scores"].Data,
            (float[])updated.Run((FittedGraph.Pixels, pixels, [1, 3, H, W]))[FittedGraph.BoxScores].Data);
    }

    [TestMethod]
    public void PartsOfLowerOpsetsAreRaisedToOne()
    {
        var old = ModelProto.Parser.ParseFrom(TinyModels.Features());
        old.OpsetImport.Single().Version = 11;
        var composed = ModelProto.Parser.ParseFrom(FittedGraph.Compose(Front(old.ToByteArray()), Density(6)));
        Assert.AreEqual(18L, composed.OpsetImport.Single(o => o.Domain == "").Version);
        var roiAlign = composed.Graph.Node.Single(n => n.OpType == "RoiAlign");
        Assert.AreEqual("output_half_pixel", roiAlign.Attribute.Single(a => a.Name == "coordinate_transformation_mode").S.ToStringUtf8(),
            "opset 11's RoiAlign keeps its meaning at 18");
        StringAssert.StartsWith(roiAlign.Name, "features/");
    }

    [TestMethod]
    public void ComposeAndSplitRefuseGraphsOfTheWrongStageOrVersion()
    {
        byte[] front = Front(), density = Density(8);
        var e = Assert.Throws<InvalidDataException>(() => FittedGraph.Compose(density, density));
        StringAssert.Contains(e.Message, "The front graph carries rkde_stage 'density'; expected 'front'");
        e = Assert.Throws<InvalidDataException>(() => FittedGraph.Split(front));
        StringAssert.Contains(e.Message, "carries rkde_stage 'front'; expected 'fitted'");
        var old = ModelProto.Parser.ParseFrom(density);
        old.MetadataProps.Single(p => p.Key == "rkde_format_version").Value = "1";
        e = Assert.Throws<InvalidDataException>(() => FittedGraph.Compose(front, old.ToByteArray()));
        StringAssert.Contains(e.Message, "The density graph carries rkde_format_version '1'; this Rkde.MLNet composes version 3");
    }
}
