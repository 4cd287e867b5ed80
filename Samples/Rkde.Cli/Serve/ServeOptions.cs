namespace Rkde.Cli.Serve;

/// <summary>
/// The settings of <c>rkde serve</c>. The defaults suit one camera or line on one machine: loopback only, uploads of
/// a photograph's size, and a queue that absorbs a burst of a few seconds rather than letting latency grow without bound.
/// </summary>
internal sealed record ServeOptions
{
    /// <summary>The model .zip to serve; replacing the file swaps the model unless <see cref="ReloadOnChange"/> is off.</summary>
    public required string ModelPath { get; init; }

    /// <summary>Where Kestrel listens, separated by ';'. Loopback unless the operator names another address.</summary>
    public string Urls { get; init; } = DefaultUrls;

    /// <summary>When set, every request except the page and <c>/health</c> must carry it (X-Api-Key or Authorization: Bearer).</summary>
    public string? ApiKey { get; init; }

    /// <summary>The largest request body accepted (the image, or the whole multipart form); larger gets 413.</summary>
    public long MaxBodyBytes { get; init; } = 16L << 20;

    /// <summary>The most pixels an image's header may declare; more gets 400 before anything is decoded.</summary>
    public long MaxPixels { get; init; } = 1L << 24;

    /// <summary>Images scored at the same time, each on its own prediction engine.</summary>
    public int Workers { get; init; } = Environment.ProcessorCount;

    /// <summary>Requests that may wait for a worker; one more gets 503 with Retry-After.</summary>
    public int Queue { get; init; } = 16;

    /// <summary>The longest a request may take, upload, queue and scoring together; longer gets 504.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>The decision threshold behind <c>isAnomaly</c>, overriding the model's own; without either, <c>isAnomaly</c> and <c>threshold</c> are null.</summary>
    public float? Threshold { get; init; }

    /// <summary>The threshold in effect for a model whose own is <paramref name="modelThreshold"/>: <see cref="Threshold"/>, else the model's.</summary>
    public float? ThresholdFor(float? modelThreshold) => Threshold ?? modelThreshold;

    /// <summary>Whether <c>POST /normal</c> may add images to the served model; off, it answers 403.</summary>
    public bool AllowNormal { get; init; }

    /// <summary>Where <c>POST /normal</c> saves each updated model (atomically; may be <see cref="ModelPath"/>); null: kept in memory only.</summary>
    public string? NormalOut { get; init; }

    /// <summary>Whether a new file at <see cref="ModelPath"/> is loaded and swapped in while requests go on.</summary>
    public bool ReloadOnChange { get; init; } = true;

    /// <summary>
    /// Npgsql connection string of an R-KDE Orleans cluster's database (Samples/Rkde.Orleans); with it,
    /// <c>POST /cameras/{id}/score</c> scores with camera id's model on the cluster. Null: no such route.
    /// </summary>
    public string? ClusterPostgres { get; init; }

    /// <summary>The cluster's Orleans cluster id (<c>--cluster-id</c>), as its silos were started with.</summary>
    public string ClusterId { get; init; } = "rkde";

    /// <summary>The cluster's Orleans service id (<c>--service-id</c>).</summary>
    public string ServiceId { get; init; } = "rkde";

    public const string DefaultUrls = "http://127.0.0.1:8080";

    /// <summary>Throws <see cref="CliException"/> naming the option when a value cannot work.</summary>
    public void Validate()
    {
        if (MaxBodyBytes < 1)
            throw new CliException($"--max-body-bytes must be at least 1 (got {MaxBodyBytes}).");
        if (MaxPixels < 1)
            throw new CliException($"--max-pixels must be at least 1 (got {MaxPixels}).");
        if (Workers < 1)
            throw new CliException($"--workers must be at least 1 (got {Workers}).");
        if (Queue < 0)
            throw new CliException($"--queue must be 0 or more (got {Queue}).");
        if (Timeout <= TimeSpan.Zero)
            throw new CliException($"--timeout must be more than 0 seconds (got {Timeout.TotalSeconds}).");
        if (Threshold is float t && !float.IsFinite(t))
            throw new CliException($"--threshold must be a finite number (got {t}).");
        if (NormalOut is not null && !AllowNormal)
            throw new CliException("--normal-out saves what POST /normal learns; give --allow-normal too, or leave --normal-out out.");
        if (NormalOut is { Length: 0 })
            throw new CliException("--normal-out is empty; give a file path for the updated model, or leave the option out.");
        if (ApiKey is { Length: 0 })
            throw new CliException("--api-key is empty; give a secret or leave the option out.");
        if (UrlList.Count == 0)
            throw new CliException($"--urls is empty; give an address such as {DefaultUrls}.");
        foreach (string url in UrlList)
        {
            if (Parse(url) is not { Scheme: "http" or "https" })
                throw new CliException($"--urls: '{url}' is not an http:// or https:// address such as {DefaultUrls}.");
        }
    }

    /// <summary>The addresses of <see cref="Urls"/>.</summary>
    public IReadOnlyList<string> UrlList => Urls.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    /// <summary>The addresses that other machines can reach: anything but localhost and loopback IPs.</summary>
    public IEnumerable<string> NonLoopbackUrls => UrlList.Where(u =>
    {
        string host = Parse(u)?.Host.Trim('[', ']') ?? "*";
        return !(host.Equals("localhost", StringComparison.OrdinalIgnoreCase)
                 || (System.Net.IPAddress.TryParse(host, out var ip) && System.Net.IPAddress.IsLoopback(ip)));
    });

    /// <summary>An address as a URI, Kestrel's wildcard hosts ("*", "+": every interface) read as 0.0.0.0.</summary>
    private static Uri? Parse(string url) =>
        Uri.TryCreate(url.Replace("://*", "://0.0.0.0", StringComparison.Ordinal).Replace("://+", "://0.0.0.0", StringComparison.Ordinal),
                      UriKind.Absolute, out var uri) ? uri : null;
}
