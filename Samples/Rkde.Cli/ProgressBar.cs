using System.Diagnostics;

namespace Rkde.Cli;

/// <summary>
/// Progress with an ETA on stderr: redrawn in place on a terminal, one line per tenth of the work otherwise.
/// </summary>
internal sealed class ProgressBar(TextWriter error, string label, int total) : IProgress<int>, IDisposable
{
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly bool _interactive = ReferenceEquals(error, Console.Error) && !Console.IsErrorRedirected;
    private int _lastDecile = -1;
    private int _done;

    public TimeSpan Elapsed => _clock.Elapsed;

    public void Report(int done)
    {
        _done = done;
        if (total <= 0)
        {
            return;
        }
        int decile = done * 10 / total;
        if (!_interactive && decile == _lastDecile)
        {
            return;
        }
        _lastDecile = decile;
        double seconds = _clock.Elapsed.TotalSeconds;
        string eta = done > 0 && done < total ? $", ETA {TimeSpan.FromSeconds(seconds / done * (total - done)):mm\\:ss}" : "";
        string line = $"{label}: {done}/{total} ({100.0 * done / total:F0} %), {seconds:F1} s{eta}";
        if (_interactive)
        {
            error.Write($"\r{line.PadRight(Console.BufferWidth > 1 ? Math.Min(Console.BufferWidth - 1, 100) : 0)}");
        }
        else
        {
            error.WriteLine(line);
        }
    }

    public void Dispose()
    {
        if (_interactive && _done > 0)
        {
            error.WriteLine();
        }
    }
}
