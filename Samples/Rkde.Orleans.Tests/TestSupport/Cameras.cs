namespace Rkde.Orleans.Tests.TestSupport;

/// <summary>Small camera models for the cluster tests: a few demo scenes at a small input, so a fit takes seconds.</summary>
internal static class Cameras
{
    public static readonly CameraFitSettings Small = new() { ImageWidth = 96, ImageHeight = 64, PcaComponents = 4 };

    private static readonly Lazy<byte[][]> Train = new(Repo.DemoTrain);

    /// <summary>Camera <paramref name="i"/>'s normal images: five demo scenes starting at its own offset, so cameras' models differ.</summary>
    public static byte[][] Images(int i, int count = 5) =>
        Enumerable.Range(0, count).Select(k => Train.Value[(i * 2 + k) % Train.Value.Length]).ToArray();

    public static string Id(int i) => $"cam-{i:D2}";

    /// <summary>Fits cameras 0 … count-1, at most <paramref name="parallel"/> at once.</summary>
    public static async Task FitAsync(RkdeCluster cluster, int count, int parallel = 3)
    {
        using var gate = new SemaphoreSlim(parallel);
        await Task.WhenAll(Enumerable.Range(0, count).Select(async i =>
        {
            await gate.WaitAsync();
            try
            {
                var info = await cluster.FitAsync(Id(i), Images(i), Small);
                Assert.AreEqual(1, info.Version, $"{Id(i)} fitted once");
            }
            finally
            {
                gate.Release();
            }
        }));
    }

    /// <summary>
    /// Scores the image until <paramref name="silos"/> different silos have scored it (the client finds the gateways of
    /// silos that joined after it connected at its next gateway-list refresh), or a minute has passed; returns every score.
    /// </summary>
    public static async Task<List<CameraScore>> ScoreOnEverySilo(RkdeCluster cluster, string camera, byte[] image, int silos)
    {
        var scores = new List<CameraScore>();
        var deadline = DateTime.UtcNow.AddMinutes(1);
        while (scores.Select(s => s.Silo).Distinct().Count() < silos && DateTime.UtcNow < deadline)
        {
            scores.Add(await cluster.ScoreAsync(camera, image));
            await Task.Delay(50);
        }
        return scores;
    }

    /// <summary>Whether two scores of the same image are the same: the score and every box, bit for bit.</summary>
    public static bool Same(CameraScore a, CameraScore b) => a.Score.Equals(b.Score) && a.Boxes.AsSpan().SequenceEqual(b.Boxes);
}
