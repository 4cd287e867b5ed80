using System.Globalization;
using System.Net.Sockets;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;
using Orleans.Configuration;
using Polly;
using Polly.Retry;

namespace Rkde.Orleans;

/// <summary>
/// A client of the R-KDE cluster: fit a camera's model, score its images. Calls are retried across silo failures (a silo
/// that dies, a grain that moves to another silo) for <see cref="RkdeClusterSettings.RetryFor"/>; errors of the input
/// (an unreadable image, a camera without a model, an invalid setting) are thrown at once.
/// </summary>
public sealed class RkdeCluster : IAsyncDisposable
{
    private readonly IHost? _host;
    private readonly ResiliencePipeline _retry;

    /// <summary>Uses a connected Orleans client (of a host of your own, or a test cluster's).</summary>
    public RkdeCluster(IClusterClient client, TimeSpan retryFor)
    {
        ArgumentNullException.ThrowIfNull(client);
        Client = client;
        _retry = RetryPipeline(retryFor, () => Interlocked.Increment(ref _retries));
    }

    private RkdeCluster(IHost host, TimeSpan retryFor) : this(host.Services.GetRequiredService<IClusterClient>(), retryFor) => _host = host;

    /// <summary>Attempts repeated after a transient failure, since this client was created.</summary>
    public long Retries => Interlocked.Read(ref _retries);

    private long _retries;

    /// <summary>The Orleans client, for grain calls of your own.</summary>
    public IClusterClient Client { get; }

    /// <summary>
    /// Connects to the cluster that <paramref name="settings"/> names, finding its gateways in PostgreSQL.
    /// </summary>
    /// <exception cref="ModelStoreUnavailableException">PostgreSQL cannot be reached.</exception>
    /// <exception cref="TimeoutException">No silo of the cluster answered within <see cref="RkdeClusterSettings.ConnectTimeout"/>.</exception>
    public static async Task<RkdeCluster> ConnectAsync(RkdeClusterSettings settings, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(settings);
        settings.Validate();
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Logging.AddFilter("Orleans", LogLevel.Warning).AddFilter("Microsoft", LogLevel.Warning);
        builder.UseOrleansClient(client => client
            .Configure<ClusterOptions>(o =>
            {
                o.ClusterId = settings.ClusterId;
                o.ServiceId = settings.ServiceId;
            })
            .Configure<GatewayOptions>(o => o.GatewayListRefreshPeriod = settings.GatewayListRefreshPeriod)
            .UseAdoNetClustering(o =>
            {
                o.Invariant = RkdeClusterSettings.Invariant;
                o.ConnectionString = settings.PostgresConnectionString;
            }));
        var host = builder.Build();
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(settings.ConnectTimeout);
        try
        {
            await host.StartAsync(limit.Token).WaitAsync(limit.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            host.Dispose();
            throw new TimeoutException(string.Create(CultureInfo.InvariantCulture,
                $"No silo of cluster '{settings.ClusterId}' (service '{settings.ServiceId}') answered within {settings.ConnectTimeout.TotalSeconds:0.#} s: start one with these ids, or check ClusterId and ServiceId against the silos'."));
        }
        catch (Exception e) when (IsDatabaseDown(e))
        {
            host.Dispose();
            throw new ModelStoreUnavailableException(
                $"The cluster's PostgreSQL database cannot be reached ({Innermost(e).Message}), so no gateway can be found: start it (scripts/postgres.sh start) or check PostgresConnectionString.", e);
        }
        catch
        {
            host.Dispose();
            throw;
        }
        return new RkdeCluster(host, settings.RetryFor);
    }

    /// <summary>
    /// Fits the camera's model on its normal images (encoded image files' bytes) and stores it; every score after this
    /// returns uses it, on any silo.
    /// </summary>
    public Task<CameraModelInfo> FitAsync(string cameraId, IReadOnlyList<byte[]> images, CameraFitSettings? settings = null,
        CancellationToken cancellationToken = default)
    {
        CheckCamera(cameraId);
        ArgumentNullException.ThrowIfNull(images);
        if (images.Count == 0)
            throw new ArgumentException($"No images to fit camera '{cameraId}' with: give its normal images' bytes.", nameof(images));
        var array = images.ToArray();
        settings ??= new CameraFitSettings();
        var request = Guid.NewGuid();
        return Call(() => Client.GetGrain<ICameraGrain>(cameraId).Fit(array, settings, request), cancellationToken);
    }

    /// <summary>
    /// Adds normal images (encoded image files' bytes) to the camera's model without refitting it, and stores the result as
    /// the camera's next version; every score after this returns uses it, on any silo.
    /// </summary>
    /// <exception cref="CameraNotFittedException">The camera has no model yet: fit one first.</exception>
    public Task<CameraModelInfo> UpdateAsync(string cameraId, IReadOnlyList<byte[]> images, CancellationToken cancellationToken = default)
    {
        CheckCamera(cameraId);
        ArgumentNullException.ThrowIfNull(images);
        if (images.Count == 0)
            throw new ArgumentException($"No images to update camera '{cameraId}' with: give its new normal images' bytes.", nameof(images));
        var array = images.ToArray();
        var request = Guid.NewGuid();
        return Call(() => Client.GetGrain<ICameraGrain>(cameraId).Update(array, request), cancellationToken);
    }

    /// <summary>Scores one encoded image (PNG, JPEG, … bytes) with the camera's current model, on whichever silo takes it.</summary>
    /// <exception cref="CameraNotFittedException">The camera has no model yet.</exception>
    /// <exception cref="ArgumentException">The bytes are not a readable image.</exception>
    public Task<CameraScore> ScoreAsync(string cameraId, byte[] image, CancellationToken cancellationToken = default)
    {
        CheckCamera(cameraId);
        ArgumentNullException.ThrowIfNull(image);
        if (image.Length == 0)
            throw new ArgumentException($"The image for camera '{cameraId}' is empty: give an encoded image's bytes.", nameof(image));
        return Call(() => Client.GetGrain<IScoringGrain>(NextLane()).Score(cameraId, image), cancellationToken);
    }

    /// <summary>
    /// Scoring calls go to this many ids of the stateless scoring grain in turn. Orleans sends a client's calls to one
    /// grain id through one gateway; over many ids they spread over all the gateways the client knows, and a stateless
    /// worker runs on the silo whose gateway took the call.
    /// </summary>
    internal const int ScoringLanes = 64;

    private int _lane;

    private long NextLane() => (uint)Interlocked.Increment(ref _lane) % ScoringLanes;

    /// <summary>The camera's current model, or null before its first fit.</summary>
    public Task<CameraModelInfo?> GetInfoAsync(string cameraId, CancellationToken cancellationToken = default)
    {
        CheckCamera(cameraId);
        return Call(() => Client.GetGrain<ICameraGrain>(cameraId).GetInfo(), cancellationToken);
    }

    private async Task<T> Call<T>(Func<Task<T>> call, CancellationToken cancellationToken)
    {
        var context = ResilienceContextPool.Shared.Get(cancellationToken);
        context.Properties.Set(Started, DateTime.UtcNow);
        try
        {
            return await _retry.ExecuteAsync(async _ => await call().ConfigureAwait(false), context).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not ModelStoreUnavailableException && IsDatabaseDown(e))
        {
            throw new ModelStoreUnavailableException(
                $"The cluster's PostgreSQL database cannot be reached ({Innermost(e).Message}): models stored before are kept; repeat the call once it is back.", e);
        }
        finally
        {
            ResilienceContextPool.Shared.Return(context);
        }
    }

    private static void CheckCamera(string cameraId)
    {
        if (string.IsNullOrWhiteSpace(cameraId))
            throw new ArgumentException("The camera id is empty: give the id the camera's model is kept under.", nameof(cameraId));
    }

    /// <summary>
    /// Retries Orleans' transport and placement failures (a silo gone, a message rejected or timed out, a grain moving)
    /// and an unreachable database, with exponential backoff, for at most <paramref name="retryFor"/> in all.
    /// </summary>
    private static ResiliencePipeline RetryPipeline(TimeSpan retryFor, Action retried)
    {
        var builder = new ResiliencePipelineBuilder();
        if (retryFor <= TimeSpan.Zero)
            return builder.Build();
        return builder.AddRetry(new RetryStrategyOptions
        {
            ShouldHandle = args => ValueTask.FromResult(args.Outcome.Exception is { } e && IsTransient(e)
                && DateTime.UtcNow - args.Context.Properties.GetValue(Started, DateTime.UtcNow) < retryFor),
            MaxRetryAttempts = int.MaxValue,
            BackoffType = DelayBackoffType.Exponential,
            Delay = TimeSpan.FromMilliseconds(100),
            MaxDelay = TimeSpan.FromSeconds(2),
            UseJitter = true,
            OnRetry = _ =>
            {
                retried();
                return ValueTask.CompletedTask;
            },
        }).Build();
    }

    /// <summary>When a call began, on its resilience context.</summary>
    private static readonly ResiliencePropertyKey<DateTime> Started = new("rkde.started");

    /// <summary>Failures a repeat of the same call can outlive: Orleans' messaging and placement, timeouts, the database.</summary>
    internal static bool IsTransient(Exception e) =>
        e is OrleansException or TimeoutException or ModelStoreUnavailableException || IsDatabaseDown(e);

    /// <summary>Whether the exception comes from a PostgreSQL connection that failed (Npgsql's errors, or the socket under them).</summary>
    internal static bool IsDatabaseDown(Exception e)
    {
        for (var x = e; x is not null; x = x.InnerException)
            if (x is NpgsqlException or SocketException)
                return true;
        return false;
    }

    internal static Exception Innermost(Exception e)
    {
        while (e.InnerException is not null)
            e = e.InnerException;
        return e;
    }

    public async ValueTask DisposeAsync()
    {
        if (_host is null)
            return;
        try
        {
            await _host.StopAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
        }
        finally
        {
            _host.Dispose();
        }
    }
}
