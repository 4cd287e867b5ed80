using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Configuration;
using Orleans.Serialization;
using Orleans.Storage;
using Rkde.Orleans;

namespace Rkde.Orleans.Grains;

/// <summary>A silo's place in the cluster: the cluster's database, its own endpoints, and what it keeps loaded.</summary>
public sealed record RkdeSiloSettings
{
    /// <summary>The cluster: PostgreSQL (membership and camera state), cluster and service ids.</summary>
    public required RkdeClusterSettings Cluster { get; init; }

    /// <summary>Npgsql connection string of the database for the model entries' bytes; null: the cluster's database.</summary>
    public string? BlobsConnectionString { get; init; }

    /// <summary>The address this silo listens on and that others reach it at. Default 127.0.0.1.</summary>
    public IPAddress Address { get; init; } = IPAddress.Loopback;

    /// <summary>Port for silo-to-silo traffic. Default 11111.</summary>
    public int SiloPort { get; init; } = 11111;

    /// <summary>Port clients connect to. Default 30000.</summary>
    public int GatewayPort { get; init; } = 30000;

    public LoadedModelsOptions Models { get; init; } = new();
}

/// <summary>Setting up a silo that hosts the R-KDE grains.</summary>
public static class RkdeSiloBuilderExtensions
{
    /// <summary>
    /// Joins the cluster on PostgreSQL through Orleans' ADO.NET providers: membership in its clustering tables, camera
    /// state (<see cref="RkdeStorage.Cameras"/>) and model entries (<see cref="RkdeStorage.Blobs"/>) in its storage table,
    /// both written with Orleans' binary serializer; and adds the grains' services.
    /// </summary>
    public static ISiloBuilder UseRkdeCluster(this ISiloBuilder silo, RkdeSiloSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        settings.Cluster.Validate();
        var cluster = settings.Cluster;
        silo.Configure<ClusterOptions>(o =>
            {
                o.ClusterId = cluster.ClusterId;
                o.ServiceId = cluster.ServiceId;
            })
            .ConfigureEndpoints(settings.Address, settings.SiloPort, settings.GatewayPort, listenOnAnyHostAddress: false)
            .UseAdoNetClustering(o =>
            {
                o.Invariant = RkdeClusterSettings.Invariant;
                o.ConnectionString = cluster.PostgresConnectionString;
            })
            .AddAdoNetGrainStorage(RkdeStorage.Cameras, o =>
            {
                o.Invariant = RkdeClusterSettings.Invariant;
                o.ConnectionString = cluster.PostgresConnectionString;
            })
            .AddAdoNetGrainStorage(RkdeStorage.Blobs, o =>
            {
                o.Invariant = RkdeClusterSettings.Invariant;
                o.ConnectionString = settings.BlobsConnectionString ?? cluster.PostgresConnectionString;
            });
        foreach (string name in new[] { RkdeStorage.Cameras, RkdeStorage.Blobs })
            silo.Services.AddKeyedSingleton<IGrainStorageSerializer>(name, (sp, _) => new OrleansGrainStorageSerializer(sp.GetRequiredService<Serializer>()));
        return silo.AddRkdeGrainServices(settings.Models);
    }

    /// <summary>
    /// The services the grains need, without clustering or storage: for a silo whose providers are configured elsewhere
    /// (tests use Orleans' in-memory ones), which must name its storage providers <see cref="RkdeStorage.Cameras"/> and
    /// <see cref="RkdeStorage.Blobs"/>.
    /// </summary>
    public static ISiloBuilder AddRkdeGrainServices(this ISiloBuilder silo, LoadedModelsOptions? models = null)
    {
        models ??= new LoadedModelsOptions();
        if (models.MaxLoadedModels < 1)
            throw new ArgumentOutOfRangeException(nameof(models), models.MaxLoadedModels, "MaxLoadedModels must be at least 1.");
        if (models.EnginesPerModel < 1)
            throw new ArgumentOutOfRangeException(nameof(models), models.EnginesPerModel, "EnginesPerModel must be at least 1.");
        silo.Services.AddSingleton(models);
        silo.Services.AddSingleton<LoadedModels>();
        // A model entry travels in one message; a proposer of your own (an exported Faster R-CNN is 167 MB) exceeds Orleans' default 100 MB.
        silo.Configure<SiloMessagingOptions>(o => o.MaxMessageBodySize = Math.Max(o.MaxMessageBodySize, 512 << 20));
        return silo;
    }
}
