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
    public static Task<(int Code, string Out, string Err)> Start(IRkdeEngine engine, CancellationToken stop, params string[] args) => Task.Run(() =>
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int code = RkdeCli.Run(args, output, error, engine, stop);
        return (code, output.ToString(), error.ToString());
    });

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
