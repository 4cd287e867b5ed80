using System.Net;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans.Configuration;
using Rkde.Orleans;
using Rkde.Orleans.Grains;
using Rkde.Orleans.Silo;

// The R-KDE silo: dotnet run --project Samples/Rkde.Orleans/Rkde.Orleans.Silo -c Release -- --postgres "Host=…"
// Options: --postgres (required), --cluster-id, --service-id, --blobs-postgres, --address, --silo-port, --gateway-port,
// --max-loaded-models, and Orleans' membership timing as --Membership:ProbeTimeout=00:00:02 and so on
// (ClusterMembershipOptions' properties).
var switches = new Dictionary<string, string>
{
    ["--postgres"] = "Postgres",
    ["--cluster-id"] = "ClusterId",
    ["--service-id"] = "ServiceId",
    ["--blobs-postgres"] = "BlobsPostgres",
    ["--address"] = "Address",
    ["--silo-port"] = "SiloPort",
    ["--gateway-port"] = "GatewayPort",
    ["--max-loaded-models"] = "MaxLoadedModels",
};
var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { Args = [], DisableDefaults = true });
builder.Configuration.AddEnvironmentVariables("RKDE_SILO_").AddCommandLine(args, switches);
builder.Logging.AddSimpleConsole(o => o.SingleLine = true).AddFilter("Orleans", LogLevel.Warning).AddFilter("Microsoft", LogLevel.Warning);
var config = builder.Configuration;

string? postgres = config["Postgres"];
if (string.IsNullOrWhiteSpace(postgres))
{
    Console.Error.WriteLine("rkde-silo: --postgres is required: the Npgsql connection string of the cluster's database (scripts/postgres.sh start prints one).");
    return 2;
}
RkdeSiloSettings settings;
try
{
    settings = new RkdeSiloSettings
    {
        Cluster = new RkdeClusterSettings
        {
            PostgresConnectionString = postgres,
            ClusterId = config["ClusterId"] ?? "rkde",
            ServiceId = config["ServiceId"] ?? "rkde",
        },
        BlobsConnectionString = config["BlobsPostgres"],
        Address = IPAddress.Parse(config["Address"] ?? "127.0.0.1"),
        SiloPort = config.GetValue("SiloPort", 11111),
        GatewayPort = config.GetValue("GatewayPort", 30000),
        Models = new LoadedModelsOptions { MaxLoadedModels = config.GetValue("MaxLoadedModels", 16) },
    };
}
catch (Exception e) when (e is FormatException or InvalidOperationException)
{
    Console.Error.WriteLine($"rkde-silo: {e.Message}");
    return 2;
}
string temp = PrivateTemp.Claim();
builder.UseOrleans(silo =>
{
    silo.UseRkdeCluster(settings);
    silo.Services.Configure<ClusterMembershipOptions>(config.GetSection("Membership"));
});
using var host = builder.Build();
try
{
    await host.StartAsync();
}
catch (Exception e)
{
    Console.Error.WriteLine($"rkde-silo: the silo could not start: {e.Message}");
    return 1;
}
Console.WriteLine($"rkde-silo: up at {settings.Address}:{settings.SiloPort} (gateway {settings.GatewayPort}), cluster '{settings.Cluster.ClusterId}'");
await host.WaitForShutdownAsync();
Console.WriteLine("rkde-silo: stopped");
PrivateTemp.TryDelete(temp);
return 0;
