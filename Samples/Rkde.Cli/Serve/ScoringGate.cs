using System.Threading.RateLimiting;

namespace Rkde.Cli.Serve;

/// <summary>
/// Bounds the work in the server. Admission: at most workers + queue scoring requests are inside at once, counted from
/// before their body is read, so memory for uploads is bounded too; one more is refused at once (503). Workers: of
/// those admitted, <c>workers</c> score at a time and the rest wait, oldest first.
/// </summary>
internal sealed class ScoringGate : IDisposable
{
    private readonly ConcurrencyLimiter _admission;
    private readonly ConcurrencyLimiter _workers;

    public ScoringGate(int workers, int queue)
    {
        Workers = workers;
        Queue = queue;
        _admission = new ConcurrencyLimiter(new ConcurrencyLimiterOptions { PermitLimit = workers + queue, QueueLimit = 0 });
        _workers = new ConcurrencyLimiter(new ConcurrencyLimiterOptions
        {
            PermitLimit = workers,
            QueueLimit = queue,
            QueueProcessingOrder = QueueProcessingOrder.OldestFirst,
        });
    }

    public int Workers { get; }

    public int Queue { get; }

    /// <summary>Requests admitted and not finished (reading, waiting or scoring).</summary>
    public long Inside => Workers + Queue - (_admission.GetStatistics()?.CurrentAvailablePermits ?? 0);

    /// <summary>Requests scoring now.</summary>
    public long Scoring => Workers - (_workers.GetStatistics()?.CurrentAvailablePermits ?? 0);

    /// <summary>Requests waiting for a worker.</summary>
    public long Waiting => _workers.GetStatistics()?.CurrentQueuedCount ?? 0;

    /// <summary>A place inside, or a lease whose <see cref="RateLimitLease.IsAcquired"/> is false when the server is full.</summary>
    public RateLimitLease Admit() => _admission.AttemptAcquire();

    /// <summary>Waits for a worker; throws <see cref="OperationCanceledException"/> when <paramref name="cancel"/> fires first.</summary>
    public ValueTask<RateLimitLease> WaitForWorkerAsync(CancellationToken cancel) => _workers.AcquireAsync(1, cancel);

    public void Dispose()
    {
        _admission.Dispose();
        _workers.Dispose();
    }
}
