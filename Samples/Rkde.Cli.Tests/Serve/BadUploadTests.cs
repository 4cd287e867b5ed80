using System.Net;
using System.Text.Json;
using SkiaSharp;

namespace Rkde.Cli.Tests.Serve;

/// <summary>Every bad request gets its own status and a JSON error that says what is wrong, and the server goes on scoring.</summary>
[TestClass]
public sealed class BadUploadTests
{
    private static async Task<string> AssertError(HttpResponseMessage response, HttpStatusCode status, string expected)
    {
        string body = await response.Content.ReadAsStringAsync();
        Assert.AreEqual(status, response.StatusCode, body);
        Assert.AreEqual("application/json", response.Content.Headers.ContentType?.MediaType, body);
        using var json = JsonDocument.Parse(body);
        string error = json.RootElement.GetProperty("error").GetString()!;
        StringAssert.Contains(error, expected);
        return error;
    }

    private static ByteArrayContent Body(byte[] bytes) => new(bytes);

    [TestMethod]
    public async Task EachBadUploadGetsItsStatusAndAJsonError()
    {
        await using var server = await ServeFixture.StartAsync(ServeFixture.Options() with { MaxBodyBytes = 1 << 20, MaxPixels = 4_000_000 });
        var client = server.Client;
        byte[] png = ServeFixture.Picture(320, 240, SKEncodedImageFormat.Png);
        byte[] jpeg = ServeFixture.Picture(320, 240, SKEncodedImageFormat.Jpeg);

        await AssertError(await client.PostAsync("/score", Body([])), HttpStatusCode.BadRequest, "empty (0 bytes)");
        await AssertError(await client.PostAsync("/score", new StringContent("name,score\nbolt,0.3\n")), HttpStatusCode.UnsupportedMediaType,
            "not an image (it starts with the text \"name,sco\")");
        await AssertError(await client.PostAsync("/score", Body([0x00, 0x01, 0x02, 0xFE, 0x10, 0x20, 0x30, 0x40, 0x50])), HttpStatusCode.UnsupportedMediaType,
            "bytes 000102fe10203040");
        await AssertError(await client.PostAsync("/score", Body(png[..(png.Length * 2 / 3)])), HttpStatusCode.BadRequest, "truncated");
        await AssertError(await client.PostAsync("/score", Body(jpeg[..(jpeg.Length / 2)])), HttpStatusCode.BadRequest, "truncated");
        await AssertError(await client.PostAsync("/score", Body(png[..20])), HttpStatusCode.BadRequest, "truncated");
        await AssertError(await client.PostAsync("/score", Body(ServeFixture.PngDeclaring(60_000, 60_000))), HttpStatusCode.BadRequest,
            "declares 60,000 × 60,000 = 3,600,000,000 pixels, more than this server's limit of 4,000,000 (--max-pixels)");
        await AssertError(await client.PostAsync("/score", Body(ServeFixture.PngDeclaring(2001, 2000))), HttpStatusCode.BadRequest, "--max-pixels");
        var damaged = (byte[])png.Clone();
        for (int i = png.Length / 2; i < png.Length / 2 + 64; i++) damaged[i] ^= 0x5A;
        await AssertError(await client.PostAsync("/score", Body(damaged)), HttpStatusCode.BadRequest, "corrupt");
        await AssertError(await client.PostAsync("/score", Body(new byte[(1 << 20) + 1])), HttpStatusCode.RequestEntityTooLarge,
            "Content-Length 1,048,577 exceeds this server's limit of 1,048,576 bytes (--max-body-bytes)");
        await AssertError(await client.PostAsync("/score", new UnsizedContent(new byte[3 << 20])), HttpStatusCode.RequestEntityTooLarge, "--max-body-bytes");
        await AssertError(await client.PostAsync("/score", ScoreEndpointTests.Multipart(new byte[(1 << 20) + 10], "big.png")), HttpStatusCode.RequestEntityTooLarge, "--max-body-bytes");
        var noImage = new MultipartFormDataContent { { new ByteArrayContent(png), "picture", "frame.png" } };
        await AssertError(await client.PostAsync("/score", noImage), HttpStatusCode.BadRequest, "no field 'image'");
        using (var ico = new MemoryStream())
        {
            // An ICO (which SkiaSharp reads) holding the PNG: an image, but not a format served.
            ico.Write([0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 1, 0, 32, 0]);
            ico.Write(BitConverter.GetBytes(png.Length));
            ico.Write(BitConverter.GetBytes(22));
            ico.Write(png);
            await AssertError(await client.PostAsync("/score", Body(ico.ToArray())), HttpStatusCode.UnsupportedMediaType, "Ico");
        }

        await AssertError(await client.GetAsync("/score"), HttpStatusCode.MethodNotAllowed, "GET is not allowed on /score; use POST");
        await AssertError(await client.PutAsync("/score", Body(png)), HttpStatusCode.MethodNotAllowed, "PUT is not allowed");
        await AssertError(await client.PostAsync("/health", Body(png)), HttpStatusCode.MethodNotAllowed, "use GET");
        await AssertError(await client.GetAsync("/../etc/passwd"), HttpStatusCode.NotFound, "the endpoints are");

        // Still scoring, and every refusal above was counted as a client error.
        Assert.AreEqual(HttpStatusCode.OK, (await client.PostAsync("/score", Body(png))).StatusCode);
        using var metrics = JsonDocument.Parse(await client.GetStringAsync("/metrics"));
        Assert.AreEqual(14, metrics.RootElement.GetProperty("clientErrors").GetInt64());
        Assert.AreEqual(1, metrics.RootElement.GetProperty("scored").GetInt64());
    }

    [TestMethod]
    public async Task AnApiKeyGuardsEverythingButThePageAndHealth()
    {
        await using var server = await ServeFixture.StartAsync(ServeFixture.Options() with { ApiKey = "s3cret-key" });
        var client = server.Client;
        byte[] png = ServeFixture.Picture(200, 150, SKEncodedImageFormat.Png);

        var missing = await client.PostAsync("/score", Body(png));
        await AssertError(missing, HttpStatusCode.Unauthorized, "needs an API key: send it in the X-Api-Key header");
        Assert.AreEqual("Bearer", missing.Headers.WwwAuthenticate.Single().Scheme);
        var wrong = new HttpRequestMessage(HttpMethod.Post, "/score") { Content = Body(png) };
        wrong.Headers.Add("X-Api-Key", "s3cret-kez");
        await AssertError(await client.SendAsync(wrong), HttpStatusCode.Unauthorized, "The API key in the request is wrong");
        await AssertError(await client.GetAsync("/metrics"), HttpStatusCode.Unauthorized, "API key");
        await AssertError(await client.GetAsync("/elsewhere"), HttpStatusCode.Unauthorized, "API key");

        Assert.AreEqual(HttpStatusCode.OK, (await client.GetAsync("/")).StatusCode);
        Assert.AreEqual(HttpStatusCode.OK, (await client.GetAsync("/page.js")).StatusCode);
        using var health = JsonDocument.Parse(await client.GetStringAsync("/health"));
        Assert.IsTrue(health.RootElement.GetProperty("apiKeyRequired").GetBoolean());

        var withHeader = new HttpRequestMessage(HttpMethod.Post, "/score") { Content = Body(png) };
        withHeader.Headers.Add("X-Api-Key", "s3cret-key");
        Assert.AreEqual(HttpStatusCode.OK, (await client.SendAsync(withHeader)).StatusCode);
        var withBearer = new HttpRequestMessage(HttpMethod.Get, "/metrics");
        withBearer.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", "s3cret-key");
        var metrics = await client.SendAsync(withBearer);
        Assert.AreEqual(HttpStatusCode.OK, metrics.StatusCode);
        using var m = JsonDocument.Parse(await metrics.Content.ReadAsStringAsync());
        Assert.AreEqual(3, m.RootElement.GetProperty("requests").GetInt64(), "two refused and one scored /score request");
    }

    /// <summary>A body sent without Content-Length (chunked), so only reading it shows its size.</summary>
    private sealed class UnsizedContent(byte[] bytes) : HttpContent
    {
        protected override Task SerializeToStreamAsync(Stream stream, System.Net.TransportContext? context) => stream.WriteAsync(bytes).AsTask();

        protected override bool TryComputeLength(out long length)
        {
            length = 0;
            return false;
        }
    }
}
