using Rkde.Cli.Scoring;
using Rkde.Cli.Evaluate.Metrics;

namespace Rkde.Cli.Tests.Scoring;

[TestClass]
public sealed class ResultLineTests
{
    private static readonly ImageScore Result = new(0.75f,
    [
        new Detection(new BoundingBox(10, 20, 110.5f, 90), 0.75f),
        new Detection(new BoundingBox(0, 0, 30, 40), 0.25f),
    ]);

    [TestMethod]
    public void WritesTheDocumentedFormat()
    {
        Assert.AreEqual(
            """{"image":"sub/a.png","score":0.75,"boxes":[[10,20,110.5,90,0.75],[0,0,30,40,0.25]]}""",
            new ResultLine("sub/a.png", Result, null).ToJson(null));
    }

    [TestMethod]
    public void AddsTheVerdictWhenAThresholdIsGiven()
    {
        StringAssert.Contains(new ResultLine("a.png", Result, null).ToJson(0.5f), "\"score\":0.75,\"anomalous\":true,");
        StringAssert.Contains(new ResultLine("a.png", Result, null).ToJson(0.8f), "\"anomalous\":false");
    }

    [TestMethod]
    public void WritesAnErrorLineForAnImageThatFailed() =>
        Assert.AreEqual("""{"image":"bad.png","error":"empty file"}""", new ResultLine("bad.png", null, "empty file").ToJson(0.5f));

    [TestMethod]
    public void EscapesPathsAndRoundTrips()
    {
        var line = new ResultLine("dir \"x\"/ä.png", Result, null);
        string json = line.ToJson(null);
        var back = ResultLine.Parse(json);
        Assert.AreEqual(line.Image, back.Image);
        Assert.AreEqual(0.75f, back.Result!.Score);
        CollectionAssert.AreEqual(Result.Boxes.ToArray(), back.Result.Boxes.ToArray());
        Assert.AreEqual("empty file", ResultLine.Parse("""{"image":"b.png","error":"empty file"}""").Error);
    }
}
