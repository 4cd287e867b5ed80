using System.Diagnostics;

namespace Rkde.Cli.Serve;

/// <summary>
/// What <c>GET /metrics</c> reports about <c>POST /score</c>: request and error counts since start, the latency
/// percentiles of the last <see cref="Window"/> scored requests, and images scored per second over the last minute.
/// </summary>
internal sealed class ServeMetrics
{
    /// <summary>How many of the latest latencies the percentiles are taken over.</summary>
    public const int Window = 4096;

    private const int RateSeconds = 60;

    private readonly Lock _lock = new();
    private readonly double[] _latencies = new double[Window];
    private readonly long[] _perSecond = new long[RateSeconds];
    private readonly long[] _secondOf = new long[RateSeconds];
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private long _latencyCount;
    private long _requests, _scored, _clientErrors, _serverErrors, _rejected, _timeouts;

    /// <summary>Seconds since the server started.</summary>
    public double UptimeSeconds => _clock.Elapsed.TotalSeconds;

    /// <summary>Counts one finished <c>POST /score</c> by its status; a scored one adds its latency and an image.</summary>
    public void Record(int status, TimeSpan latency)
    {
        lock (_lock)
        {
            _requests++;
            switch (status)
            {
                case 200:
                    _scored++;
                    _latencies[_latencyCount++ % Window] = latency.TotalMilliseconds;
                    long second = (long)_clock.Elapsed.TotalSeconds;
                    int slot = (int)(second % RateSeconds);
                    if (_secondOf[slot] != second)
                    {
                        _secondOf[slot] = second;
                        _perSecond[slot] = 0;
                    }
                    _perSecond[slot]++;
                    break;
                case 503:
                    _rejected++;
                    _serverErrors++;
                    break;
                case 504:
                    _timeouts++;
                    _serverErrors++;
                    break;
                case >= 500:
                    _serverErrors++;
                    break;
                case >= 400:
                    _clientErrors++;
                    break;
            }
        }
    }

    /// <summary>A consistent copy of every figure.</summary>
    public MetricsSnapshot Snapshot()
    {
        lock (_lock)
        {
            int n = (int)Math.Min(_latencyCount, Window);
            var sorted = _latencies.AsSpan(0, n).ToArray();
            Array.Sort(sorted);
            double now = _clock.Elapsed.TotalSeconds;
            long second = (long)now;
            // The current second is partial: count the last full RateSeconds seconds before it, or the time since start.
            long images = 0;
            for (int i = 0; i < RateSeconds; i++)
            {
                if (_secondOf[i] < second && _secondOf[i] >= second - RateSeconds)
                    images += _perSecond[i];
            }
            double span = Math.Min(RateSeconds, Math.Floor(now));
            return new MetricsSnapshot(_requests, _scored, _clientErrors + _serverErrors, _clientErrors, _serverErrors, _rejected, _timeouts,
                Percentile(sorted, 0.50), Percentile(sorted, 0.99), n, span > 0 ? images / span : 0, now);
        }
    }

    /// <summary>The nearest-rank percentile; null without data.</summary>
    private static double? Percentile(double[] sorted, double p) =>
        sorted.Length == 0 ? null : sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Length) - 1, 0, sorted.Length - 1)];
}

/// <summary>The figures of <see cref="ServeMetrics"/> at one moment.</summary>
internal sealed record MetricsSnapshot(long Requests, long Scored, long Errors, long ClientErrors, long ServerErrors, long Rejected, long Timeouts,
                                       double? LatencyP50Ms, double? LatencyP99Ms, int LatencySamples, double ImagesPerSecond, double UptimeSeconds);
