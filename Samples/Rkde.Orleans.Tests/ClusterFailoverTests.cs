using System.Collections.Concurrent;
using Rkde.Orleans.Bench;

namespace Rkde.Orleans.Tests;

/// <summary>Real silo processes on loopback, clustered and persisted in the project's PostgreSQL.</summary>
[TestClass]
public sealed class ClusterFailoverTests
{
    [TestMethod]
    [Timeout(900_000, CooperativeCancellation = true)]
    public async Task AKilledSiloLosesNoModelAndEveryCameraKeepsItsScores()
    {
        const int cameras = 20;
        await using var cluster = await ProcessCluster.StartAsync(3, retryFor: TimeSpan.FromMinutes(2));
        var client = cluster.Client;
        await Cameras.FitAsync(client, cameras);
        var probe = Repo.DemoTest()[^1];
        var expected = new CameraScore[cameras];
        for (int i = 0; i < cameras; i++)
            expected[i] = await client.ScoreAsync(Cameras.Id(i), probe);
        Assert.IsTrue(expected.Select(e => e.Score).Distinct().Count() > 1, "the cameras' models differ");

        // One camera's scores spread over every silo: the scoring workers run where the calls land.
        var spread = await Cameras.ScoreOnEverySilo(client, Cameras.Id(0), probe, 3);
        Assert.AreEqual(3, spread.Select(s => s.Silo).Distinct().Count(), $"one camera is scored on all three silos: {string.Join(", ", spread.Select(s => s.Silo).Distinct())}");
        Assert.IsTrue(spread.All(s => Cameras.Same(expected[0], s)), "the same score on every silo");

        // Traffic over all cameras; the second silo dies in the middle of it.
        var victim = cluster.Silos[1];
        var afterKill = new ConcurrentDictionary<int, int>();
        var mismatches = new ConcurrentBag<string>();
        long requests = 0;
        bool killed = false;
        using var stop = new CancellationTokenSource();
        var traffic = Enumerable.Range(0, 4).Select(w => Task.Run(async () =>
        {
            for (int n = w; !stop.IsCancellationRequested; n += 4)
            {
                int i = n % cameras;
                bool wasKilled = Volatile.Read(ref killed);
                var s = await client.ScoreAsync(Cameras.Id(i), probe);
                if (!Cameras.Same(expected[i], s))
                    mismatches.Add($"{Cameras.Id(i)}: {s.Score} on {s.Silo}, expected {expected[i].Score}");
                if (wasKilled)
                    afterKill.AddOrUpdate(i, 1, (_, c) => c + 1);
                Interlocked.Increment(ref requests);
            }
        })).ToArray();
        while (Interlocked.Read(ref requests) < 30)
            await Task.Delay(50);
        long retriesBefore = client.Retries;
        victim.Kill();
        Volatile.Write(ref killed, true);
        var deadline = DateTime.UtcNow.AddMinutes(5);
        while ((afterKill.Count < cameras || afterKill.Values.Min() < 2) && DateTime.UtcNow < deadline && traffic.All(t => !t.IsCompleted))
            await Task.Delay(200);
        stop.Cancel();
        await Task.WhenAll(traffic);

        Assert.AreEqual(0, mismatches.Count, string.Join("\n", mismatches.Take(10)));
        Assert.AreEqual(cameras, afterKill.Count, $"every camera scored after the kill:\n{cluster.Output}");
        Assert.IsTrue(client.Retries > retriesBefore, "requests that met the dead silo were retried");
        for (int i = 0; i < cameras; i++)
        {
            var info = await client.GetInfoAsync(Cameras.Id(i));
            Assert.IsNotNull(info, $"{Cameras.Id(i)}'s model is still stored");
            Assert.AreEqual(1, info.Version, $"{Cameras.Id(i)} still has its one model");
        }

        // The silo comes back (a new process, the same ports) and takes scoring work again: a client connecting now
        // spreads its calls over all three gateways (the first client keeps the routes it moved off the dead silo).
        var back = await SiloProcess.StartAsync(Postgres.ConnectionString, cluster.Id, cluster.Id, victim.SiloPort, victim.GatewayPort);
        cluster.Silos.Add(back);
        await using var later = await RkdeCluster.ConnectAsync(ProcessCluster.Settings(cluster.Id, TimeSpan.FromMinutes(1)));
        var rejoined = await Cameras.ScoreOnEverySilo(later, Cameras.Id(3), probe, 3);
        Assert.IsTrue(rejoined.All(s => Cameras.Same(expected[3], s)), "the same scores after the rejoin");
        bool served = rejoined.Any(s => s.Silo.Contains($":{back.SiloPort}:", StringComparison.Ordinal));
        Assert.IsTrue(served, $"the restarted silo scores again:\n{back.Output}");
    }

    [TestMethod]
    [Timeout(600_000, CooperativeCancellation = true)]
    public async Task ANewModelFittedOrUpdatedThroughOneSiloIsWhatEverySiloScoresWithAfterwards()
    {
        await using var cluster = await ProcessCluster.StartAsync(2, retryFor: TimeSpan.FromMinutes(1));
        var client = cluster.Client;
        var probe = Repo.DemoTest()[^1];
        await client.FitAsync("cam-refit", Cameras.Images(0), Cameras.Small);
        // Both silos load version 1 (calls alternate between the two gateways).
        var first = await Cameras.ScoreOnEverySilo(client, "cam-refit", probe, 2);
        Assert.AreEqual(2, first.Select(s => s.Silo).Distinct().Count(), "both silos scored version 1");
        Assert.IsTrue(first.All(s => s.ModelVersion == 1 && Cameras.Same(first[0], s)));

        var info = await client.FitAsync("cam-refit", Cameras.Images(7), Cameras.Small);
        Assert.AreEqual(2, info.Version);
        var second = await Cameras.ScoreOnEverySilo(client, "cam-refit", probe, 2);
        Assert.AreEqual(2, second.Select(s => s.Silo).Distinct().Count(), "both silos scored after the refit");
        Assert.IsTrue(second.All(s => s.ModelVersion == 2), "no silo scores with the old model once the new one is stored");
        Assert.IsTrue(second.All(s => Cameras.Same(second[0], s)), "every silo scores the new model alike");
        Assert.IsFalse(Cameras.Same(first[0], second[0]), "the new model scores differently (it was fitted on other scenes)");

        // An update runs on the silo of the camera's grain; the other silo's scoring workers take its model from then on.
        var updated = await client.UpdateAsync("cam-refit", Cameras.Images(3));
        Assert.AreEqual(3, updated.Version, "an update stores the next version");
        Assert.AreEqual(5, updated.ImagesAdded);
        Assert.AreEqual(5, updated.ImagesFitted, "the fit's count stays");
        Assert.IsNotNull(updated.Threshold, "the updated model has a threshold");
        Assert.IsTrue(updated.NewBytesStored < updated.ModelBytes / 4, $"an update stores its own chunks only: {updated.NewBytesStored} of {updated.ModelBytes} bytes");
        var third = await Cameras.ScoreOnEverySilo(client, "cam-refit", probe, 2);
        Assert.AreEqual(2, third.Select(s => s.Silo).Distinct().Count(), "both silos scored after the update");
        Assert.IsTrue(third.All(s => s.ModelVersion == 3 && Cameras.Same(third[0], s)), "every silo scores the updated model alike");
        Assert.IsFalse(Cameras.Same(second[0], third[0]), "the updated model scores differently (its sample holds the new scenes' regions)");
        Assert.AreEqual(updated.Threshold, third[0].Threshold);
    }
}
