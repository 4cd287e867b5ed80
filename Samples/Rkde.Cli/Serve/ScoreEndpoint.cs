using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Rkde.Cli.Evaluate.Metrics;
using Rkde.Cli.Scoring;

namespace Rkde.Cli.Serve;

/// <summary>
/// <c>POST /score</c>: admission (503 when full), the upload read into memory within the body limit (413), the
/// header checked (415, 400), a worker waited for, then the full decode and the score on the model current at that
/// moment, all within the request timeout (504). The answer is
/// <c>{"score", "isAnomaly", "threshold", "boxes": [[x1, y1, x2, y2, s], …]}</c>, boxes as in a <c>rkde score</c> line; the
/// threshold is --threshold, else the scoring model's own.
/// </summary>
/// <remarks>
/// With <c>--cluster</c>, <c>POST /cameras/{id}/score</c> goes through the same admission, upload limits and header
/// check, then scores on the R-KDE Orleans cluster with camera id's model instead of the local one.
/// </remarks>
internal sealed class ScoreEndpoint(ServeOptions options, ModelHolder<ServedModel> models, ScoringGate gate, ServeMetrics metrics,
    Rkde.Orleans.RkdeCluster? cluster = null)
{
    /// <summary>The response header that names the version of the model that scored the image (1, then one more per swap).</summary>
    public const string ModelVersionHeader = "X-Rkde-Model-Version";

    public async Task Handle(HttpContext context, string? camera = null)
    {
        long started = Stopwatch.GetTimestamp();
        int status = 500;
        try
        {
            status = await Score(context, camera);
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            // The client went away; nobody reads an answer.
            status = 499;
        }
        catch (Exception e) when (!context.Response.HasStarted)
        {
            status = await ServeJson.Error(context, 500, $"Scoring failed: {e.GetType().Name}: {e.Message.ReplaceLineEndings(" ").Trim()}");
        }
        finally
        {
            metrics.Record(status, Stopwatch.GetElapsedTime(started));
        }
    }

    private async Task<int> Score(HttpContext context, string? camera)
    {
        var admission = gate.Admit();
        if (!admission.IsAcquired)
        {
            admission.Dispose();
            return await Busy(context);
        }
        // The leases pass to the scoring task once it starts, so that a request that times out still holds its worker
        // until the engine it runs on is free again.
        bool handedOver = false;
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted);
            timeout.CancelAfter(options.Timeout);
            byte[]? bytes;
            int readStatus;
            string? readError;
            try
            {
                (bytes, readStatus, readError) = await UploadReader.ReadAsync(context.Request, options.MaxBodyBytes, timeout.Token);
            }
            catch (OperationCanceledException) when (!context.RequestAborted.IsCancellationRequested)
            {
                return await ServeJson.Error(context, 408, $"The upload did not arrive within the request timeout of {Seconds(options.Timeout)} (--timeout).");
            }
            if (bytes is null)
                return await ServeJson.Error(context, readStatus, readError!);
            var inspected = UploadCheck.Inspect(bytes, options.MaxPixels);
            if (!inspected.IsAccepted)
                return await ServeJson.Error(context, inspected.Status, inspected.Error!);
            if (camera is not null)
                return await ScoreOnCluster(context, camera, bytes, timeout.Token);

            Task<(UploadVerdict Verdict, ImageScore? Result, int Version, float? Threshold)> work;
            try
            {
                var worker = await gate.WaitForWorkerAsync(timeout.Token);
                if (!worker.IsAcquired)
                {
                    worker.Dispose();
                    return await Busy(context);
                }
                handedOver = true;
                work = Task.Run(() =>
                {
                    try
                    {
                        var decoded = UploadCheck.Decode(bytes, inspected);
                        if (!decoded.IsAccepted)
                            return (decoded, (ImageScore?)null, 0, (float?)null);
                        using var lease = models.Acquire();
                        return (decoded, lease.Model.Score(bytes), lease.Version, options.ThresholdFor(lease.Model.Threshold));
                    }
                    finally
                    {
                        worker.Dispose();
                        admission.Dispose();
                    }
                }, CancellationToken.None);
                var (verdict, result, version, threshold) = await work.WaitAsync(timeout.Token);
                if (result is null)
                    return await ServeJson.Error(context, verdict.Status, verdict.Error!);
                context.Response.Headers[ModelVersionHeader] = version.ToString(CultureInfo.InvariantCulture);
                await ServeJson.Write(context, 200, w => WriteAnswer(w, result, threshold));
                return 200;
            }
            catch (OperationCanceledException) when (!context.RequestAborted.IsCancellationRequested)
            {
                return await ServeJson.Error(context, 504,
                    $"The image was not scored within the request timeout of {Seconds(options.Timeout)} (--timeout); the server is busy, try again later.");
            }
        }
        finally
        {
            if (!handedOver)
                admission.Dispose();
        }
    }

    /// <summary>
    /// Scores on the cluster (which decodes and scores there; the local workers stay free) within the request timeout:
    /// a camera without a model is 404, bytes the cluster cannot decode 400, its database down 503.
    /// </summary>
    private async Task<int> ScoreOnCluster(HttpContext context, string camera, byte[] bytes, CancellationToken timeout)
    {
        try
        {
            var s = await cluster!.ScoreAsync(camera, bytes, timeout).WaitAsync(timeout);
            var boxes = Enumerable.Range(0, s.Boxes.Length / 5)
                .Select(i => new Detection(new BoundingBox(s.Boxes[5 * i], s.Boxes[5 * i + 1], s.Boxes[5 * i + 2], s.Boxes[5 * i + 3]), s.Boxes[5 * i + 4]))
                .ToList();
            context.Response.Headers[ModelVersionHeader] = s.ModelVersion.ToString(CultureInfo.InvariantCulture);
            await ServeJson.Write(context, 200, w => WriteAnswer(w, new ImageScore(s.Score, boxes), options.ThresholdFor(s.Threshold)));
            return 200;
        }
        catch (Rkde.Orleans.CameraNotFittedException e)
        {
            return await ServeJson.Error(context, 404, e.Message);
        }
        catch (ArgumentException e)
        {
            return await ServeJson.Error(context, 400, e.Message);
        }
        catch (Rkde.Orleans.ModelStoreUnavailableException e)
        {
            context.Response.Headers.RetryAfter = "5";
            return await ServeJson.Error(context, 503, e.Message);
        }
        catch (Exception e) when (e is OperationCanceledException or TimeoutException && !context.RequestAborted.IsCancellationRequested)
        {
            return await ServeJson.Error(context, 504,
                $"Camera '{camera}' was not scored on the cluster within the request timeout of {Seconds(options.Timeout)} (--timeout); try again later.");
        }
    }

    /// <summary>The answer's JSON: score, verdict and threshold (null without one), boxes as <see cref="ResultLine"/> writes them.</summary>
    public static void WriteAnswer(Utf8JsonWriter w, ImageScore result, float? threshold)
    {
        w.WriteStartObject();
        w.WriteNumber("score", result.Score);
        if (threshold is float t)
        {
            w.WriteBoolean("isAnomaly", result.IsAnomalyAt(t));
            w.WriteNumber("threshold", t);
        }
        else
        {
            w.WriteNull("isAnomaly");
            w.WriteNull("threshold");
        }
        ResultLine.WriteBoxes(w, result.Boxes);
        w.WriteEndObject();
    }

    /// <summary>503 with Retry-After: the time the queue ahead takes to drain at the recent median latency, at least 1 s.</summary>
    private async Task<int> Busy(HttpContext context)
    {
        double medianMs = metrics.Snapshot().LatencyP50Ms ?? 1000;
        int seconds = (int)Math.Clamp(Math.Ceiling((gate.Waiting + gate.Workers) * medianMs / 1000 / gate.Workers), 1, 60);
        context.Response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
        return await ServeJson.Error(context, 503,
            $"The server is busy: {gate.Workers} image(s) scoring and {gate.Queue} waiting (--workers, --queue); retry after {seconds} s.");
    }

    private static string Seconds(TimeSpan t) => t.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture) + " s";
}
