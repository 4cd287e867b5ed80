using System.CommandLine;
using System.CommandLine.Help;
using Rkde.Cli.Commands;
using Rkde.Cli.Scoring;

namespace Rkde.Cli;

/// <summary>
/// The <c>rkde</c> command line. Every failure the user can fix (bad argument, missing or malformed input) ends
/// with exactly one line on stderr and exit code 1 (2 for a command line that does not parse); no stack traces.
/// </summary>
internal static class RkdeCli
{
    /// <summary>The command tree; fit, update, score, evaluate and export run on <paramref name="engine"/>.</summary>
    public static RootCommand Build(TextWriter output, TextWriter error, IRkdeEngine engine, CancellationToken stop = default) =>
        new("R-KDE region anomaly detection: fit, update, score, evaluate, export, serve, make-scenes.")
    {
        FitCommand.Create(engine, output, error),
        UpdateCommand.Create(engine, output, error),
        ScoreCommand.Create(engine, output, error, stop),
        EvaluateCommand.Create(engine, output, error),
        ExportCommand.Create(engine, output, error),
        ServeCommand.Create(output, error),
        MakeScenesCommand.Create(output, error),
    };

    /// <summary>
    /// Parses and runs <paramref name="args"/>; returns the process exit code. <paramref name="stop"/> ends a running
    /// <c>score --watch</c> as Ctrl+C does.
    /// </summary>
    public static int Run(string[] args, TextWriter output, TextWriter error, IRkdeEngine engine, CancellationToken stop = default)
    {
        var root = Build(output, error, engine, stop);
        var parsed = root.Parse(args);
        if (parsed.Errors.Count > 0 && parsed.Action is not HelpAction)
        {
            string command = string.Join(' ', CommandPath(parsed.CommandResult.Command, root));
            // An unknown word explains more than the "required command" error it causes.
            var first = parsed.Errors.FirstOrDefault(e => e.Message.StartsWith("Unrecognized", StringComparison.Ordinal)) ?? parsed.Errors[0];
            error.WriteLine($"rkde: {OneLine(first.Message)} (see '{command} --help')");
            return 2;
        }
        return parsed.Invoke(new InvocationConfiguration { Output = output, Error = error, EnableDefaultExceptionHandler = false });
    }

    private static IEnumerable<string> CommandPath(Command command, RootCommand root) =>
        command == root ? ["rkde"] : ["rkde", command.Name];

    /// <summary>Runs a command body, turning expected failures into one line on stderr.</summary>
    public static int Guard(TextWriter error, Func<int> body)
    {
        try
        {
            return body();
        }
        catch (CliException e)
        {
            error.WriteLine($"rkde: {e.Message}");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidOperationException
                                       or ArgumentException or FormatException or NotSupportedException)
        {
            error.WriteLine($"rkde: {OneLine(e.Message)}");
        }
        catch (Exception e)
        {
            error.WriteLine($"rkde: unexpected {e.GetType().Name}: {OneLine(e.Message)}");
        }
        return 1;
    }

    private static string OneLine(string message) =>
        string.Join(' ', message.Split(['\r', '\n'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
}
