using System.Reflection;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Rkde.Cli.Serve;

/// <summary>
/// The <c>rkde serve</c> web application: Kestrel on the configured addresses (loopback by default), the endpoints,
/// and the safety around them. Endpoints: <c>GET /</c> the page (and its script and style), <c>GET /health</c>,
/// <c>GET /metrics</c>, <c>POST /score</c>, <c>POST /normal</c> (with <c>--allow-normal</c>). Every error answer is JSON, including those routing makes (404, 405).
/// </summary>
internal static class ServeApp
{
    /// <summary>The header that carries the API key (<c>Authorization: Bearer KEY</c> works too).</summary>
    public const string ApiKeyHeader = "X-Api-Key";

    /// <summary>
    /// Loads the model and builds the application; <paramref name="configure"/> may change the builder before it is
    /// built (the tests put an in-memory server in Kestrel's place). Throws <see cref="CliException"/> for a bad model.
    /// </summary>
    public static WebApplication Build(ServeOptions options, TextWriter log, Action<WebApplicationBuilder>? configure = null)
    {
        options.Validate();
        var model = ServedModel.Load(options.ModelPath, options.Workers);
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [], ContentRootPath = AppContext.BaseDirectory });
        builder.Logging.ClearProviders();
        builder.Logging.AddSimpleConsole(o => o.SingleLine = true).SetMinimumLevel(LogLevel.Warning);
        builder.WebHost.UseUrls(options.Urls);
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.AddServerHeader = false;
            k.Limits.MaxRequestBodySize = options.MaxBodyBytes;
        });
        builder.Services.AddSingleton(options);
        builder.Services.AddSingleton(log);
        builder.Services.AddSingleton(new ModelHolder<ServedModel>(model));
        builder.Services.AddSingleton(new ScoringGate(options.Workers, options.Queue));
        // Made now, so that uptime and images/s count from the start.
        builder.Services.AddSingleton(new ServeMetrics());
        if (options.ClusterPostgres is not null)
            builder.Services.AddSingleton(ConnectCluster(options));
        builder.Services.AddSingleton<ScoreEndpoint>();
        builder.Services.AddSingleton<NormalEndpoint>();
        builder.Services.AddSingleton<ModelReloader>();
        builder.Services.AddHostedService(s => s.GetRequiredService<ModelReloader>());
        configure?.Invoke(builder);

        var app = builder.Build();
        app.Use(SecurityHeaders);
        app.Use(RequireKey);
        app.UseExceptionHandler(new ExceptionHandlerOptions
        {
            ExceptionHandler = async context => await ServeJson.Error(context, 500, "The server failed on this request; see its log."),
        });
        app.UseStatusCodePages(async status =>
        {
            var context = status.HttpContext;
            string message = context.Response.StatusCode switch
            {
                404 => $"There is nothing at {context.Request.Path}; the endpoints are GET /, GET /health, GET /metrics, POST /score" +
                       (options.ClusterPostgres is null ? " and POST /normal." : ", POST /normal, POST /cameras/{id}/score and POST /cameras/{id}/normal."),
                405 => $"{context.Request.Method} is not allowed on {context.Request.Path}; use {context.Response.Headers.Allow}.",
                int code => $"The request failed with status {code}.",
            };
            await ServeJson.Error(context, context.Response.StatusCode, message);
        });

        app.MapGet("/", (HttpContext c) => Page(c, "index.html", "text/html; charset=utf-8"));
        app.MapGet("/page.js", (HttpContext c) => Page(c, "page.js", "text/javascript; charset=utf-8"));
        app.MapGet("/page.css", (HttpContext c) => Page(c, "page.css", "text/css; charset=utf-8"));
        // Browsers ask for an icon; an empty answer keeps their consoles free of 404s.
        app.MapGet("/favicon.ico", () => Results.NoContent());
        app.MapGet("/health", Health);
        app.MapGet("/metrics", Metrics);
        app.MapPost("/score", (HttpContext c, ScoreEndpoint score) => score.Handle(c));
        app.MapPost("/normal", (HttpContext c, NormalEndpoint normal) => normal.Handle(c));
        if (options.ClusterPostgres is not null)
        {
            app.MapPost("/cameras/{id}/score", (HttpContext c, string id, ScoreEndpoint score) => score.Handle(c, id));
            app.MapPost("/cameras/{id}/normal", (HttpContext c, string id, NormalEndpoint normal) => normal.Handle(c, id));
        }
        return app;
    }

    /// <summary>Connects to the R-KDE Orleans cluster that <c>--cluster</c> names; a database that cannot be reached, or no silo with those ids, is a CLI error.</summary>
    private static Rkde.Orleans.RkdeCluster ConnectCluster(ServeOptions options)
    {
        var settings = new Rkde.Orleans.RkdeClusterSettings
        {
            PostgresConnectionString = options.ClusterPostgres!,
            ClusterId = options.ClusterId,
            ServiceId = options.ServiceId,
            // Within the request timeout: a retry past it would answer nobody.
            RetryFor = options.Timeout,
        };
        try
        {
            return Rkde.Orleans.RkdeCluster.ConnectAsync(settings).GetAwaiter().GetResult();
        }
        catch (Exception e) when (e is Rkde.Orleans.ModelStoreUnavailableException or TimeoutException or ArgumentException or global::Orleans.Runtime.OrleansException)
        {
            throw new CliException($"--cluster: cannot connect to cluster '{options.ClusterId}': {e.Message.ReplaceLineEndings(" ").Trim()}");
        }
    }

    /// <summary>Headers on every answer: no sniffing of our content types, no framing, the page's resources from this server only.</summary>
    private static Task SecurityHeaders(HttpContext context, RequestDelegate next)
    {
        var headers = context.Response.Headers;
        headers.XContentTypeOptions = "nosniff";
        headers.XFrameOptions = "DENY";
        headers["Referrer-Policy"] = "no-referrer";
        headers.ContentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";
        headers.CacheControl = "no-store";
        return next(context);
    }

    /// <summary>The paths anyone may fetch when an API key is set: the page (it holds no data) and the health check.</summary>
    private static readonly HashSet<string> OpenPaths = ["/", "/page.js", "/page.css", "/favicon.ico", "/health"];

    /// <summary>With an API key set, 401 for any other path unless the request carries the key.</summary>
    private static async Task RequireKey(HttpContext context, RequestDelegate next)
    {
        string? expected = context.RequestServices.GetRequiredService<ServeOptions>().ApiKey;
        if (expected is null || OpenPaths.Contains(context.Request.Path.Value ?? ""))
        {
            await next(context);
            return;
        }
        string? given = context.Request.Headers[ApiKeyHeader].FirstOrDefault();
        string authorization = context.Request.Headers.Authorization.FirstOrDefault() ?? "";
        if (given is null && authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
            given = authorization["Bearer ".Length..].Trim();
        if (given is not null && SameKey(given, expected))
        {
            await next(context);
            return;
        }
        context.Response.Headers.WWWAuthenticate = "Bearer";
        await ServeJson.Error(context, 401, given is null
            ? $"This server needs an API key: send it in the {ApiKeyHeader} header (or Authorization: Bearer KEY)."
            : "The API key in the request is wrong; send the key the server was started with (--api-key).");
        if (context.Request.Path == "/score")
            context.RequestServices.GetRequiredService<ServeMetrics>().Record(401, TimeSpan.Zero);
    }

    /// <summary>Compares hashes, so the time taken says nothing about the key or its length.</summary>
    private static bool SameKey(string given, string expected) =>
        CryptographicOperations.FixedTimeEquals(SHA256.HashData(Encoding.UTF8.GetBytes(given)), SHA256.HashData(Encoding.UTF8.GetBytes(expected)));

    private static Task Health(HttpContext context)
    {
        var services = context.RequestServices;
        var options = services.GetRequiredService<ServeOptions>();
        var models = services.GetRequiredService<ModelHolder<ServedModel>>();
        var reloader = services.GetRequiredService<ModelReloader>();
        var current = models.Current;
        return ServeJson.Write(context, 200, w =>
        {
            w.WriteStartObject();
            w.WriteString("status", "ok");
            // The file name only: the server's folders are nobody's business.
            w.WriteString("model", Path.GetFileName(current.Path));
            w.WriteNumber("modelVersion", models.Version);
            w.WriteString("modelLoadedAt", current.LoadedAt);
            if (reloader.LastError is { } error)
                w.WriteString("reloadError", error.Replace(current.Path, Path.GetFileName(current.Path), StringComparison.Ordinal));
            else
                w.WriteNull("reloadError");
            if (options.ThresholdFor(current.Threshold) is float t)
                w.WriteNumber("threshold", t);
            else
                w.WriteNull("threshold");
            w.WriteBoolean("apiKeyRequired", options.ApiKey is not null);
            w.WriteNumber("maxBodyBytes", options.MaxBodyBytes);
            w.WriteNumber("maxPixels", options.MaxPixels);
            w.WriteEndObject();
        });
    }

    private static Task Metrics(HttpContext context)
    {
        var services = context.RequestServices;
        var m = services.GetRequiredService<ServeMetrics>().Snapshot();
        var gate = services.GetRequiredService<ScoringGate>();
        var models = services.GetRequiredService<ModelHolder<ServedModel>>();
        var reloader = services.GetRequiredService<ModelReloader>();
        return ServeJson.Write(context, 200, w =>
        {
            w.WriteStartObject();
            w.WriteNumber("requests", m.Requests);
            w.WriteNumber("scored", m.Scored);
            w.WriteNumber("errors", m.Errors);
            w.WriteNumber("clientErrors", m.ClientErrors);
            w.WriteNumber("serverErrors", m.ServerErrors);
            w.WriteNumber("rejected", m.Rejected);
            w.WriteNumber("timeouts", m.Timeouts);
            WriteNullable(w, "latencyP50Ms", m.LatencyP50Ms);
            WriteNullable(w, "latencyP99Ms", m.LatencyP99Ms);
            w.WriteNumber("latencySamples", m.LatencySamples);
            w.WriteNumber("imagesPerSecond", Math.Round(m.ImagesPerSecond, 2));
            w.WriteNumber("scoring", gate.Scoring);
            w.WriteNumber("waiting", gate.Waiting);
            w.WriteNumber("workers", gate.Workers);
            w.WriteNumber("queue", gate.Queue);
            w.WriteNumber("modelVersion", models.Version);
            w.WriteNumber("modelSwaps", reloader.Swaps);
            w.WriteNumber("uptimeSeconds", Math.Round(m.UptimeSeconds, 1));
            w.WriteEndObject();
        });
    }

    private static void WriteNullable(System.Text.Json.Utf8JsonWriter w, string name, double? value)
    {
        if (value is double v)
            w.WriteNumber(name, Math.Round(v, 2));
        else
            w.WriteNull(name);
    }

    /// <summary>One of the page's files, embedded in the program (the server reads no file a client names).</summary>
    private static async Task Page(HttpContext context, string name, string contentType)
    {
        await using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream($"Rkde.Cli.Serve.Page.{name}")
                                 ?? throw new InvalidOperationException($"The page resource {name} is missing from the program.");
        context.Response.ContentType = contentType;
        context.Response.ContentLength = stream.Length;
        await stream.CopyToAsync(context.Response.Body, context.RequestAborted);
    }
}
