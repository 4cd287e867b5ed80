using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Microsoft.ML;
using Rkde.MLNet;
using Rkde.Cli.Scoring;
using Rkde.Cli.Serve;
using SkiaSharp;

namespace Rkde.Cli.Tests.Serve;

/// <summary><c>POST /score</c> on a real model: the same values as <c>rkde score</c>, whatever the upload's form.</summary>
[TestClass]
public sealed class ScoreEndpointTests
{
    [TestMethod]
    public async Task ScoresEqualRkdeScoreLinesForEveryImage()
    {
        // The demo test images, and the same kind of picture as grayscale PNG, RGBA PNG, JPEG, BMP and WebP at other sizes.
        string folder = TestData.TempFolder();
        foreach (string image in ServeFixture.DemoTestImages)
            File.Copy(image, Path.Combine(folder, ImageFiles.Relative(Path.Combine(TestData.DemoRoot, "test"), image).Replace('/', '_')));
        File.WriteAllBytes(Path.Combine(folder, "gray.png"), ServeFixture.Picture(300, 200, SKEncodedImageFormat.Png, SKColorType.Gray8));
        File.WriteAllBytes(Path.Combine(folder, "rgba.png"), ServeFixture.Picture(500, 260, SKEncodedImageFormat.Png));
        File.WriteAllBytes(Path.Combine(folder, "photo.jpg"), ServeFixture.Picture(640, 480, SKEncodedImageFormat.Jpeg));
        File.WriteAllBytes(Path.Combine(folder, "small.bmp"), ServeFixture.Picture(90, 60, SKEncodedImageFormat.Bmp));
        File.WriteAllBytes(Path.Combine(folder, "frame.webp"), ServeFixture.Picture(360, 240, SKEncodedImageFormat.Webp));
        string results = Path.Combine(folder, "out", "results.jsonl");
        var cli = CliRunner.Run(new MlNetEngine(), "score", "--model", ServeFixture.ModelA, "--images", folder, "--out", results);
        Assert.AreEqual(0, cli.Code, cli.Err);
        var lines = File.ReadAllLines(results).Select(l => (Line: l, Parsed: ResultLine.Parse(l))).ToList();
        Assert.HasCount(25, lines);
        Assert.IsTrue(lines.All(l => l.Parsed.Result is not null), string.Join("\n", lines.Select(l => l.Line)));
        // A threshold inside the scores, so both verdicts occur.
        float threshold = lines.Select(l => l.Parsed.Result!.Score).Order().ElementAt(lines.Count / 2);

        await using var server = await ServeFixture.StartAsync(ServeFixture.Options() with { Threshold = threshold });
        int anomalous = 0;
        foreach (var (line, parsed) in lines)
        {
            byte[] bytes = File.ReadAllBytes(Path.Combine(folder, parsed.Image));
            using var expected = JsonDocument.Parse(line);
            var raw = await server.Client.PostAsync("/score", new ByteArrayContent(bytes));
            var multipart = await server.Client.PostAsync("/score", Multipart(bytes, "frame.bin"));
            foreach (var response in new[] { raw, multipart })
            {
                string body = await response.Content.ReadAsStringAsync();
                Assert.AreEqual(HttpStatusCode.OK, response.StatusCode, body);
                using var answer = JsonDocument.Parse(body);
                var a = answer.RootElement;
                var e = expected.RootElement;
                Assert.AreEqual(e.GetProperty("score").GetSingle(), a.GetProperty("score").GetSingle(), parsed.Image);
                Assert.AreEqual(parsed.Result!.IsAnomalyAt(threshold), a.GetProperty("isAnomaly").GetBoolean(), parsed.Image);
                Assert.AreEqual(threshold, a.GetProperty("threshold").GetSingle());
                // The boxes are written by the same code: their JSON text is identical, order and rounding included.
                Assert.AreEqual(e.GetProperty("boxes").GetRawText(), a.GetProperty("boxes").GetRawText(), parsed.Image);
                Assert.AreEqual("1", response.Headers.GetValues(ScoreEndpoint.ModelVersionHeader).Single());
            }
            if (parsed.Result!.IsAnomalyAt(threshold)) anomalous++;
        }
        Assert.IsTrue(anomalous > 0 && anomalous < lines.Count, $"{anomalous} of {lines.Count} at or above {threshold}");
        Assert.IsTrue(lines.Any(l => l.Parsed.Result!.Boxes.Count > 1), "some image has several boxes");
    }

    [TestMethod]
    public async Task TheBytesDecideNotTheContentTypeOrFileName()
    {
        await using var server = await ServeFixture.StartAsync(ServeFixture.Options());
        byte[] png = ServeFixture.Picture(200, 150, SKEncodedImageFormat.Png);
        var asText = new ByteArrayContent(png);
        asText.Headers.ContentType = new MediaTypeHeaderValue("text/plain");
        var scored = await server.Client.PostAsync("/score", asText);
        Assert.AreEqual(HttpStatusCode.OK, scored.StatusCode, await scored.Content.ReadAsStringAsync());

        var textAsPng = new ByteArrayContent("just some words"u8.ToArray());
        textAsPng.Headers.ContentType = new MediaTypeHeaderValue("image/png");
        var refused = await server.Client.PostAsync("/score", textAsPng);
        Assert.AreEqual(HttpStatusCode.UnsupportedMediaType, refused.StatusCode);

        // A client's file name is never used, so a path in it goes nowhere; the answer is the same as for the bare bytes.
        var traversal = await server.Client.PostAsync("/score", Multipart(png, "../../../../etc/passwd"));
        Assert.AreEqual(HttpStatusCode.OK, traversal.StatusCode);
        Assert.AreEqual(await scored.Content.ReadAsStringAsync(), await traversal.Content.ReadAsStringAsync());
    }

    [TestMethod]
    public async Task MultipartTakesTheImageFieldAndSkipsOthers()
    {
        await using var server = await ServeFixture.StartAsync(ServeFixture.Options());
        byte[] png = ServeFixture.Picture(200, 150, SKEncodedImageFormat.Png);
        var form = new MultipartFormDataContent
        {
            { new StringContent("camera 3"), "note" },
            { new ByteArrayContent(png), UploadReader.FieldName, "frame.png" },
        };
        var withNote = await server.Client.PostAsync("/score", form);
        var bare = await server.Client.PostAsync("/score", new ByteArrayContent(png));
        Assert.AreEqual(HttpStatusCode.OK, withNote.StatusCode, await withNote.Content.ReadAsStringAsync());
        Assert.AreEqual(await bare.Content.ReadAsStringAsync(), await withNote.Content.ReadAsStringAsync());
    }

    [TestMethod]
    public async Task WithoutAThresholdTheModelsOwnDecides()
    {
        float own = new MLContext().Model.ReadRkdeModelInfo(ServeFixture.ModelA).Threshold;
        Assert.IsTrue(float.IsFinite(own), "the fitted model stores a threshold");
        await using var server = await ServeFixture.StartAsync(ServeFixture.Options());
        var response = await server.Client.PostAsync("/score", new ByteArrayContent(File.ReadAllBytes(ServeFixture.DemoTestImages[0])));
        using var answer = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        float score = answer.RootElement.GetProperty("score").GetSingle();
        Assert.AreEqual(own, answer.RootElement.GetProperty("threshold").GetSingle());
        Assert.AreEqual(score >= own, answer.RootElement.GetProperty("isAnomaly").GetBoolean());
        CollectionAssert.AreEqual(new[] { "score", "isAnomaly", "threshold", "boxes" }, answer.RootElement.EnumerateObject().Select(p => p.Name).ToArray());
        using var health = JsonDocument.Parse(await server.Client.GetStringAsync("/health"));
        Assert.AreEqual(own, health.RootElement.GetProperty("threshold").GetSingle());
    }

    [TestMethod]
    public async Task HealthAndMetricsCountWhatHappened()
    {
        await using var server = await ServeFixture.StartAsync(ServeFixture.Options() with { Threshold = 0.5f });
        using var health = JsonDocument.Parse(await server.Client.GetStringAsync("/health"));
        Assert.AreEqual("ok", health.RootElement.GetProperty("status").GetString());
        Assert.AreEqual(Path.GetFileName(ServeFixture.ModelA), health.RootElement.GetProperty("model").GetString());
        Assert.AreEqual(1, health.RootElement.GetProperty("modelVersion").GetInt32());
        Assert.AreEqual(0.5f, health.RootElement.GetProperty("threshold").GetSingle());
        Assert.IsFalse(health.RootElement.GetProperty("apiKeyRequired").GetBoolean());
        Assert.DoesNotContain(Path.GetDirectoryName(ServeFixture.ModelA)!, health.RootElement.GetRawText(), "no server folders in /health");

        byte[] image = File.ReadAllBytes(ServeFixture.DemoTestImages[1]);
        for (int i = 0; i < 3; i++)
            Assert.AreEqual(HttpStatusCode.OK, (await server.Client.PostAsync("/score", new ByteArrayContent(image))).StatusCode);
        Assert.AreEqual(HttpStatusCode.BadRequest, (await server.Client.PostAsync("/score", new ByteArrayContent([]))).StatusCode);
        Assert.AreEqual(HttpStatusCode.UnsupportedMediaType, (await server.Client.PostAsync("/score", new StringContent("hello"))).StatusCode);

        using var metrics = JsonDocument.Parse(await server.Client.GetStringAsync("/metrics"));
        var m = metrics.RootElement;
        Assert.AreEqual(5, m.GetProperty("requests").GetInt64());
        Assert.AreEqual(3, m.GetProperty("scored").GetInt64());
        Assert.AreEqual(2, m.GetProperty("errors").GetInt64());
        Assert.AreEqual(2, m.GetProperty("clientErrors").GetInt64());
        Assert.AreEqual(0, m.GetProperty("serverErrors").GetInt64());
        Assert.AreEqual(3, m.GetProperty("latencySamples").GetInt32());
        double p50 = m.GetProperty("latencyP50Ms").GetDouble(), p99 = m.GetProperty("latencyP99Ms").GetDouble();
        Assert.IsTrue(p50 > 0 && p99 >= p50, $"p50 {p50}, p99 {p99}");
        Assert.IsTrue(m.GetProperty("imagesPerSecond").GetDouble() >= 0);
        Assert.AreEqual(0, m.GetProperty("scoring").GetInt64());
    }

    [TestMethod]
    public async Task ThePageAndItsFilesAreServedWithAStrictPolicy()
    {
        await using var server = await ServeFixture.StartAsync(ServeFixture.Options());
        var page = await server.Client.GetAsync("/");
        Assert.AreEqual(HttpStatusCode.OK, page.StatusCode);
        Assert.AreEqual("text/html", page.Content.Headers.ContentType!.MediaType);
        StringAssert.Contains(await page.Content.ReadAsStringAsync(), "<script src=\"page.js\"");
        StringAssert.Contains(page.Headers.GetValues("Content-Security-Policy").Single(), "default-src 'none'");
        Assert.AreEqual("nosniff", page.Headers.GetValues("X-Content-Type-Options").Single());
        foreach (var (path, type) in new[] { ("/page.js", "text/javascript"), ("/page.css", "text/css") })
        {
            var file = await server.Client.GetAsync(path);
            Assert.AreEqual(HttpStatusCode.OK, file.StatusCode, path);
            Assert.AreEqual(type, file.Content.Headers.ContentType!.MediaType, path);
            Assert.IsTrue((await file.Content.ReadAsByteArrayAsync()).Length > 100, path);
        }
    }

    internal static MultipartFormDataContent Multipart(byte[] bytes, string fileName) =>
        new() { { new ByteArrayContent(bytes), UploadReader.FieldName, fileName } };
}
