using System.Diagnostics;

namespace Rkde.Orleans.Tests;

/// <summary>Errors of the input cross the cluster as they are, at once: they are not retried like a silo failure.</summary>
[TestClass]
public sealed class BadInputTests
{
    [TestMethod]
    [Timeout(600_000, CooperativeCancellation = true)]
    public async Task ACameraWithoutAModelAndBytesThatAreNoImageFailAtOnceNamingTheCamera()
    {
        await using var cluster = await ProcessCluster.StartAsync(1, retryFor: TimeSpan.FromMinutes(1));
        var client = cluster.Client;
        var probe = Repo.DemoTest()[^1];

        var clock = Stopwatch.StartNew();
        var notFitted = await Assert.ThrowsExactlyAsync<CameraNotFittedException>(() => client.ScoreAsync("cam-new", probe));
        Assert.AreEqual("cam-new", notFitted.CameraId);
        StringAssert.Contains(notFitted.Message, "fit one with its normal images first");
        var notUpdated = await Assert.ThrowsExactlyAsync<CameraNotFittedException>(() => client.UpdateAsync("cam-new", [probe]));
        Assert.AreEqual("cam-new", notUpdated.CameraId);

        await client.FitAsync("cam-bad", Cameras.Images(0), Cameras.Small);
        var text = await Assert.ThrowsExactlyAsync<ArgumentException>(() => client.ScoreAsync("cam-bad", "not an image"u8.ToArray()));
        StringAssert.Contains(text.Message, "camera 'cam-bad'");
        var truncated = await Assert.ThrowsExactlyAsync<ArgumentException>(() => client.ScoreAsync("cam-bad", probe[..40]));
        StringAssert.Contains(truncated.Message, "camera 'cam-bad'");
        // A header and the start of the data: ML.NET's decoder would fill the rest in and score it.
        var cut = await Assert.ThrowsExactlyAsync<ArgumentException>(() => client.ScoreAsync("cam-bad", probe[..(probe.Length / 2)]));
        StringAssert.Contains(cut.Message, "truncated");
        Assert.AreEqual(0, client.Retries, "input errors are not retried");

        var settings = Cameras.Small with { PcaComponents = 0 };
        var invalid = await Assert.ThrowsExactlyAsync<ArgumentOutOfRangeException>(() => client.FitAsync("cam-bad", Cameras.Images(1), settings));
        StringAssert.Contains(invalid.Message, "PcaComponents");
        Assert.AreEqual(1, (await client.GetInfoAsync("cam-bad"))!.Version, "a refused fit leaves the camera's model as it was");
        Assert.IsTrue(clock.Elapsed < TimeSpan.FromMinutes(1), "no input error waited for the retry budget");
    }
}
