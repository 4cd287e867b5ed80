using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text.RegularExpressions;

namespace Rkde.Benchmarks;

/// <summary>
/// The figure <c>serve.load</c>: <c>rkde serve</c> in its own process on a loopback port, 8 concurrent clients × 500
/// requests each (RKDE_SERVE_CLIENTS, RKDE_SERVE_REQUESTS) posting the demo test images in a cycle, and halfway through
/// the model file replaced by another model (written beside it and renamed over it). Reports errors, the clients'
/// latency p50/p99, images/s, the server's resident set over the run, and which model answered; a pass is zero errors,
/// both models answering, each image's answer identical within one model, and the RSS at the end within 10 % of the RSS
/// after a warm-up of 5 requests per client, all clients at once. Bounded: clients stop after RKDE_SERVE_MAX_SECONDS (default 1,800) and the figure says so.
/// </summary>
public static partial class ServeLoadFigure
{
    /// <summary>Requests per client before the measured run.</summary>
    private const int WarmUp = 5;

    public static void Run() => RunAsync().GetAwaiter().GetResult();

    private static int Setting(string name, int fallback) =>
        int.TryParse(Environment.GetEnvironmentVariable(name), NumberStyles.Integer, CultureInfo.InvariantCulture, out int v) && v > 0 ? v : fallback;

    [GeneratedRegex(@"listening on (http://127\.0\.0\.1:\d+)")]
    private static partial Regex Listening();

    private static async Task RunAsync()
    {
        int clients = Setting("RKDE_SERVE_CLIENTS", 8), perClient = Setting("RKDE_SERVE_REQUESTS", 500);
        var limit = TimeSpan.FromSeconds(Setting("RKDE_SERVE_MAX_SECONDS", 1800));
        using var first = FittedModel.Create(int8: false);
        using var second = FittedModel.Create(int8: false, pcaComponents: 32);
        string folder = Directory.CreateTempSubdirectory("rkde-serve-load-").FullName;
        string live = Path.Combine(folder, "live.zip");
        File.Copy(first.Path, live);
        byte[][] images = DemoData.Test.Select(File.ReadAllBytes).ToArray();

        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        // The queue holds every client, so no request is refused for being one too many.
        foreach (string arg in new[] { Path.Combine(AppContext.BaseDirectory, "rkde.dll"), "serve", "--model", live, "--urls", "http://127.0.0.1:0",
                                       "--queue", clients.ToString(CultureInfo.InvariantCulture) })
            start.ArgumentList.Add(arg);
        using var server = Process.Start(start) ?? throw new InvalidOperationException("could not start rkde serve");
        var serverErrors = server.StandardError.ReadToEndAsync();
        try
        {
            string? address = null;
            while (address is null && await server.StandardOutput.ReadLineAsync() is { } line)
                address = Listening().Match(line) is { Success: true } m ? m.Groups[1].Value : null;
            if (address is null)
                throw new InvalidOperationException("rkde serve did not start: " + await serverErrors);
            string pid = server.Id.ToString(CultureInfo.InvariantCulture);
            using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = clients }) { BaseAddress = new Uri(address), Timeout = TimeSpan.FromMinutes(2) };
            // Warm-up with every client at once, so that all engines and buffers exist before the baseline RSS is taken.
            await Task.WhenAll(Enumerable.Range(0, clients).Select(c => Task.Run(async () =>
            {
                for (int i = 0; i < WarmUp; i++)
                    (await http.PostAsync("/score", new ByteArrayContent(images[(c + i) % images.Length]))).EnsureSuccessStatusCode();
            })));
            double rssStart = FitMemory.Status("VmRSS:", pid);

            var results = new ConcurrentQueue<(int Image, HttpStatusCode Status, int Version, double Ms, string Body)>();
            var rss = new ConcurrentQueue<(double Seconds, double Mb)>();
            int total = clients * perClient, done = 0;
            double swapAt = double.NaN, firstNewAnswer = double.NaN;
            using var stop = new CancellationTokenSource(limit);
            var clock = Stopwatch.StartNew();
            var sampler = Task.Run(async () =>
            {
                while (!stop.IsCancellationRequested && Volatile.Read(ref done) < total)
                {
                    rss.Enqueue((clock.Elapsed.TotalSeconds, FitMemory.Status("VmRSS:", pid)));
                    await Task.Delay(1000);
                }
            });
            var swap = Task.Run(async () =>
            {
                while (Volatile.Read(ref done) < total / 2 && !stop.IsCancellationRequested)
                    await Task.Delay(10);
                if (stop.IsCancellationRequested)
                    return;
                File.Copy(second.Path, live + ".new");
                File.Move(live + ".new", live, overwrite: true);
                swapAt = clock.Elapsed.TotalSeconds;
            });
            var workers = Enumerable.Range(0, clients).Select(c => Task.Run(async () =>
            {
                for (int n = 0; n < perClient && !stop.IsCancellationRequested; n++)
                {
                    int image = (c * 7 + n) % images.Length;
                    var watch = Stopwatch.StartNew();
                    HttpStatusCode status;
                    int version = 0;
                    string body;
                    try
                    {
                        using var response = await http.PostAsync("/score", new ByteArrayContent(images[image]));
                        body = await response.Content.ReadAsStringAsync();
                        status = response.StatusCode;
                        if (response.Headers.TryGetValues("X-Rkde-Model-Version", out var v))
                            version = int.Parse(v.Single(), CultureInfo.InvariantCulture);
                    }
                    catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
                    {
                        status = 0;
                        body = e.Message;
                    }
                    results.Enqueue((image, status, version, watch.Elapsed.TotalMilliseconds, body));
                    if (version == 2 && double.IsNaN(firstNewAnswer))
                        firstNewAnswer = clock.Elapsed.TotalSeconds;
                    Interlocked.Increment(ref done);
                }
            })).ToArray();
            await Task.WhenAll(workers);
            double wall = clock.Elapsed.TotalSeconds;
            await sampler;
            stop.Cancel();
            await swap;
            double rssEnd = FitMemory.Status("VmRSS:", pid);
            string metrics = await http.GetStringAsync("/metrics");

            var all = results.ToList();
            var ok = all.Where(r => r.Status == HttpStatusCode.OK).ToList();
            var ms = ok.Select(r => r.Ms).Order().ToArray();
            double P(double p) => ms.Length == 0 ? double.NaN : ms[Math.Clamp((int)Math.Ceiling(p * ms.Length) - 1, 0, ms.Length - 1)];
            int errors = all.Count - ok.Count;
            int byFirst = ok.Count(r => r.Version == 1), bySecond = ok.Count(r => r.Version == 2);
            int inconsistent = ok.GroupBy(r => (r.Version, r.Image)).Count(g => g.Select(r => r.Body).Distinct().Count() > 1);
            var samples = rss.ToList();
            double peak = samples.Count == 0 ? rssEnd : samples.Max(s => s.Mb);
            bool flat = rssEnd <= rssStart * 1.10;
            bool complete = all.Count == total;
            bool pass = complete && errors == 0 && byFirst > 0 && bySecond > 0 && inconsistent == 0 && flat;
            string everyTen = string.Join(", ", samples.Where((_, i) => i % 10 == 0).Select(s => s.Mb.ToString("0", CultureInfo.InvariantCulture)));
            Figures.Print($"serve.load {clients} clients x {perClient} requests, {Environment.ProcessorCount} cores, load average {LoadAverage()}",
                $"{all.Count} of {total} requests in {wall:0.0} s, {errors} errors; {ok.Count / wall:0.0} images/s; latency p50 {P(0.5):0} ms, p99 {P(0.99):0} ms " +
                $"(max {(ms.Length > 0 ? ms[^1] : double.NaN):0}); model 1 answered {byFirst}, model 2 {bySecond} (file replaced at {swapAt:0.0} s, first answer of model 2 at {firstNewAnswer:0.0} s); " +
                $"{inconsistent} images answered two ways by one model; server RSS after warm-up {rssStart:0} MB, peak {peak:0} MB, end {rssEnd:0} MB (every 10 s: {everyTen}); " +
                $"{(pass ? "pass" : "FAIL")}{(complete ? "" : $" (stopped at the {limit.TotalSeconds:0} s limit)")}");
            Figures.Print("serve.load server /metrics", metrics);
            foreach (var error in all.Where(r => r.Status != HttpStatusCode.OK).GroupBy(r => (r.Status, r.Body)).Take(3))
                Console.Error.WriteLine($"  {error.Count()} × {(int)error.Key.Status}: {error.Key.Body}");
        }
        finally
        {
            if (!server.HasExited)
            {
                using (var term = Process.Start("kill", ["-TERM", server.Id.ToString(CultureInfo.InvariantCulture)]))
                    await term.WaitForExitAsync();
                if (!server.WaitForExit(TimeSpan.FromSeconds(30)))
                    server.Kill();
            }
            Directory.Delete(folder, recursive: true);
        }
    }

    private static string LoadAverage() =>
        File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Split(' ')[0] : "?";
}
