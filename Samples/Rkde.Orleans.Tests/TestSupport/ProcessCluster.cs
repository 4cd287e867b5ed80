using Rkde.Orleans;
using Rkde.Orleans.Bench;

namespace Rkde.Orleans.Tests.TestSupport;

/// <summary>Silo processes of one fresh cluster (its own cluster and service id, so no state of an earlier run is found) and a client.</summary>
internal sealed class ProcessCluster : IAsyncDisposable
{
    private ProcessCluster(string id, List<SiloProcess> silos, RkdeCluster client)
    {
        Id = id;
        Silos = silos;
        Client = client;
    }

    public string Id { get; }

    public List<SiloProcess> Silos { get; }

    public RkdeCluster Client { get; private set; }

    public static async Task<ProcessCluster> StartAsync(int silos, TimeSpan retryFor)
    {
        string id = "test-" + Guid.NewGuid().ToString("N")[..12];
        var started = new List<SiloProcess>();
        try
        {
            // One after the other: the first silo creates the cluster's membership version row.
            for (int i = 0; i < silos; i++)
                started.Add(await SiloProcess.StartAsync(Postgres.ConnectionString, id, id));
            var client = await RkdeCluster.ConnectAsync(Settings(id, retryFor));
            return new ProcessCluster(id, started, client);
        }
        catch
        {
            foreach (var s in started)
                s.Dispose();
            throw;
        }
    }

    public static RkdeClusterSettings Settings(string id, TimeSpan retryFor) => new()
    {
        PostgresConnectionString = Postgres.ConnectionString,
        ClusterId = id,
        ServiceId = id,
        RetryFor = retryFor,
        GatewayListRefreshPeriod = TimeSpan.FromSeconds(2),
    };

    /// <summary>Starts one more silo in this cluster.</summary>
    public async Task<SiloProcess> AddSiloAsync()
    {
        var silo = await SiloProcess.StartAsync(Postgres.ConnectionString, Id, Id);
        Silos.Add(silo);
        return silo;
    }

    /// <summary>The silos' output, for a failure message.</summary>
    public string Output => string.Join("\n---\n", Silos.Select(s => $"silo {s.SiloPort}:\n{s.Output}"));

    public async ValueTask DisposeAsync()
    {
        await Client.DisposeAsync();
        foreach (var s in Silos)
            s.Dispose();
    }
}
