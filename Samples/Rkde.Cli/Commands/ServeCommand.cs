using System.CommandLine;
using System.Globalization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Rkde.Cli.Serve;

namespace Rkde.Cli.Commands;

/// <summary><c>rkde serve</c>: a scoring service with a web page, until Ctrl+C or SIGTERM.</summary>
internal static class ServeCommand
{
    /// <summary>The environment variable read for the API key when <c>--api-key</c> is not given (keeps it out of the process list).</summary>
    public const string ApiKeyVariable = "RKDE_API_KEY";

    public static Command Create(TextWriter output, TextWriter error)
    {
        var defaults = new ServeOptions { ModelPath = "" };
        var model = new Option<string>("--model") { Description = "A model saved by rkde fit. Replacing the file swaps the model in while requests go on.", Required = true };
        var urls = new Option<string>("--urls") { Description = $"Addresses to listen on, separated by ';'. Default {ServeOptions.DefaultUrls}: this machine only.", DefaultValueFactory = _ => ServeOptions.DefaultUrls };
        var apiKey = new Option<string?>("--api-key") { Description = $"Require this key (header {ServeApp.ApiKeyHeader} or Authorization: Bearer) on every request but the page and /health. Default: the {ApiKeyVariable} environment variable, else none." };
        var maxBody = new Option<long>("--max-body-bytes") { Description = "Largest request body accepted; larger gets 413.", DefaultValueFactory = _ => defaults.MaxBodyBytes };
        var maxPixels = new Option<long>("--max-pixels") { Description = "Most pixels an image's header may declare; more gets 400 before decoding.", DefaultValueFactory = _ => defaults.MaxPixels };
        var workers = new Option<int>("--workers") { Description = "Images scored at the same time, one prediction engine each. Default: the number of CPU cores.", DefaultValueFactory = _ => defaults.Workers };
        var queue = new Option<int>("--queue") { Description = "Requests that may wait for a worker; one more gets 503 with Retry-After.", DefaultValueFactory = _ => defaults.Queue };
        var timeout = new Option<double>("--timeout") { Description = "Seconds a request may take, upload, waiting and scoring together; longer gets 504 (408 while uploading).", DefaultValueFactory = _ => defaults.Timeout.TotalSeconds };
        var threshold = new Option<float?>("--threshold") { Description = "Decision threshold for \"isAnomaly\" (anomalous when the score reaches it). instead of the one the model was fitted with." };
        var allowNormal = new Option<bool>("--allow-normal") { Description = "Enable POST /normal: clients add normal images to the served model (an anomaly sent there is learned as normal)." };
        var normalOut = new Option<string?>("--normal-out") { Description = "With --allow-normal: save each model POST /normal updates here, atomically (may be --model itself). Default: keep it in memory only." };
        var noReload = new Option<bool>("--no-reload") { Description = "Keep the loaded model even when the file at --model is replaced." };
        var cluster = new Option<string?>("--cluster") { Description = "Connection string of an R-KDE Orleans cluster's PostgreSQL database: POST /cameras/{id}/score then scores with that camera's model on the cluster (and POST /cameras/{id}/normal updates it, with --allow-normal)." };
        var clusterId = new Option<string>("--cluster-id") { Description = "The cluster's Orleans cluster id.", DefaultValueFactory = _ => defaults.ClusterId };
        var serviceId = new Option<string>("--service-id") { Description = "The cluster's Orleans service id.", DefaultValueFactory = _ => defaults.ServiceId };
        var command = new Command("serve", "Serve a fitted model over HTTP: POST /score, GET /health, GET /metrics, POST /normal (with --allow-normal), and a page at GET / to score dropped images.")
        {
            model, urls, apiKey, maxBody, maxPixels, workers, queue, timeout, threshold, noReload, allowNormal, normalOut, cluster, clusterId, serviceId,
        };
        command.SetAction(parse => RkdeCli.Guard(error, () =>
        {
            double seconds = parse.GetValue(timeout);
            var options = new ServeOptions
            {
                ModelPath = parse.GetValue(model)!,
                Urls = parse.GetValue(urls)!,
                ApiKey = parse.GetValue(apiKey) ?? Environment.GetEnvironmentVariable(ApiKeyVariable),
                MaxBodyBytes = parse.GetValue(maxBody),
                MaxPixels = parse.GetValue(maxPixels),
                Workers = parse.GetValue(workers),
                Queue = parse.GetValue(queue),
                Timeout = seconds is > 0 and < 86400 ? TimeSpan.FromSeconds(seconds) : throw new CliException($"--timeout must be between 0 and 86400 seconds (got {seconds})."),
                Threshold = parse.GetValue(threshold),
                ReloadOnChange = !parse.GetValue(noReload),
                AllowNormal = parse.GetValue(allowNormal),
                NormalOut = parse.GetValue(normalOut),
                ClusterPostgres = parse.GetValue(cluster),
                ClusterId = parse.GetValue(clusterId)!,
                ServiceId = parse.GetValue(serviceId)!,
            };
            Run(options, output, error);
            return 0;
        }));
        return command;
    }

    /// <summary>Starts the server, says where it listens, and blocks until the process is told to stop.</summary>
    private static void Run(ServeOptions options, TextWriter output, TextWriter error)
    {
        if (!File.Exists(options.ModelPath))
            throw new CliException($"--model '{options.ModelPath}' does not exist; create one with rkde fit.");
        using var app = ServeApp.Build(options, error);
        app.Start();
        var addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses ?? [];
        var served = app.Services.GetRequiredService<ModelHolder<ServedModel>>().Current;
        string thresholdText = options.ThresholdFor(served.Threshold) is float t
            ? $"{t.ToString(CultureInfo.InvariantCulture)} ({(options.Threshold is null ? "the model's" : "--threshold")})"
            : "none (isAnomaly is null)";
        output.WriteLine($"rkde serve: listening on {string.Join(", ", addresses)}; model {options.ModelPath}; {options.Workers} worker(s), queue {options.Queue}; threshold {thresholdText}.");
        output.WriteLine($"rkde serve: page at {addresses.FirstOrDefault()}/ ; POST images to /score{(options.AllowNormal ? " and normal images to /normal" : "")}{(options.ClusterPostgres is null ? "" : $", or to /cameras/ID/score for cluster '{options.ClusterId}'")}. Ctrl+C stops.");
        var open = options.NonLoopbackUrls.ToList();
        if (open.Count > 0)
        {
            error.WriteLine($"rkde serve: warning: {string.Join(", ", open)} can be reached from other machines{(options.ApiKey is null ? " and no API key is set (--api-key)" : "")}; it is plain HTTP unless behind a TLS proxy.");
        }
        output.Flush();
        app.WaitForShutdown();
    }
}
