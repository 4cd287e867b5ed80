using System.Diagnostics;
using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Rkde.Cli.Tests.Serve;

/// <summary><c>rkde serve</c> as a user runs it: its options, its one-line errors, and a real process that serves and stops cleanly.</summary>
[TestClass]
public sealed partial class ServeCommandTests
{
    [TestMethod]
    public void HelpListsEveryOption()
    {
        var r = CliRunner.Run("serve", "--help");
        Assert.AreEqual(0, r.Code, r.Err);
        foreach (string option in new[] { "--model", "--urls", "--api-key", "--max-body-bytes", "--max-pixels", "--workers", "--queue", "--timeout", "--threshold", "--no-reload", "--allow-normal", "--normal-out", "--cluster", "--cluster-id", "--service-id" })
            StringAssert.Contains(r.Out, option);
        StringAssert.Contains(r.Out, "http://127.0.0.1:8080");
        StringAssert.Contains(CliRunner.Run("--help").Out, "serve");
    }

    [TestMethod]
    public void BadArgumentsEndWithOneLine()
    {
        string folder = TestData.TempFolder();
        File.WriteAllText(Path.Combine(folder, "m.zip"), "not a model");
        CliRunner.AssertOneLineError(CliRunner.Run("serve"), "--model");
        CliRunner.AssertOneLineError(CliRunner.Run("serve", "--model", "/no/model.zip"), "--model '/no/model.zip' does not exist");
        CliRunner.AssertOneLineError(CliRunner.Run("serve", "--model", Path.Combine(folder, "m.zip")), "--model could not be loaded");
        CliRunner.AssertOneLineError(CliRunner.Run("serve", "--model", ServeFixture.ModelA, "--max-pixels", "0"), "--max-pixels must be at least 1");
        CliRunner.AssertOneLineError(CliRunner.Run("serve", "--model", ServeFixture.ModelA, "--workers", "0"), "--workers must be at least 1");
        CliRunner.AssertOneLineError(CliRunner.Run("serve", "--model", ServeFixture.ModelA, "--queue", "-1"), "--queue must be 0 or more");
        CliRunner.AssertOneLineError(CliRunner.Run("serve", "--model", ServeFixture.ModelA, "--timeout", "0"), "--timeout must be between");
        CliRunner.AssertOneLineError(CliRunner.Run("serve", "--model", ServeFixture.ModelA, "--urls", "ftp://127.0.0.1:21"), "--urls: 'ftp://127.0.0.1:21' is not an http");
        CliRunner.AssertOneLineError(CliRunner.Run("serve", "--model", ServeFixture.ModelA, "--api-key", ""), "--api-key is empty");
        CliRunner.AssertOneLineError(CliRunner.Run("serve", "--model", ServeFixture.ModelA, "--max-body-bytes", "lots"), "lots");
    }

    [GeneratedRegex(@"listening on (http://127\.0\.0\.1:\d+)")]
    private static partial Regex Listening();

    [TestMethod]
    public async Task TheServeProcessAnswersAndStopsCleanlyOnSigterm()
    {
        string rkde = Path.Combine(AppContext.BaseDirectory, "rkde.dll");
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string arg in new[] { rkde, "serve", "--model", ServeFixture.ModelA, "--urls", "http://127.0.0.1:0", "--threshold", "0.2" })
            start.ArgumentList.Add(arg);
        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        try
        {
            string? line, address = null;
            var output = new List<string>();
            while (address is null && (line = await process.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromMinutes(3))) is not null)
            {
                output.Add(line);
                address = Listening().Match(line) is { Success: true } m ? m.Groups[1].Value : null;
            }
            if (address is null)
                Assert.Fail(string.Join("\n", output) + await stderr);
            using var client = new HttpClient { BaseAddress = new Uri(address) };
            using var health = JsonDocument.Parse(await client.GetStringAsync("/health"));
            Assert.AreEqual(0.2f, health.RootElement.GetProperty("threshold").GetSingle());
            var scored = await client.PostAsync("/score", new ByteArrayContent(File.ReadAllBytes(ServeFixture.DemoTestImages[0])));
            Assert.AreEqual(HttpStatusCode.OK, scored.StatusCode, await scored.Content.ReadAsStringAsync());

            using (var kill = Process.Start("kill", ["-TERM", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
                await kill.WaitForExitAsync();
            await process.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(1));
            string errors = await stderr;
            Assert.AreEqual(0, process.ExitCode, errors);
            Assert.AreEqual("", errors, "nothing on stderr for a clean run");
        }
        finally
        {
            if (!process.HasExited)
                process.Kill();
        }
    }
}
