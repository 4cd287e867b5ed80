using Microsoft.Extensions.Hosting;

namespace Rkde.Cli.Serve;

/// <summary>
/// Swaps in a new model when the file at <c>--model</c> is replaced (best written elsewhere and renamed over it, as
/// <c>rkde fit</c> or an update tool's atomic write does). The file is looked at once a <see cref="Interval"/>; a new length
/// or write time that holds still for one more look is loaded in the background while requests go on with the old model,
/// then swapped in (<see cref="ModelHolder{T}.Swap"/>). A file that fails to load leaves the old model serving and is
/// reported in <c>/health</c> until the file changes again.
/// </summary>
internal sealed class ModelReloader(ServeOptions options, ModelHolder<ServedModel> models, TextWriter log) : BackgroundService
{
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(1);

    private readonly Lock _lock = new();
    private string? _lastError;
    private int _swaps;

    /// <summary>Why the latest changed file could not be served, or null.</summary>
    public string? LastError
    {
        get { lock (_lock) return _lastError; }
    }

    /// <summary>Models swapped in since start.</summary>
    public int Swaps => Volatile.Read(ref _swaps);

    /// <summary>Loads <paramref name="path"/> and swaps it in; returns the new version. Throws <see cref="CliException"/> for a model that cannot be served.</summary>
    public int Load(string path)
    {
        var next = ServedModel.Load(path, options.Workers);
        int version = models.Swap(next);
        Interlocked.Increment(ref _swaps);
        lock (_lock) _lastError = null;
        log.WriteLine($"rkde serve: model version {version} loaded from {path}; requests already scoring finish on the previous one.");
        return version;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!options.ReloadOnChange)
            return;
        (long, DateTime)? seen = null, failed = null;
        using var timer = new PeriodicTimer(Interval);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            (long, DateTime)? stamp = File.Exists(options.ModelPath) ? ServedModel.Stamp(options.ModelPath) : null;
            bool settled = stamp == seen;
            seen = stamp;
            if (stamp is null || !settled || stamp == models.Current.FileStamp || stamp == failed)
                continue;
            try
            {
                // Loading takes seconds of CPU; the timer waits for it.
                await Task.Run(() => Load(options.ModelPath), stoppingToken);
                failed = null;
            }
            catch (Exception e) when (e is CliException or IOException or InvalidOperationException or InvalidDataException)
            {
                failed = stamp;
                string message = $"the new file at {options.ModelPath} was not loaded, the previous model goes on serving: {e.Message.ReplaceLineEndings(" ").Trim()}";
                lock (_lock) _lastError = message;
                log.WriteLine($"rkde serve: {message}");
            }
        }
    }
}
