using System.Diagnostics;
using System.Globalization;
using Rkde.Orleans;
using Rkde.Orleans.Bench;
using Rkde.Orleans.Grains;

// Images/s through the cluster with 1, 2, … silo processes on this machine, against the same model scored in this process.
//   dotnet run --project Samples/Rkde.Orleans/Rkde.Orleans.Bench -c Release -- --postgres "$(scripts/postgres.sh url)"
//     [--silos 1,2,3] [--cameras 2] [--requests 120] [--clients 4] [--train 8] [--width 360] [--height 240]
var options = Args.Parse(args);
string postgres = options.Get("postgres") ?? Fail("--postgres is required (scripts/postgres.sh start prints it).");
int[] siloCounts = (options.Get("silos") ?? "1,2,3").Split(',').Select(int.Parse).ToArray();
int cameras = options.Int("cameras", 2), requests = options.Int("requests", 120), clients = options.Int("clients", 4), train = options.Int("train", 8);
var settings = new CameraFitSettings { ImageWidth = options.Int("width", 360), ImageHeight = options.Int("height", 240) };
string demo = Path.Combine(Root(), "assets", "demo");
var trainImages = Directory.GetFiles(Path.Combine(demo, "train", "good"), "*.jpg").Order(StringComparer.Ordinal).Select(File.ReadAllBytes).ToArray();
var stream = Directory.GetFiles(Path.Combine(demo, "test"), "*.jpg", SearchOption.AllDirectories).Order(StringComparer.Ordinal).Select(File.ReadAllBytes).ToArray();
byte[][] CameraImages(int c) => Enumerable.Range(0, train).Select(k => trainImages[(c * train + k) % trainImages.Length]).ToArray();
Console.WriteLine($"bench: {cameras} cameras of {train} demo scenes at {settings.ImageWidth}×{settings.ImageHeight}, {requests} scored images per run over {clients} concurrent callers; {Environment.ProcessorCount} cores, load {Load()}");

// In this process: the model as a silo loads it, scored from memory by the same code, without Orleans.
var fit = Stopwatch.StartNew();
var local = CameraFitter.Fit("local", CameraImages(0), settings);
fit.Stop();
var reference = new ModelReference("local", 1, ModelPackage.Split(local.Zip).Select(p => p.Entry).ToArray(), local.Threshold);
var loadTime = Stopwatch.StartNew();
var model = LoadedModel.Load(new MemoryStream(local.Zip), reference, clients);
loadTime.Stop();
var inProcess = await Measure(requests, clients, i => Task.Run(() => model.Score(stream[i % stream.Length], "local").Score));
var localScores = stream.Take(4).Select(image => model.Score(image, "local")).ToArray();
model.Retire();
Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
    $"in-process: fit {fit.Elapsed.TotalSeconds:F1} s, model load {loadTime.Elapsed.TotalSeconds:F2} s, {inProcess.PerSecond:F1} images/s, p50 {inProcess.P50:F0} ms"));

string service = "bench-" + Guid.NewGuid().ToString("N")[..8];
var rows = new List<string>();
foreach (int n in siloCounts)
{
    var silos = new List<SiloProcess>();
    try
    {
        for (int s = 0; s < n; s++)
            silos.Add(await SiloProcess.StartAsync(postgres, $"{service}-{n}", service));
        await using var cluster = await RkdeCluster.ConnectAsync(new RkdeClusterSettings
        {
            PostgresConnectionString = postgres,
            ClusterId = $"{service}-{n}",
            ServiceId = service,
            RetryFor = TimeSpan.FromMinutes(2),
        });
        if (n == siloCounts[0])
        {
            for (int c = 0; c < cameras; c++)
            {
                var t = Stopwatch.StartNew();
                var info = await cluster.FitAsync($"cam-{c}", CameraImages(c), settings);
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"fit cam-{c} through the cluster: {t.Elapsed.TotalSeconds:F1} s; model {info.ModelBytes / 1e6:F1} MB, newly stored {info.NewBytesStored / 1e6:F2} MB"));
            }
        }
        long[] residentBefore = silos.Select(s => s.ResidentBytes).ToArray();
        // First scores: activation of the cameras' grains and loading their models on every silo (calls alternate between gateways).
        var warm = Stopwatch.StartNew();
        var first = new List<double>();
        for (int k = 0; k < cameras * n; k++)
        {
            var t = Stopwatch.StartNew();
            await cluster.ScoreAsync($"cam-{k % cameras}", stream[0]);
            first.Add(t.Elapsed.TotalMilliseconds);
        }
        warm.Stop();
        Console.WriteLine(string.Join("; ", silos.Select((s, i) => string.Create(CultureInfo.InvariantCulture,
            $"silo {i + 1} resident {residentBefore[i] / 1e6:F0} MB before its first scores, {s.ResidentBytes / 1e6:F0} MB with the {cameras} cameras' models loaded"))));
        // cam-0 is fitted on the in-process model's images with its settings: the same model, so the same scores.
        int same = 0;
        for (int k = 0; k < localScores.Length; k++)
        {
            var remote = await cluster.ScoreAsync("cam-0", stream[k]);
            if (remote.Score == localScores[k].Score && remote.Boxes.AsSpan().SequenceEqual(localScores[k].Boxes))
                same++;
            else
                Console.WriteLine($"cam-0 scores image {k} {remote.Score} on {remote.Silo}, in-process {localScores[k].Score}: NOT the same");
        }
        Console.WriteLine($"cam-0 through the cluster scores {same} of {localScores.Length} images exactly as the in-process model");
        var run = await Measure(requests, clients, i => cluster.ScoreAsync($"cam-{i % cameras}", stream[i % stream.Length]).ContinueWith(t => t.Result.Score));
        string row = string.Create(CultureInfo.InvariantCulture,
            $"| {n} | {run.PerSecond:F1} | {run.P50:F0} | {run.PerSecond / inProcess.PerSecond:P0} | {first.Max():F0} |");
        Console.WriteLine($"{n} silo(s): {row}");
        rows.Add(row);
    }
    finally
    {
        foreach (var s in silos)
            s.Dispose();
    }
}
Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"\nin-process: {inProcess.PerSecond:F1} images/s, p50 {inProcess.P50:F0} ms (load {Load()})"));
Console.WriteLine("| silos | images/s | p50 ms | of in-process | slowest first score (activation + model load) ms |\n|---|---|---|---|---|");
foreach (var row in rows)
    Console.WriteLine(row);
return 0;

static async Task<(double PerSecond, double P50)> Measure(int requests, int clients, Func<int, Task<float>> score)
{
    var latencies = new double[requests];
    int next = -1;
    var clock = Stopwatch.StartNew();
    await Task.WhenAll(Enumerable.Range(0, clients).Select(_ => Task.Run(async () =>
    {
        for (int i = Interlocked.Increment(ref next); i < requests; i = Interlocked.Increment(ref next))
        {
            var t = Stopwatch.StartNew();
            await score(i);
            latencies[i] = t.Elapsed.TotalMilliseconds;
        }
    })));
    clock.Stop();
    Array.Sort(latencies);
    return (requests / clock.Elapsed.TotalSeconds, latencies[requests / 2]);
}

static string Load() => File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "?";

static string Root()
{
    for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        if (File.Exists(Path.Combine(dir.FullName, "Rkde.MLNet.sln")))
            return dir.FullName;
    throw new InvalidOperationException("Run the bench from the repository (it reads assets/demo).");
}

static string Fail(string message)
{
    Console.Error.WriteLine($"rkde-orleans-bench: {message}");
    Environment.Exit(2);
    return "";
}

/// <summary>"--name value" pairs.</summary>
internal sealed class Args(Dictionary<string, string> values)
{
    public static Args Parse(string[] args)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        for (int i = 0; i + 1 < args.Length; i += 2)
        {
            if (!args[i].StartsWith("--", StringComparison.Ordinal))
                throw new ArgumentException($"Expected an option at '{args[i]}'.");
            values[args[i][2..]] = args[i + 1];
        }
        return new Args(values);
    }

    public string? Get(string name) => values.GetValueOrDefault(name);

    public int Int(string name, int fallback) => values.TryGetValue(name, out var v) ? int.Parse(v, CultureInfo.InvariantCulture) : fallback;
}
