using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;

namespace Rkde.Orleans.Tests;

/// <summary>
/// <c>rkde serve --cluster</c> as a real process: <c>POST /cameras/{id}/score</c> answered by the camera's model on the
/// cluster, <c>POST /cameras/{id}/normal</c> updating it there.
/// </summary>
[TestClass]
public sealed class ServeClusterRouteTests
{
    [TestMethod]
    [Timeout(600_000, CooperativeCancellation = true)]
    public async Task ServeAnswersACamerasRouteWithTheClustersScoreAndNamesTheCameraOrTheImageWhenItCannot()
    {
        await using var cluster = await ProcessCluster.StartAsync(1, retryFor: TimeSpan.FromMinutes(1));
        var probe = Repo.DemoTest()[^1];

        // rkde serve needs a local model for POST /score too: a small one, fitted by the CLI while the cluster fits cam-x.
        string folder = Directory.CreateTempSubdirectory("rkde-serve-cluster-").FullName;
        try
        {
            var train = Directory.CreateDirectory(Path.Combine(folder, "train"));
            var images = Cameras.Images(3);
            for (int i = 0; i < images.Length; i++)
                File.WriteAllBytes(Path.Combine(train.FullName, $"{i}.jpg"), images[i]);
            string local = Path.Combine(folder, "local.zip");
            var localFit = RkdeCliProcess.RunAsync(TimeSpan.FromMinutes(5),
                "fit", "--train", train.FullName, "--model", local, "--width", "96", "--height", "64", "--pca-components", "4");
            await cluster.Client.FitAsync("cam-x", Cameras.Images(0), Cameras.Small);
            var expected = await cluster.Client.ScoreAsync("cam-x", probe);
            var (code, fitOutput) = await localFit;
            Assert.AreEqual(0, code, fitOutput);

            using var serve = await RkdeCliProcess.ServeAsync("--model", local, "--cluster", Postgres.ConnectionString,
                "--cluster-id", cluster.Id, "--service-id", cluster.Id, "--allow-normal");
            using var http = new HttpClient { BaseAddress = serve.Address, Timeout = TimeSpan.FromMinutes(2) };

            using var scored = await Post(http, "/cameras/cam-x/score", probe);
            string body = await scored.Content.ReadAsStringAsync();
            Assert.AreEqual(HttpStatusCode.OK, scored.StatusCode, body + "\n" + serve.Output);
            Assert.AreEqual("1", scored.Headers.GetValues("X-Rkde-Model-Version").Single(), "the camera's model version");
            using (var json = JsonDocument.Parse(body))
            {
                var root = json.RootElement;
                Assert.AreEqual(expected.Score, root.GetProperty("score").GetSingle(), "the cluster's score, as RkdeCluster.ScoreAsync answers it");
                float[] boxes = root.GetProperty("boxes").EnumerateArray().SelectMany(b => b.EnumerateArray().Select(v => v.GetSingle())).ToArray();
                Assert.IsTrue(expected.Boxes.Length > 0, "the probe has boxes");
                CollectionAssert.AreEqual(expected.Boxes, boxes, "every box and its score");
                Assert.IsNotNull(expected.Threshold, "the camera's model stored a threshold");
                Assert.AreEqual(expected.Threshold.Value, root.GetProperty("threshold").GetSingle(), "the camera model's threshold");
                Assert.AreEqual(expected.IsAnomaly, root.GetProperty("isAnomaly").GetBoolean(), "the camera model's verdict");
            }

            using var unknown = await Post(http, "/cameras/cam-none/score", probe);
            await AssertJsonError(unknown, HttpStatusCode.NotFound, "cam-none");
            using var text = await Post(http, "/cameras/cam-x/score", "not an image"u8.ToArray());
            await AssertJsonError(text, HttpStatusCode.UnsupportedMediaType, "not an image");
            using var truncated = await Post(http, "/cameras/cam-x/score", probe[..400]);
            await AssertJsonError(truncated, HttpStatusCode.BadRequest, "cam-x");

            // Normal images posted for a camera update its model on the cluster: the next version, what it scores with after.
            using var normal = await Post(http, "/cameras/cam-x/normal", Cameras.Images(5)[0]);
            string learned = await normal.Content.ReadAsStringAsync();
            Assert.AreEqual(HttpStatusCode.OK, normal.StatusCode, learned + "\n" + serve.Output);
            using (var json = JsonDocument.Parse(learned))
            {
                Assert.AreEqual(2, json.RootElement.GetProperty("modelVersion").GetInt32());
                Assert.AreEqual(1, json.RootElement.GetProperty("imagesAdded").GetInt32());
            }
            var afterUpdate = await cluster.Client.ScoreAsync("cam-x", probe);
            Assert.AreEqual(2, afterUpdate.ModelVersion);
            using var rescored = await Post(http, "/cameras/cam-x/score", probe);
            Assert.AreEqual("2", rescored.Headers.GetValues("X-Rkde-Model-Version").Single());
            using (var json = JsonDocument.Parse(await rescored.Content.ReadAsStringAsync()))
                Assert.AreEqual(afterUpdate.Score, json.RootElement.GetProperty("score").GetSingle(), "the updated model's score");
            using var noModel = await Post(http, "/cameras/cam-none/normal", probe);
            await AssertJsonError(noModel, HttpStatusCode.NotFound, "cam-none");
            using var notImage = await Post(http, "/cameras/cam-x/normal", "not an image"u8.ToArray());
            await AssertJsonError(notImage, HttpStatusCode.UnsupportedMediaType, "Nothing was learned");
            Assert.AreEqual(2, (await cluster.Client.GetInfoAsync("cam-x"))!.Version, "a refused upload changes nothing");

            // A cluster id no silo has: one line naming it when the connect timeout has passed, not a server that waits on.
            var (wrongCode, wrongOutput) = await RkdeCliProcess.RunAsync(TimeSpan.FromMinutes(2),
                "serve", "--model", local, "--urls", "http://127.0.0.1:0", "--cluster", Postgres.ConnectionString, "--cluster-id", "no-such-cluster");
            Assert.AreEqual(1, wrongCode, wrongOutput);
            StringAssert.Contains(wrongOutput, "--cluster: cannot connect to cluster 'no-such-cluster': No silo");
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    private static Task<HttpResponseMessage> Post(HttpClient http, string path, byte[] bytes)
    {
        var content = new ByteArrayContent(bytes);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        return http.PostAsync(path, content);
    }

    /// <summary>An error answer: the status, a JSON body <c>{"error": …}</c> whose message contains <paramref name="named"/>.</summary>
    private static async Task AssertJsonError(HttpResponseMessage response, HttpStatusCode status, string named)
    {
        string body = await response.Content.ReadAsStringAsync();
        Assert.AreEqual(status, response.StatusCode, body);
        Assert.AreEqual("application/json", response.Content.Headers.ContentType?.MediaType, body);
        using var json = JsonDocument.Parse(body);
        string error = json.RootElement.GetProperty("error").GetString()!;
        Assert.IsFalse(string.IsNullOrWhiteSpace(error), body);
        StringAssert.Contains(error, named);
    }
}
