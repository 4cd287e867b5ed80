using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Rkde.Cli.Serve;
using SkiaSharp;

namespace Rkde.Cli.Tests.Serve;

/// <summary>The bounded queue, the request timeout, and the limits as the real server (Kestrel on a socket) applies them.</summary>
[TestClass]
public sealed class LimitsTests
{
    private static ByteArrayContent Png() => new(ServeFixture.Picture(200, 150, SKEncodedImageFormat.Png));

    [TestMethod]
    public async Task AFullServerAnswers503WithRetryAfterAndRecovers()
    {
        await using var server = await ServeFixture.StartAsync(ServeFixture.Options() with { Workers = 1, Queue = 1 });
        var gate = server.Service<ScoringGate>();
        // Two requests' worth of room (one scoring, one waiting), taken here as if two uploads were in progress.
        using (var first = gate.Admit())
        using (var second = gate.Admit())
        {
            Assert.IsTrue(first.IsAcquired && second.IsAcquired);
            var busy = await server.Client.PostAsync("/score", Png());
            string body = await busy.Content.ReadAsStringAsync();
            Assert.AreEqual(HttpStatusCode.ServiceUnavailable, busy.StatusCode, body);
            StringAssert.Contains(body, "The server is busy: 1 image(s) scoring and 1 waiting (--workers, --queue)");
            var retry = busy.Headers.RetryAfter?.Delta;
            Assert.IsNotNull(retry);
            Assert.IsTrue(retry >= TimeSpan.FromSeconds(1) && retry <= TimeSpan.FromSeconds(60), retry.ToString());
        }
        Assert.AreEqual(HttpStatusCode.OK, (await server.Client.PostAsync("/score", Png())).StatusCode);
        using var metrics = JsonDocument.Parse(await server.Client.GetStringAsync("/metrics"));
        Assert.AreEqual(1, metrics.RootElement.GetProperty("rejected").GetInt64());
        Assert.AreEqual(1, metrics.RootElement.GetProperty("scored").GetInt64());
    }

    [TestMethod]
    public async Task ARequestThatWaitsPastTheTimeoutGets504AndFreesItsPlace()
    {
        await using var server = await ServeFixture.StartAsync(ServeFixture.Options() with { Workers = 1, Queue = 2, Timeout = TimeSpan.FromSeconds(1) });
        var gate = server.Service<ScoringGate>();
        var worker = await gate.WaitForWorkerAsync(CancellationToken.None);
        HttpResponseMessage late;
        try
        {
            // The only worker is taken, so the request waits in the queue until its timeout.
            late = await server.Client.PostAsync("/score", Png());
        }
        finally
        {
            worker.Dispose();
        }
        string body = await late.Content.ReadAsStringAsync();
        Assert.AreEqual(HttpStatusCode.GatewayTimeout, late.StatusCode, body);
        StringAssert.Contains(body, "not scored within the request timeout of 1 s (--timeout)");
        Assert.AreEqual(0, gate.Waiting, "the timed-out request left the queue");
        // Its places are free again (a score itself could take longer than this server's 1 s on a loaded machine).
        using (var again = await gate.WaitForWorkerAsync(new CancellationTokenSource(TimeSpan.FromSeconds(30)).Token))
            Assert.IsTrue(again.IsAcquired);
        Assert.AreEqual(0, gate.Inside, "no admission left held");
        using var metrics = JsonDocument.Parse(await server.Client.GetStringAsync("/metrics"));
        Assert.AreEqual(1, metrics.RootElement.GetProperty("timeouts").GetInt64());
    }

    [TestMethod]
    public async Task KestrelRefusesAnOversizedBodyWithJsonAndScoresOnTheSameAddress()
    {
        await using var server = await ServeFixture.StartKestrelAsync(ServeFixture.Options() with { MaxBodyBytes = 100_000 });
        Assert.IsTrue(IPAddress.IsLoopback(IPAddress.Parse(server.Client.BaseAddress!.Host)));
        // Expect: 100-continue, as curl sends for large bodies: the server answers before the body is sent, so the client
        // never races the refusal (without it the connection may close while the client is still uploading).
        using var oversized = new HttpRequestMessage(HttpMethod.Post, "/score") { Content = new ByteArrayContent(new byte[400_000]) };
        oversized.Headers.ExpectContinue = true;
        var big = await server.Client.SendAsync(oversized);
        string body = await big.Content.ReadAsStringAsync();
        Assert.AreEqual(HttpStatusCode.RequestEntityTooLarge, big.StatusCode, body);
        StringAssert.Contains(body, "--max-body-bytes");
        Assert.AreEqual(HttpStatusCode.OK, (await server.Client.PostAsync("/score", Png())).StatusCode);

        // A chunked body (no Content-Length) over the limit is refused as it is read, over a raw socket.
        using var socket = new TcpClient();
        await socket.ConnectAsync(server.Client.BaseAddress.Host, server.Client.BaseAddress.Port);
        var stream = socket.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes($"POST /score HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"));
        var chunk = new byte[150_000];
        await stream.WriteAsync(Encoding.ASCII.GetBytes($"{chunk.Length:x}\r\n"));
        await stream.WriteAsync(chunk);
        await stream.WriteAsync("\r\n0\r\n\r\n"u8.ToArray());
        var reply = new StreamReader(stream);
        StringAssert.StartsWith(await reply.ReadLineAsync(), "HTTP/1.1 413");
    }

    [TestMethod]
    public void TheDefaultAddressIsLoopbackOnly()
    {
        var defaults = new ServeOptions { ModelPath = "m.zip" };
        Assert.AreEqual("http://127.0.0.1:8080", defaults.Urls);
        Assert.IsFalse(defaults.NonLoopbackUrls.Any());
        Assert.IsFalse((defaults with { Urls = "http://localhost:5000;http://[::1]:5001" }).NonLoopbackUrls.Any());
        CollectionAssert.AreEqual(new[] { "http://0.0.0.0:80", "http://*:81", "http://192.168.1.4:82" },
            (defaults with { Urls = "http://0.0.0.0:80;http://*:81;http://192.168.1.4:82;http://127.0.0.1:83" }).NonLoopbackUrls.ToArray());
    }
}
