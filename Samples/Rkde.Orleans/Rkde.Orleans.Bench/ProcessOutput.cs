using System.Diagnostics;

namespace Rkde.Orleans.Bench;

/// <summary>
/// What a child process writes to stdout and stderr, line by line: each line goes to a callback as it comes, and the
/// last ones are kept for a failure message.
/// </summary>
internal sealed class ProcessOutput
{
    private readonly List<string> _lines = [];
    private readonly Action<string>? _seen;

    private ProcessOutput(Action<string>? seen) => _seen = seen;

    /// <summary>Starts <paramref name="process"/> (its start info with both streams redirected) and reads what it writes.</summary>
    public static ProcessOutput Start(Process process, Action<string>? seen = null)
    {
        var output = new ProcessOutput(seen);
        process.StartInfo.RedirectStandardOutput = true;
        process.StartInfo.RedirectStandardError = true;
        process.OutputDataReceived += (_, e) => output.Line(e.Data);
        process.ErrorDataReceived += (_, e) => output.Line(e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return output;
    }

    private void Line(string? line)
    {
        if (line is null)
            return;
        lock (_lines)
            _lines.Add(line);
        _seen?.Invoke(line);
    }

    /// <summary>The last 60 lines.</summary>
    public override string ToString()
    {
        lock (_lines)
            return string.Join('\n', _lines.TakeLast(60));
    }
}
