using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Rkde.Cli.Scoring;
using Rkde.Cli.Serve;
using Rkde.MLNet;

namespace Rkde.Cli.Tests.Serve;

/// <summary>
/// POST /normal: off unless --allow-normal; an accepted normal image is learned and scores lower afterwards, the model
/// swapped in as a new version; a refused upload leaves the model as it was.
/// </summary>
[TestClass]
public sealed class NormalEndpointTests
{
    /// <summary>Demo training images that model B (fitted on the odd-numbered half) has not seen.</summary>
    private static string[] Unseen => ImageFiles.Find(Path.Combine(TestData.DemoRoot, "train", "good"), "demo").Where((_, i) => i % 2 == 0).ToArray();

    private static async Task<(float Score, int Version)> Score(RunningServer server, byte[] image)
    {
        var response = await server.Client.PostAsync("/score", new ByteArrayContent(image));
        Assert.AreEqual(HttpStatusCode.OK, response.StatusCode, await response.Content.ReadAsStringAsync());
        using var answer = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return (answer.RootElement.GetProperty("score").GetSingle(), int.Parse(response.Headers.GetValues(ScoreEndpoint.ModelVersionHeader).Single()));
    }

    private static MultipartFormDataContent Form(params byte[][] images)
    {
        var form = new MultipartFormDataContent();
        foreach (var (image, i) in images.Select((b, i) => (b, i)))
        {
            var part = new ByteArrayContent(image);
            part.Headers.ContentType = new MediaTypeHeaderValue("image/png");
            form.Add(part, UploadReader.FieldName, $"normal{i}.png");
        }
        return form;
    }

    [TestMethod]
    public async Task WithoutAllowNormalItIsForbiddenAndSaysHowToEnableIt()
    {
        await using var server = await ServeFixture.StartAsync(ServeFixture.Options(ServeFixture.ModelB));
        var response = await server.Client.PostAsync("/normal", new ByteArrayContent(File.ReadAllBytes(Unseen[0])));
        Assert.AreEqual(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.AreEqual(ServeJson.ContentType, response.Content.Headers.ContentType!.ToString());
        StringAssert.Contains(await response.Content.ReadAsStringAsync(), "start rkde serve with --allow-normal");
        Assert.AreEqual(1, server.Service<ModelHolder<ServedModel>>().Version);
    }

    [TestMethod]
    public async Task AnAcceptedNormalIsLearnedAndScoresLower()
    {
        string saved = Path.Combine(TestData.TempFolder(), "learned.zip");
        await using var server = await ServeFixture.StartAsync(ServeFixture.Options(ServeFixture.ModelB) with { AllowNormal = true, NormalOut = saved });
        byte[] first = File.ReadAllBytes(Unseen[0]), second = File.ReadAllBytes(Unseen[1]), raw = File.ReadAllBytes(Unseen[2]);
        var (before, v1) = await Score(server, first);
        var (beforeRaw, _) = await Score(server, raw);
        Assert.AreEqual(1, v1);

        var response = await server.Client.PostAsync("/normal", Form(first, second));
        string body = await response.Content.ReadAsStringAsync();
        Assert.AreEqual(HttpStatusCode.OK, response.StatusCode, body);
        using var answer = JsonDocument.Parse(body);
        var a = answer.RootElement;
        Assert.AreEqual(2, a.GetProperty("imagesAdded").GetInt32(), "several multipart fields 'image'");
        Assert.IsGreaterThan(0L, a.GetProperty("regionsAdded").GetInt64());
        Assert.AreEqual(2, a.GetProperty("modelVersion").GetInt32());
        Assert.AreEqual("learned.zip", a.GetProperty("saved").GetString());
        Assert.AreEqual("2", response.Headers.GetValues(ScoreEndpoint.ModelVersionHeader).Single());

        var (after, v2) = await Score(server, first);
        Assert.AreEqual(2, v2, "scored by the updated model");
        Assert.IsLessThan(before, after, $"the learned image scored {before} before and {after} after");
        using var health = JsonDocument.Parse(await server.Client.GetStringAsync("/health"));
        Assert.AreEqual(a.GetProperty("threshold").GetSingle(), health.RootElement.GetProperty("threshold").GetSingle(), "the updated model's own threshold");

        // The saved model is the served one.
        var ml = new Microsoft.ML.MLContext();
        Assert.AreEqual(a.GetProperty("threshold").GetSingle(), ml.Model.ReadRkdeModelInfo(saved).Threshold);
        using var savedScore = new MlNetEngine().Load(saved);
        var size = SkiaSharp.SKBitmap.DecodeBounds(Unseen[0]);
        Assert.AreEqual(after, savedScore.Score(Unseen[0], size.Width, size.Height).Score, 1e-6f);

        // A raw body is one image.
        var rawResponse = await server.Client.PostAsync("/normal", new ByteArrayContent(raw));
        Assert.AreEqual(HttpStatusCode.OK, rawResponse.StatusCode, await rawResponse.Content.ReadAsStringAsync());
        var (afterRaw, v3) = await Score(server, raw);
        Assert.AreEqual(3, v3);
        Assert.IsLessThan(beforeRaw, afterRaw);
    }

    [TestMethod]
    public async Task ABadUploadIsRefusedAndTheModelIsUnchanged()
    {
        await using var server = await ServeFixture.StartAsync(ServeFixture.Options(ServeFixture.ModelB) with { AllowNormal = true });
        byte[] good = File.ReadAllBytes(Unseen[0]);
        var (before, _) = await Score(server, good);
        byte[] truncated = good[..(good.Length / 2)];

        var text = await server.Client.PostAsync("/normal", new ByteArrayContent("not an image"u8.ToArray()));
        Assert.AreEqual(HttpStatusCode.UnsupportedMediaType, text.StatusCode);
        var cut = await server.Client.PostAsync("/normal", Form(good, truncated));
        Assert.AreEqual(HttpStatusCode.BadRequest, cut.StatusCode);
        string message = await cut.Content.ReadAsStringAsync();
        StringAssert.Contains(message, "Image 2 of 2");
        StringAssert.Contains(message, "the model is unchanged");
        var bomb = await server.Client.PostAsync("/normal", new ByteArrayContent(ServeFixture.PngDeclaring(100_000, 100_000)));
        Assert.AreEqual(HttpStatusCode.BadRequest, bomb.StatusCode);

        var (after, version) = await Score(server, good);
        Assert.AreEqual(1, version, "no update happened");
        Assert.AreEqual(before, after);
    }

    [TestMethod]
    public void NormalOutWithoutAllowNormalIsRefusedNamingBoth()
    {
        var e = Assert.Throws<CliException>(() => (ServeFixture.Options() with { NormalOut = "learned.zip" }).Validate());
        StringAssert.Contains(e.Message, "--normal-out saves what POST /normal learns; give --allow-normal too");
    }

    [TestMethod]
    public async Task AModelOfAnOlderFormatCannotLearnAndTheAnswerSaysRefit()
    {
        string old = Path.Combine(TestData.TempFolder(), "v2.zip");
        File.Copy(ServeFixture.ModelB, old);
        StampVersionTwo(old);
        await using var server = await ServeFixture.StartAsync(ServeFixture.Options(old) with { AllowNormal = true });
        var response = await server.Client.PostAsync("/normal", new ByteArrayContent(File.ReadAllBytes(Unseen[0])));
        Assert.AreEqual(HttpStatusCode.Conflict, response.StatusCode);
        string message = await response.Content.ReadAsStringAsync();
        StringAssert.Contains(message, "rkde_format_version 2, which scores but does not keep its training sample");
        StringAssert.Contains(message, "Refit it");
        Assert.AreEqual(1, server.Service<ModelHolder<ServedModel>>().Version);
    }

    /// <summary>
    /// Stamps every R-KDE graph in the .zip as format 2 (one graph without the update state): each "…rkde_format_version" entry's
    /// one-character value, rewritten in place in the protobuf bytes (the same length, so nothing else moves).
    /// </summary>
    private static void StampVersionTwo(string zipPath)
    {
        byte[] from = [.. "rkde_format_version"u8, 0x12, 0x01, (byte)'3'], to = [.. "rkde_format_version"u8, 0x12, 0x01, (byte)'2'];
        using var zip = System.IO.Compression.ZipFile.Open(zipPath, System.IO.Compression.ZipArchiveMode.Update);
        foreach (var entry in zip.Entries.Where(e => e.Name == "OnnxModel").ToList())
        {
            byte[] bytes;
            using (var read = new MemoryStream())
            {
                using (var stream = entry.Open()) stream.CopyTo(read);
                bytes = read.ToArray();
            }
            int replaced = 0;
            for (int i = bytes.AsSpan().IndexOf(from); i >= 0; i = bytes.AsSpan().IndexOf(from))
            {
                to.CopyTo(bytes, i);
                replaced++;
            }
            Assert.IsGreaterThan(0, replaced);
            using var write = entry.Open();
            write.SetLength(0);
            write.Write(bytes);
        }
    }
}
