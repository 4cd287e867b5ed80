using System.Globalization;
using System.Net;
using System.Text.Json;
using Microsoft.Playwright;
using Rkde.Cli.Evaluate.Metrics;
using Rkde.Cli.Scoring;

namespace Rkde.Cli.Tests.Serve;

/// <summary>
/// The page in a real browser: Debian's Chromium (installed by scripts/install-chromium.sh), driven by Playwright,
/// against the server on Kestrel. Drops a demo image on the page, picks more with the file input, and checks what is
/// shown against the server's own answers: the score, the verdict, the boxes listed and the colour of the top box on
/// the canvas. Saves a screenshot (to RKDE_SCREENSHOT when set, as scripts/browser-test.sh does for the README).
/// </summary>
[TestClass]
public sealed class ServePageBrowserTests
{
    private const string Chromium = "/usr/bin/chromium";

    /// <summary>The flags for a headless Chromium in a container without a sandbox or network access.</summary>
    private static readonly string[] ChromiumFlags =
        ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run"];

    public TestContext TestContext { get; set; } = null!;

    [TestMethod]
    public async Task ThePageShowsTheScoreVerdictAndBoxesOfADroppedImage()
    {
        if (!File.Exists(Chromium))
        {
            if (Environment.GetEnvironmentVariable("CI") == "true")
                Assert.Fail($"{Chromium} is missing: .ci/run installs it with scripts/install-chromium.sh.");
            Assert.Inconclusive($"{Chromium} is missing; run scripts/install-chromium.sh (root) to run the browser test.");
        }
        string test = Path.Combine(TestData.DemoRoot, "test");
        string[] shown = ["sandal/000.jpg", "good/002.jpg", "bag/000.jpg", "good/007.jpg"];
        byte[][] images = shown.Select(s => File.ReadAllBytes(Path.Combine(test, s))).ToArray();

        // A threshold between the second and third highest scores, so that the page shows both verdicts.
        float[] scores;
        await using (var probe = await ServeFixture.StartAsync(ServeFixture.Options()))
            scores = await Task.WhenAll(images.Select(async i => (await ScoreAsync(probe.Client, i)).Score));
        float[] ranked = scores.OrderDescending().ToArray();
        float threshold = (float)Math.Round((ranked[1] + ranked[2]) / 2, 4);

        await using var server = await ServeFixture.StartKestrelAsync(ServeFixture.Options() with { Threshold = threshold });
        var expected = new List<ImageScore>();
        foreach (var image in images)
            expected.Add(await ScoreAsync(server.Client, image));

        using var playwright = await Playwright.CreateAsync();
        string profile = Directory.CreateTempSubdirectory("rkde-chromium-profile-").FullName;
        try
        {
            await ShowOnThePage(playwright, profile, server, shown, images, expected, threshold);
        }
        finally
        {
            Directory.Delete(profile, recursive: true);
        }
    }

    private async Task ShowOnThePage(IPlaywright playwright, string profile, RunningServer server, string[] shown, byte[][] images,
                                     List<ImageScore> expected, float threshold)
    {
        await using var context = await playwright.Chromium.LaunchPersistentContextAsync(profile, new BrowserTypeLaunchPersistentContextOptions
        {
            ExecutablePath = Chromium,
            Headless = true,
            ChromiumSandbox = false,
            Args = ChromiumFlags,
            ViewportSize = new ViewportSize { Width = 1280, Height = 980 },
        });
        var page = context.Pages.Count > 0 ? context.Pages[0] : await context.NewPageAsync();
        var consoleErrors = new List<string>();
        page.Console += (_, m) => { if (m.Type == "error") consoleErrors.Add(m.Text); };
        page.PageError += (_, e) => consoleErrors.Add(e);
        await page.GotoAsync(server.Client.BaseAddress!.ToString());
        await Assertions.Expect(page.Locator("#model")).ToContainTextAsync($"threshold {threshold.ToString(CultureInfo.InvariantCulture)}");

        // Drop the first image as a browser drop does: a drop event whose DataTransfer holds the file.
        var dataTransfer = await page.EvaluateHandleAsync("""
            ({ name, base64 }) => {
              const bytes = Uint8Array.from(atob(base64), c => c.charCodeAt(0));
              const transfer = new DataTransfer();
              transfer.items.add(new File([bytes], name, { type: "image/jpeg" }));
              return transfer;
            }
            """, new { name = Name(shown[0]), base64 = Convert.ToBase64String(images[0]) });
        await page.DispatchEventAsync("#drop", "drop", new { dataTransfer });
        await CheckCard(page, Name(shown[0]), expected[0], threshold);
        await CheckColours(page, shown.Take(1).Select(Name).ToArray(), expected.Take(1).ToArray(), threshold);

        // Pick the others with the file input, and a file that is no image.
        var picked = shown.Skip(1).Select((s, i) => new FilePayload { Name = Name(s), MimeType = "image/jpeg", Buffer = images[i + 1] }).ToList();
        picked.Add(new FilePayload { Name = "notes.png", MimeType = "image/png", Buffer = "shift report: all fine"u8.ToArray() });
        await page.SetInputFilesAsync("#files", picked);
        for (int i = 1; i < shown.Length; i++)
            await CheckCard(page, Name(shown[i]), expected[i], threshold);
        // The colour range widened with the new images, and every picture was redrawn in it.
        await CheckColours(page, shown.Select(Name).ToArray(), expected.ToArray(), threshold);
        var refused = Card(page, "notes.png");
        await Assertions.Expect(refused).ToHaveAttributeAsync("data-status", "error");
        await Assertions.Expect(refused.Locator(".error")).ToContainTextAsync("not an image");
        Assert.AreEqual(2, expected.Count(e => e.IsAnomalyAt(threshold)));
        await Assertions.Expect(page.Locator("#summary")).ToHaveTextAsync("4 scored · 2 anomalous · 1 refused");
        // The browser logs the refusal of notes.png (415) as a failed load; nothing else may fail.
        var unexpected = consoleErrors.Where(e => !e.Contains("status of 415", StringComparison.Ordinal)).ToList();
        Assert.HasCount(0, unexpected, string.Join("\n", unexpected));

        string screenshot = Environment.GetEnvironmentVariable("RKDE_SCREENSHOT")
                            ?? Path.Combine(TestContext.TestRunResultsDirectory ?? TestData.TempFolder(), "serve-page.png");
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(screenshot))!);
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = screenshot, FullPage = true });
        TestContext.WriteLine($"screenshot: {screenshot}");
        Assert.IsTrue(new FileInfo(screenshot).Length > 10_000);
    }

    private static string Name(string relative) => relative.Replace('/', '_');

    private static ILocator Card(IPage page, string name) => page.Locator($".card[data-name=\"{name}\"]");

    /// <summary>The boxes the page draws: as the overlays, those at or above the threshold (at least the top one, at most 10).</summary>
    private static List<Detection> Drawn(ImageScore score, float threshold) =>
        score.Boxes.Where((b, i) => i == 0 || b.Score >= threshold).Take(Overlay.MaxBoxes).ToList();

    /// <summary>The card shows the server's score and verdict, and lists the boxes drawn.</summary>
    private static async Task CheckCard(IPage page, string name, ImageScore expected, float threshold)
    {
        var card = Card(page, name);
        await Assertions.Expect(card).ToHaveAttributeAsync("data-status", "scored", new() { Timeout = 120_000 });
        Assert.AreEqual(expected.Score, float.Parse((await card.GetAttributeAsync("data-score"))!, CultureInfo.InvariantCulture), name);
        await Assertions.Expect(card.Locator(".score")).ToHaveTextAsync($"score {expected.Score.ToString("0.0000", CultureInfo.InvariantCulture)}");
        await Assertions.Expect(card.Locator(".verdict")).ToHaveTextAsync(expected.IsAnomalyAt(threshold) ? "ANOMALOUS" : "normal");

        var drawn = Drawn(expected, threshold);
        var items = card.Locator(".boxes li");
        await Assertions.Expect(items).ToHaveCountAsync(drawn.Count);
        for (int i = 0; i < drawn.Count; i++)
        {
            float[] box = (await items.Nth(i).GetAttributeAsync("data-box"))!.Split(',').Select(v => float.Parse(v, CultureInfo.InvariantCulture)).ToArray();
            var d = drawn[i].Box;
            CollectionAssert.AreEqual(new[] { Round(d.X1), Round(d.Y1), Round(d.X2), Round(d.Y2) }, box, $"{name} box {i}");
            Assert.AreEqual(drawn[i].Score, float.Parse((await items.Nth(i).GetAttributeAsync("data-score"))!, CultureInfo.InvariantCulture));
        }
    }

    /// <summary>
    /// Each picture's top box (drawn last, so on top) has the colour of its score on the page's scale: from green at the
    /// lowest box score drawn on the page, through yellow at the threshold, to red at the highest. Read from the canvas
    /// at the middle of the box's lower edge.
    /// </summary>
    private static async Task CheckColours(IPage page, string[] names, ImageScore[] expected, float threshold)
    {
        var scores = expected.SelectMany(e => Drawn(e, threshold)).Select(d => (double)d.Score).Append(threshold).ToList();
        double low = scores.Min(), high = scores.Max(), t = threshold;
        for (int i = 0; i < names.Length; i++)
        {
            var canvas = Card(page, names[i]).Locator("canvas");
            float[] range = (await canvas.GetAttributeAsync("data-colour-range"))!.Split(',').Select(v => float.Parse(v, CultureInfo.InvariantCulture)).ToArray();
            CollectionAssert.AreEqual(new[] { (float)low, (float)high }, range, names[i]);
            var top = Drawn(expected[i], threshold)[0];
            double s = top.Score;
            double position = s < t ? (t > low ? 0.5 * (s - low) / (t - low) : 0) : (high > t ? 0.5 + 0.5 * (s - t) / (high - t) : 0.5);
            var colour = Overlay.ColourFor((float)position);
            int x = (int)((top.Box.X1 + top.Box.X2) / 2), y = (int)Math.Floor(top.Box.Y2) - 1;
            int[] pixel = await canvas.EvaluateAsync<int[]>("(canvas, [x, y]) => Array.from(canvas.getContext('2d').getImageData(x, y, 1, 1).data)", new[] { x, y });
            int[] want = [colour.Red, colour.Green, colour.Blue];
            Assert.IsTrue(want.Zip(pixel).All(p => Math.Abs(p.First - p.Second) <= 3),
                $"{names[i]}: pixel ({x}, {y}) is {string.Join(",", pixel)}, want {string.Join(",", want)} (score {s}, scale {low}–{high}, threshold {t})");
        }
    }

    private static float Round(float v) => (float)Math.Round((double)v, 2);

    private static async Task<ImageScore> ScoreAsync(HttpClient client, byte[] image)
    {
        var response = await client.PostAsync("/score", new ByteArrayContent(image));
        string body = await response.Content.ReadAsStringAsync();
        Assert.AreEqual(HttpStatusCode.OK, response.StatusCode, body);
        // An answer parses as a rkde score line (its boxes are the same JSON), given the image field the line carries.
        using var json = JsonDocument.Parse(body);
        return ResultLine.Parse($$"""{"image":"","score":{{json.RootElement.GetProperty("score").GetRawText()}},"boxes":{{json.RootElement.GetProperty("boxes").GetRawText()}}}""").Result!;
    }
}
