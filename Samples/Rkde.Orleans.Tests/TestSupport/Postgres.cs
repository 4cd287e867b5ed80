using System.Diagnostics;

namespace Rkde.Orleans.Tests.TestSupport;

/// <summary>
/// The project's PostgreSQL, through scripts/postgres.sh (which installs, initialises and starts it on a loopback port).
/// Without it the cluster tests cannot run: outside CI they are inconclusive with the script's error, in CI they fail.
/// </summary>
internal static class Postgres
{
    private static readonly Lazy<(string? Url, string Error)> Started = new(() =>
    {
        var (code, output) = Script("start");
        string last = output.TrimEnd().Split('\n')[^1].Trim();
        return code == 0 && last.StartsWith("Host=", StringComparison.Ordinal) ? (last, "") : (null, output);
    });

    /// <summary>The connection string; starts the server on first use.</summary>
    public static string ConnectionString
    {
        get
        {
            var (url, error) = Started.Value;
            if (url is not null)
                return url;
            string message = $"PostgreSQL could not be started by scripts/postgres.sh: {error.Trim()}";
            if (Environment.GetEnvironmentVariable("CI") == "true")
                Assert.Fail(message);
            Assert.Inconclusive(message);
            return "";
        }
    }

    public static void Stop() => Check("stop");

    public static void Start() => Check("start");

    private static void Check(string command)
    {
        var (code, output) = Script(command);
        Assert.AreEqual(0, code, $"scripts/postgres.sh {command} failed: {output}");
    }

    private static (int Code, string Output) Script(string command)
    {
        var start = new ProcessStartInfo("bash", [Path.Combine(Repo.Root, "scripts", "postgres.sh"), command])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        string stdout = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, stdout + stderr.Result);
    }
}
