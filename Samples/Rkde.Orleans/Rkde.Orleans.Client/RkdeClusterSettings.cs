namespace Rkde.Orleans;

/// <summary>Where the cluster is: its PostgreSQL database (membership and grain storage) and the ids that name the cluster in it.</summary>
public sealed record RkdeClusterSettings
{
    /// <summary>Npgsql connection string of the database holding Orleans' tables (scripts/postgres.sh prints one).</summary>
    public required string PostgresConnectionString { get; init; }

    /// <summary>Orleans' cluster id: silos and clients with the same id form one cluster. Default "rkde".</summary>
    public string ClusterId { get; init; } = "rkde";

    /// <summary>Orleans' service id, which grain storage is keyed by: keep it when redeploying so stored models are found. Default "rkde".</summary>
    public string ServiceId { get; init; } = "rkde";

    /// <summary>How long a client call is retried across silo failures (a silo dying, a grain moving) before it gives up. Default 60 s.</summary>
    public TimeSpan RetryFor { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>How often the client rereads the live gateways from the database. Default 10 s.</summary>
    public TimeSpan GatewayListRefreshPeriod { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// How long connecting may take: Orleans' client waits for a gateway as long as none is listed, so a wrong cluster id or
    /// a cluster with no silo up would otherwise hang the caller. Default 30 s.
    /// </summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Throws when a setting cannot work, naming it.</summary>
    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(PostgresConnectionString))
            throw new ArgumentException("PostgresConnectionString is empty: give the Npgsql connection string of the cluster's database (scripts/postgres.sh url prints it).", nameof(PostgresConnectionString));
        if (string.IsNullOrWhiteSpace(ClusterId))
            throw new ArgumentException("ClusterId is empty.", nameof(ClusterId));
        if (string.IsNullOrWhiteSpace(ServiceId))
            throw new ArgumentException("ServiceId is empty.", nameof(ServiceId));
        if (RetryFor < TimeSpan.Zero)
            throw new ArgumentOutOfRangeException(nameof(RetryFor), RetryFor, "RetryFor must not be negative.");
        if (ConnectTimeout <= TimeSpan.Zero)
            throw new ArgumentOutOfRangeException(nameof(ConnectTimeout), ConnectTimeout, "ConnectTimeout must be positive.");
        if (GatewayListRefreshPeriod <= TimeSpan.Zero)
            throw new ArgumentOutOfRangeException(nameof(GatewayListRefreshPeriod), GatewayListRefreshPeriod, "GatewayListRefreshPeriod must be positive.");
    }

    /// <summary>The ADO.NET invariant Orleans' providers open PostgreSQL with.</summary>
    public const string Invariant = "Npgsql";
}
