using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Rkde.Orleans.Bench;

/// <summary>
/// A real silo: the Rkde.Orleans.Silo host as its own process on loopback ports, joined to a cluster in PostgreSQL.
/// Membership timing is shortened so a killed silo is declared dead in seconds rather than a minute.
/// </summary>
internal sealed class SiloProcess : IDisposable
{
    private readonly Process _process;
    private readonly TaskCompletionSource _up = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private ProcessOutput? _output;

    private SiloProcess(Process process, int siloPort, int gatewayPort)
    {
        _process = process;
        SiloPort = siloPort;
        GatewayPort = gatewayPort;
    }

    public int SiloPort { get; }

    public int GatewayPort { get; }

    /// <summary>"127.0.0.1:port", how a score's <c>Silo</c> names this silo (followed by "@generation").</summary>
    public string Endpoint => $"127.0.0.1:{SiloPort}";

    /// <summary>Starts a silo and waits until it reports that it is up.</summary>
    public static async Task<SiloProcess> StartAsync(string postgres, string clusterId, string serviceId, int? siloPort = null, int? gatewayPort = null)
    {
        int silo = siloPort ?? FreePort(), gateway = gatewayPort ?? FreePort();
        var start = new ProcessStartInfo("dotnet");
        foreach (string arg in new[]
        {
            SiloDll, "--postgres", postgres, "--cluster-id", clusterId, "--service-id", serviceId,
            "--silo-port", silo.ToString(), "--gateway-port", gateway.ToString(),
            "--Membership:ProbeTimeout=00:00:02", "--Membership:NumMissedProbesLimit=2", "--Membership:NumVotesForDeathDeclaration=1",
            "--Membership:IAmAliveTablePublishTimeout=00:00:05", "--Membership:TableRefreshTimeout=00:00:02",
            "--Membership:DeathVoteExpirationTimeout=00:00:30",
        })
            start.ArgumentList.Add(arg);
        var process = new Process { StartInfo = start, EnableRaisingEvents = true };
        var handle = new SiloProcess(process, silo, gateway);
        process.Exited += (_, _) => handle._up.TrySetException(new InvalidOperationException($"The silo on port {silo} exited before it was up:\n{handle.Output}"));
        handle._output = ProcessOutput.Start(process, handle.Line);
        var timeout = Task.Delay(TimeSpan.FromMinutes(2));
        if (await Task.WhenAny(handle._up.Task, timeout) == timeout)
        {
            handle.Dispose();
            throw new TimeoutException($"The silo on port {silo} did not come up within 2 minutes:\n{handle.Output}");
        }
        await handle._up.Task;
        return handle;
    }

    private void Line(string line)
    {
        if (line.StartsWith("rkde-silo: up at", StringComparison.Ordinal))
            _up.TrySetResult();
    }

    /// <summary>The silo's last lines of output.</summary>
    public string Output => _output?.ToString() ?? "";

    /// <summary>Ends the process at once, as a crash or a lost machine would: no graceful leave.</summary>
    public void Kill()
    {
        if (!_process.HasExited)
            _process.Kill(entireProcessTree: true);
        _process.WaitForExit();
        // The silo's private temporary folder (Rkde.Orleans.Silo's PrivateTemp), which a killed silo cannot delete itself.
        string temp = Path.Combine(Path.GetTempPath(), $"rkde-silo-{_process.Id}");
        if (Directory.Exists(temp))
            Directory.Delete(temp, recursive: true);
    }

    public bool HasExited => _process.HasExited;

    /// <summary>The silo process's resident memory now, in bytes.</summary>
    public long ResidentBytes
    {
        get
        {
            _process.Refresh();
            return _process.WorkingSet64;
        }
    }

    public void Dispose()
    {
        Kill();
        _process.Dispose();
    }

    /// <summary>The silo host built beside this program (Release or Debug, as it was built).</summary>
    public static string SiloDll => BuiltDll(Path.Combine("Samples", "Rkde.Orleans", "Rkde.Orleans.Silo"), "Rkde.Orleans.Silo.dll");

    /// <summary>
    /// A program of the repository built in this program's configuration: <paramref name="dll"/> in the bin folder of the
    /// project folder <paramref name="project"/> (relative to the repository root), found above this program's folder.
    /// </summary>
    public static string BuiltDll(string project, string dll)
    {
        string config = new DirectoryInfo(AppContext.BaseDirectory).Parent!.Name;
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string path = Path.Combine(dir.FullName, project, "bin", config, "net10.0", dll);
            if (File.Exists(path))
                return path;
        }
        throw new FileNotFoundException($"{dll} is not built ({config}): build {project}.");
    }

    private static int FreePort()

    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
