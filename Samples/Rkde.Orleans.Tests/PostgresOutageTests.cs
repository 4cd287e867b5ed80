namespace Rkde.Orleans.Tests;

/// <summary>The cluster's database stopped and started again under a running cluster.</summary>
[TestClass]
public sealed class PostgresOutageTests
{
    [TestMethod]
    [Timeout(600_000, CooperativeCancellation = true)]
    public async Task WhilePostgresIsDownStoringFailsClearlyLoadedCamerasScoreAndAllRecoversAfter()
    {
        await using var cluster = await ProcessCluster.StartAsync(1, retryFor: TimeSpan.FromSeconds(5));
        var client = cluster.Client;
        var probe = Repo.DemoTest()[^1];
        await client.FitAsync("cam-a", Cameras.Images(0), Cameras.Small);
        var before = await client.ScoreAsync("cam-a", probe);

        Postgres.Stop();
        try
        {
            var error = await Assert.ThrowsExactlyAsync<ModelStoreUnavailableException>(() => client.FitAsync("cam-b", Cameras.Images(1), Cameras.Small));
            StringAssert.Contains(error.Message, "PostgreSQL");
            StringAssert.Contains(error.Message, "kept");
            var during = await client.ScoreAsync("cam-a", probe);
            Assert.IsTrue(Cameras.Same(before, during), "a camera whose model is loaded scores on while the database is down");
        }
        finally
        {
            Postgres.Start();
        }

        var patient = new RkdeCluster(client.Client, TimeSpan.FromMinutes(1));
        var info = await patient.FitAsync("cam-b", Cameras.Images(1), Cameras.Small);
        Assert.AreEqual(1, info.Version, "the fit refused during the outage succeeds after it");
        var b = await patient.ScoreAsync("cam-b", probe);
        Assert.AreEqual(1, b.ModelVersion);
        Assert.IsTrue(Cameras.Same(before, await patient.ScoreAsync("cam-a", probe)));
    }
}
