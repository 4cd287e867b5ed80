using System.Diagnostics;
using System.Text.RegularExpressions;
using Rkde.Orleans.Bench;

namespace Rkde.Orleans.Tests.TestSupport;

/// <summary>The built <c>rkde</c> command line as a real process: a command run to its end, or <c>rkde serve</c> until disposed.</summary>
internal sealed partial class RkdeCliProcess : IDisposable
{
    private readonly Process _process;
    private ProcessOutput? _output;

    private RkdeCliProcess(Process process) => _process = process;

    /// <summary>The address <c>rkde serve</c> listens on, once started.</summary>
    public Uri? Address => _address;

    private volatile Uri? _address;

    public static string Dll => SiloProcess.BuiltDll(Path.Combine("Samples", "Rkde.Cli"), "rkde.dll");

    /// <summary>Runs a command to its end; returns its exit code and everything it wrote.</summary>
    public static async Task<(int Code, string Output)> RunAsync(TimeSpan timeout, params string[] args)
    {
        using var cli = Start(args);
        try
        {
            await cli._process.WaitForExitAsync().WaitAsync(timeout);
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"rkde {args[0]} did not end within {timeout}:\n{cli.Output}");
        }
        cli._process.WaitForExit();
        return (cli._process.ExitCode, cli.Output);
    }

    /// <summary>Starts <c>rkde serve</c> on a free loopback port with <paramref name="args"/> and waits until it listens.</summary>
    public static async Task<RkdeCliProcess> ServeAsync(params string[] args)
    {
        var cli = Start(["serve", "--urls", "http://127.0.0.1:0", .. args]);
        var deadline = DateTime.UtcNow.AddMinutes(2);
        while (cli.Address is null && !cli._process.HasExited && DateTime.UtcNow < deadline)
            await Task.Delay(100);
        if (cli.Address is null)
        {
            cli.Dispose();
            throw new InvalidOperationException($"rkde serve did not start listening:\n{cli.Output}");
        }
        return cli;
    }

    private static RkdeCliProcess Start(string[] args)
    {
        var start = new ProcessStartInfo("dotnet");
        start.ArgumentList.Add(Dll);
        foreach (string arg in args)
            start.ArgumentList.Add(arg);
        var cli = new RkdeCliProcess(new Process { StartInfo = start });
        cli._output = ProcessOutput.Start(cli._process, cli.Line);
        return cli;
    }

    [GeneratedRegex(@"listening on (http://127\.0\.0\.1:\d+)")]
    private static partial Regex Listening();

    private void Line(string line)
    {
        if (Listening().Match(line) is { Success: true } m)
            _address = new Uri(m.Groups[1].Value);
    }

    /// <summary>What the process wrote (its last lines), for a failure message.</summary>
    public string Output => _output?.ToString() ?? "";

    public void Dispose()
    {
        if (!_process.HasExited)
            _process.Kill(entireProcessTree: true);
        _process.WaitForExit();
        _process.Dispose();
    }
}
