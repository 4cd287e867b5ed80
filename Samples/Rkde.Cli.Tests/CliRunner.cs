using Rkde.Cli.Scoring;

namespace Rkde.Cli.Tests;

/// <summary>Runs the rkde command line in-process and captures its output.</summary>
internal static class CliRunner
{
    public static (int Code, string Out, string Err) Run(IRkdeEngine engine, params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int code = RkdeCli.Run(args, output, error, engine);
        return (code, output.ToString(), error.ToString());
    }

    public static (int Code, string Out, string Err) Run(params string[] args) => Run(FakeEngine.Constant(0.5f), args);

    /// <summary>Starts a command that runs until <paramref name="stop"/> is cancelled (<c>score --watch</c>) on another thread.</summary>
    public static Running Start(IRkdeEngine engine, CancellationToken stop, params string[] args) => new(engine, stop, args);

    /// <summary>A command running on another thread, whose stderr can be read while it runs.</summary>
    public sealed class Running
    {
        private readonly StringWriter _error = new();
        private readonly TextWriter _syncError;

        public Running(IRkdeEngine engine, CancellationToken stop, string[] args)
        {
            _syncError = TextWriter.Synchronized(_error);
            Task = System.Threading.Tasks.Task.Run(() =>
            {
                var output = new StringWriter();
                int code = RkdeCli.Run(args, output, _syncError, engine, stop);
                return (code, output.ToString(), Err);
            });
        }

        public Task<(int Code, string Out, string Err)> Task { get; }

        /// <summary>What the command has written to stderr so far.</summary>
        public string Err
        {
            get
            {
                lock (_syncError)
                    return _error.ToString();
            }
        }

        /// <summary>Waits until stderr holds <paramref name="text"/> (the watch's "Watching …" line says it has listed the folder).</summary>
        public void WaitForErr(string text, TimeSpan patience)
        {
            var clock = System.Diagnostics.Stopwatch.StartNew();
            while (!Err.Contains(text, StringComparison.Ordinal))
            {
                Assert.IsFalse(Task.IsCompleted, $"the command ended before writing '{text}': {Err}");
                Assert.IsLessThan(patience, clock.Elapsed, $"no '{text}' on stderr: {Err}");
                Thread.Sleep(20);
            }
        }
    }

    /// <summary>
    /// Asserts a failure whose error is exactly one line on stderr (the last; progress lines may precede it), with
    /// no stack trace, containing <paramref name="expected"/>.
    /// </summary>
    public static void AssertOneLineError((int Code, string Out, string Err) r, string expected)
    {
        Assert.AreNotEqual(0, r.Code, r.Err);
        string[] lines = r.Err.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.HasCount(1, lines.Where(l => l.StartsWith("rkde: ")), r.Err);
        StringAssert.StartsWith(lines[^1], "rkde: ");
        StringAssert.Contains(lines[^1], expected);
        Assert.DoesNotContain("   at ", r.Err);
    }
}
