using System.Collections.Concurrent;
using System.Net;
using System.Text.Json;
using Rkde.Cli.Serve;

namespace Rkde.Cli.Tests.Serve;

/// <summary>Swapping the model while requests run: nothing dropped, nothing scored on a disposed model, the old one freed.</summary>
[TestClass]
public sealed class ModelSwapTests
{
    /// <summary>A model that fails the test if it is used after disposal or disposed twice.</summary>
    private sealed class FakeModel(int id) : IDisposable
    {
        private int _disposed;
        private int _inUse;

        public int Id { get; } = id;

        public bool IsDisposed => Volatile.Read(ref _disposed) > 0;

        public int Disposals => Volatile.Read(ref _disposed);

        public int Use()
        {
            Interlocked.Increment(ref _inUse);
            try
            {
                if (IsDisposed) throw new InvalidOperationException($"model {Id} used after disposal");
                Thread.SpinWait(200);
                if (IsDisposed) throw new InvalidOperationException($"model {Id} disposed while in use");
                return Id;
            }
            finally
            {
                Interlocked.Decrement(ref _inUse);
            }
        }

        public void Dispose()
        {
            if (Volatile.Read(ref _inUse) > 0) throw new InvalidOperationException($"model {Id} disposed while in use");
            Interlocked.Increment(ref _disposed);
        }
    }

    [TestMethod]
    public void AnOldModelIsDisposedWhenItsLastLeaseEnds()
    {
        var first = new FakeModel(1);
        var second = new FakeModel(2);
        using var holder = new ModelHolder<FakeModel>(first);
        var lease = holder.Acquire();
        Assert.AreEqual(2, holder.Swap(second));
        Assert.AreSame(second, holder.Current);
        Assert.IsFalse(first.IsDisposed, "a request still scores on it");
        Assert.AreEqual(1, lease.Model.Use());
        using (var next = holder.Acquire())
            Assert.AreSame(second, next.Model);
        lease.Dispose();
        lease.Dispose();
        Assert.AreEqual(1, first.Disposals);
        Assert.IsFalse(second.IsDisposed);
        var third = new FakeModel(3);
        holder.Swap(third);
        Assert.AreEqual(1, second.Disposals, "no lease out: disposed at once");
        holder.Dispose();
        Assert.AreEqual(1, third.Disposals);
    }

    [TestMethod]
    public void SwapsUnderContentionNeverExposeADisposedModel()
    {
        var models = new ConcurrentBag<FakeModel>();
        var initial = new FakeModel(0);
        models.Add(initial);
        var holder = new ModelHolder<FakeModel>(initial);
        var errors = new ConcurrentQueue<Exception>();
        long uses = 0;
        using var stop = new CancellationTokenSource();
        var users = Enumerable.Range(0, 6).Select(_ => Task.Run(() =>
        {
            int lastSeen = -1;
            while (!stop.IsCancellationRequested)
            {
                try
                {
                    using var lease = holder.Acquire();
                    int id = lease.Model.Use();
                    // One thread's leases never go back to an older model.
                    if (id < lastSeen) throw new InvalidOperationException($"saw model {id} after {lastSeen}");
                    lastSeen = id;
                    Interlocked.Increment(ref uses);
                }
                catch (Exception e)
                {
                    errors.Enqueue(e);
                }
            }
        })).ToArray();
        var deadline = System.Diagnostics.Stopwatch.StartNew();
        for (int i = 1; i <= 300; i++)
        {
            // Swap only once the users have scored a few times on the current model, however loaded the machine is.
            long seen = Interlocked.Read(ref uses);
            while (Interlocked.Read(ref uses) < seen + 3 && deadline.Elapsed < TimeSpan.FromMinutes(2))
                Thread.Yield();
            var next = new FakeModel(i);
            models.Add(next);
            holder.Swap(next);
        }
        stop.Cancel();
        Task.WaitAll(users);
        Assert.IsTrue(errors.IsEmpty, string.Join("\n", errors.Take(5)));
        Assert.IsTrue(uses >= 900, $"{uses} uses");
        Assert.AreEqual(0, holder.LeasesOut);
        Assert.AreEqual(301, holder.Version);
        foreach (var model in models)
            Assert.AreEqual(model.Id == 300 ? 0 : 1, model.Disposals, $"model {model.Id}");
        holder.Dispose();
        Assert.AreEqual(1, models.Single(m => m.Id == 300).Disposals);
    }

    [TestMethod]
    public async Task ReplacingTheModelFileUnderLoadDropsNoRequest()
    {
        string folder = TestData.TempFolder();
        string modelPath = Path.Combine(folder, "live.zip");
        File.Copy(ServeFixture.ModelA, modelPath);
        byte[][] images = ServeFixture.DemoTestImages.Take(4).Select(File.ReadAllBytes).ToArray();

        // Each model's own answers, from servers that never swap.
        var expected = new Dictionary<(int Version, int Image), string>();
        foreach (var (version, model) in new[] { (1, ServeFixture.ModelA), (2, ServeFixture.ModelB) })
        {
            await using var reference = await ServeFixture.StartAsync(ServeFixture.Options(model) with { ReloadOnChange = false });
            for (int i = 0; i < images.Length; i++)
                expected[(version, i)] = await (await reference.Client.PostAsync("/score", new ByteArrayContent(images[i]))).Content.ReadAsStringAsync();
        }
        Assert.AreNotEqual(expected[(1, 0)], expected[(2, 0)], "the two models must score differently for the test to see the swap");

        await using var server = await ServeFixture.StartAsync(ServeFixture.Options(modelPath) with { Workers = 2, Queue = 8 });
        var holder = server.Service<ModelHolder<ServedModel>>();
        var original = holder.Current;
        var answers = new ConcurrentQueue<(int Client, int Sequence, int Image, HttpStatusCode Status, int Version, string Body)>();
        using var stop = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        int swappedAt = -1;
        async Task Client(int client)
        {
            for (int n = 0; !stop.IsCancellationRequested; n++)
            {
                int image = (client + n) % images.Length;
                var response = await server.Client.PostAsync("/score", new ByteArrayContent(images[image]));
                int version = response.Headers.TryGetValues(ScoreEndpoint.ModelVersionHeader, out var v) ? int.Parse(v.Single()) : 0;
                answers.Enqueue((client, n, image, response.StatusCode, version, await response.Content.ReadAsStringAsync()));
                // Go on until every client has had several answers from the new model.
                if (Volatile.Read(ref swappedAt) >= 0 && answers.Count(a => a.Client == client && a.Version == 2) >= 5)
                    return;
            }
        }
        var clients = Enumerable.Range(0, 4).Select(c => Task.Run(() => Client(c))).ToArray();
        while (answers.Count < 12 && !stop.IsCancellationRequested)
            await Task.Delay(20);
        // Written beside it and renamed over it: the way to replace a served model.
        string staged = Path.Combine(folder, "live.zip.new");
        File.Copy(ServeFixture.ModelB, staged);
        File.Move(staged, modelPath, overwrite: true);
        Volatile.Write(ref swappedAt, answers.Count);
        await Task.WhenAll(clients);
        Assert.IsFalse(stop.IsCancellationRequested, "the swap did not happen within 5 minutes");

        var all = answers.ToList();
        Assert.IsTrue(all.All(a => a.Status == HttpStatusCode.OK), string.Join("\n", all.Where(a => a.Status != HttpStatusCode.OK).Take(3)));
        foreach (var a in all)
            Assert.AreEqual(expected[(a.Version, a.Image)], a.Body, $"client {a.Client} request {a.Sequence} on model {a.Version}");
        foreach (var perClient in all.GroupBy(a => a.Client))
        {
            var versions = perClient.OrderBy(a => a.Sequence).Select(a => a.Version).ToList();
            Assert.IsTrue(versions.Zip(versions.Skip(1)).All(p => p.First <= p.Second), $"client {perClient.Key}: {string.Join(",", versions)}");
        }
        Assert.IsTrue(all.Count(a => a.Version == 1) >= 12);
        Assert.AreEqual(2, holder.Version);
        Assert.IsTrue(original.IsDisposed, "the old model is freed once no request holds it");
        Assert.IsFalse(holder.Current.IsDisposed);
        StringAssert.Contains(server.Log, "model version 2 loaded from");
        using var metrics = JsonDocument.Parse(await server.Client.GetStringAsync("/metrics"));
        Assert.AreEqual(1, metrics.RootElement.GetProperty("modelSwaps").GetInt32());
        Assert.AreEqual(0, metrics.RootElement.GetProperty("errors").GetInt64());
    }

    [TestMethod]
    public async Task ABrokenReplacementKeepsTheOldModelServingAndSaysWhy()
    {
        string folder = TestData.TempFolder();
        string modelPath = Path.Combine(folder, "live.zip");
        File.Copy(ServeFixture.ModelA, modelPath);
        await using var server = await ServeFixture.StartAsync(ServeFixture.Options(modelPath));
        File.WriteAllText(modelPath + ".new", "not a model");
        File.Move(modelPath + ".new", modelPath, overwrite: true);

        string? error = null;
        for (var waited = System.Diagnostics.Stopwatch.StartNew(); error is null && waited.Elapsed < TimeSpan.FromMinutes(2);)
        {
            await Task.Delay(200);
            using var health = JsonDocument.Parse(await server.Client.GetStringAsync("/health"));
            error = health.RootElement.GetProperty("reloadError").GetString();
            Assert.AreEqual(1, health.RootElement.GetProperty("modelVersion").GetInt32());
        }
        Assert.IsNotNull(error, "no reload error within 2 minutes");
        StringAssert.Contains(error, "the previous model goes on serving");
        StringAssert.Contains(error, "not a complete model .zip");
        var scored = await server.Client.PostAsync("/score", new ByteArrayContent(File.ReadAllBytes(ServeFixture.DemoTestImages[0])));
        Assert.AreEqual(HttpStatusCode.OK, scored.StatusCode);
        Assert.AreEqual("1", scored.Headers.GetValues(ScoreEndpoint.ModelVersionHeader).Single());
    }
}
