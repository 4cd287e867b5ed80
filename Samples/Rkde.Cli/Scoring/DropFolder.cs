using System.Diagnostics;
using Rkde.MLNet.Images;

namespace Rkde.Cli.Scoring;

/// <summary>
/// Images as they land in a folder (a camera's drop folder), each handed out once it is complete, in the order they were
/// first seen. A file renamed into its image name (write-then-rename, the safe way to deliver a file) is complete at once;
/// any other file is complete once its size and modification time have not changed for the settle time. Either way it is
/// handed out only when it decodes completely, so a file still being written is never scored; one that stays undecodable
/// for the give-up time is handed out anyway, for its error line. Hidden names ('.', '~') and non-image extensions (the
/// temporary names writers use) are ignored, as are the images already there when watching starts; an image rewritten
/// later lands anew. Filesystem events give the low latency; a poll every second catches what events miss.
/// </summary>
internal sealed class DropFolder : IDisposable
{
    private static readonly TimeSpan PollInterval = TimeSpan.FromSeconds(1);

    private readonly string _folder;
    private readonly TimeSpan _settle;
    private readonly TimeSpan _giveUp;
    private readonly FileSystemWatcher _watcher;
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly AutoResetEvent _signal = new(false);
    private readonly Queue<(string Path, bool Renamed)> _events = new();
    private readonly Dictionary<string, Pending> _pending = new(StringComparer.Ordinal);
    private readonly Dictionary<string, (long Size, DateTime Written)> _done = new(StringComparer.Ordinal);
    private TimeSpan _lastPoll;
    private long _sightings;

    private sealed class Pending(long order, long size, DateTime written, TimeSpan changedAt)
    {
        public long Order { get; } = order;
        public long Size { get; set; } = size;
        public DateTime Written { get; set; } = written;
        public TimeSpan ChangedAt { get; set; } = changedAt;
        public bool Renamed { get; set; }
    }

    /// <summary>Watches <paramref name="folder"/> and its sub-folders; images already there are not handed out.</summary>
    public DropFolder(string folder, TimeSpan settle)
    {
        if (!Directory.Exists(folder))
            throw new CliException($"--watch: folder '{folder}' does not exist.");
        _folder = Path.GetFullPath(folder);
        _settle = settle;
        _giveUp = TimeSpan.FromTicks(Math.Max(10 * settle.Ticks, TimeSpan.FromSeconds(2).Ticks));
        _watcher = new FileSystemWatcher(_folder)
        {
            IncludeSubdirectories = true,
            NotifyFilter = NotifyFilters.FileName | NotifyFilters.DirectoryName | NotifyFilters.Size | NotifyFilters.LastWrite,
        };
        _watcher.Created += (_, e) => Enqueue(e.FullPath, renamed: false);
        _watcher.Changed += (_, e) => Enqueue(e.FullPath, renamed: false);
        _watcher.Renamed += (_, e) => Enqueue(e.FullPath, renamed: true);
        _watcher.Error += (_, _) => _signal.Set();
        foreach (string file in Images())
        {
            if (Stat(file) is { } stat)
                _done[file] = stat;
        }
        _lastPoll = _clock.Elapsed;
        _watcher.EnableRaisingEvents = true;
    }

    /// <summary>The folder's path, full.</summary>
    public string Folder => _folder;

    /// <summary>
    /// Waits for the next complete image and returns it with its check (readable, or why not); null once
    /// <paramref name="stop"/> is cancelled.
    /// </summary>
    public (string Path, ImageCheckResult Check)? Next(CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            lock (_events)
            {
                while (_events.TryDequeue(out var e))
                    Observe(e.Path, e.Renamed);
            }
            if (_clock.Elapsed - _lastPoll >= PollInterval)
            {
                foreach (string file in Images())
                    Observe(file, renamed: false);
                _lastPoll = _clock.Elapsed;
            }
            if (Ready() is { } ready)
                return ready;
            var wait = PollInterval - (_clock.Elapsed - _lastPoll);
            foreach (var p in _pending.Values)
            {
                var due = p.ChangedAt + (p.Renamed ? TimeSpan.Zero : _settle) - _clock.Elapsed;
                wait = due < wait ? due : wait;
            }
            int milliseconds = (int)Math.Clamp(Math.Ceiling(wait.TotalMilliseconds), 5, PollInterval.TotalMilliseconds);
            WaitHandle.WaitAny([_signal, stop.WaitHandle], milliseconds);
        }
        return null;
    }

    /// <summary>The first pending image (in sighting order) that is complete, or null.</summary>
    private (string, ImageCheckResult)? Ready()
    {
        foreach (var (path, p) in _pending.OrderBy(kv => kv.Value.Order).ToList())
        {
            if (Stat(path) is not { } stat)
            {
                _pending.Remove(path);
                continue;
            }
            if (stat.Size != p.Size || stat.Written != p.Written)
            {
                (p.Size, p.Written, p.ChangedAt) = (stat.Size, stat.Written, _clock.Elapsed);
                continue;
            }
            var quiet = _clock.Elapsed - p.ChangedAt;
            if (!p.Renamed && quiet < _settle)
                continue;
            var check = ImageCheck.Check(path);
            if (!check.IsReadable && quiet < _giveUp)
                continue; // still being written, or paused: wait (a rename did not make it complete after all)
            if (Stat(path) != stat)
                continue; // it changed while it was decoded
            _pending.Remove(path);
            _done[path] = stat;
            return (path, check);
        }
        return null;
    }

    private void Observe(string path, bool renamed)
    {
        if (!IsImageName(path) || Stat(path) is not { } stat)
            return;
        if (_done.TryGetValue(path, out var handed))
        {
            if (handed == stat)
                return;
            _done.Remove(path); // rewritten since it was handed out: it lands anew
        }
        if (!_pending.TryGetValue(path, out var p))
            _pending[path] = p = new Pending(_sightings++, stat.Size, stat.Written, _clock.Elapsed);
        if (renamed)
            p.Renamed = true;
    }

    private void Enqueue(string path, bool renamed)
    {
        lock (_events)
            _events.Enqueue((path, renamed));
        _signal.Set();
    }

    private IEnumerable<string> Images()
    {
        try
        {
            return Directory.EnumerateFiles(_folder, "*", SearchOption.AllDirectories).Where(IsImageName).ToList();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return []; // a sub-folder vanished while listing: the next poll sees the rest
        }
    }

    private static bool IsImageName(string path)
    {
        string name = Path.GetFileName(path);
        return name.Length > 0 && name[0] is not ('.' or '~') && ImageFiles.IsImage(path);
    }

    private static (long Size, DateTime Written)? Stat(string path)
    {
        var info = new FileInfo(path);
        try
        {
            return info.Exists ? (info.Length, info.LastWriteTimeUtc) : null;
        }
        catch (IOException)
        {
            return null;
        }
    }

    public void Dispose()
    {
        _watcher.Dispose();
        _signal.Dispose();
    }
}
