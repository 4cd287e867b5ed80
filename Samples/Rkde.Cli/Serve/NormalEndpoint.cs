using System.Globalization;
using Microsoft.AspNetCore.Http;
using Microsoft.ML;
using Microsoft.ML.Data;
using Rkde.Cli.Scoring;
using Rkde.MLNet;
using SkiaSharp;
using Rkde.MLNet.Files;

namespace Rkde.Cli.Serve;

/// <summary>
/// <c>POST /normal</c> (only with <c>--allow-normal</c>; otherwise 403): adds the uploaded images, all normal, to the served
/// model with <see cref="RkdeModelCatalog.UpdateRkde"/> and swaps the updated model in through <see cref="ModelHolder{T}"/>,
/// so requests already scoring finish on the old model and none is dropped. The body is one image, or a multipart form with
/// one or more fields <c>image</c>; every image passes the checks <c>/score</c> makes before anything is learned, and a
/// refused upload leaves the model as it was. One update runs at a time. With <c>--normal-out</c> each updated model is
/// also saved there atomically; without it, it is kept in memory only, so a restart (or a new file at <c>--model</c>)
/// forgets what was learned. The answer: <c>{"imagesAdded", "regionsAdded", "regionsSeen", "trainingPoints",
/// "explainedVariance", "threshold", "modelVersion", "saved"}</c>.
/// </summary>
/// <remarks>
/// The model's chain reads image files, so the accepted uploads are written to a private temporary folder for the update
/// and deleted after it (<c>/score</c> writes nothing to disk).
/// With <c>--cluster</c>, <c>POST /cameras/{id}/normal</c> takes the same upload and checks, then updates camera id's model
/// on the R-KDE Orleans cluster (<c>RkdeCluster.UpdateAsync</c>: the next version, which every silo scores with after);
/// it answers <c>{"imagesAdded", "threshold", "modelVersion"}</c>.
/// </remarks>
internal sealed class NormalEndpoint(ServeOptions options, ModelHolder<ServedModel> models, TextWriter log, Rkde.Orleans.RkdeCluster? cluster = null)
{
    private readonly SemaphoreSlim _oneAtATime = new(1, 1);

    public async Task Handle(HttpContext context, string? camera = null)
    {
        if (!options.AllowNormal)
        {
            await ServeJson.Error(context, 403,
                "POST /normal is off: start rkde serve with --allow-normal to let clients add normal images to the model (and --normal-out PATH to save what it learns).");
            return;
        }
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted);
        timeout.CancelAfter(options.Timeout);
        List<byte[]>? images;
        int status;
        string? error;
        try
        {
            (images, status, error) = await UploadReader.ReadAllAsync(context.Request, options.MaxBodyBytes, timeout.Token);
        }
        catch (OperationCanceledException) when (!context.RequestAborted.IsCancellationRequested)
        {
            await ServeJson.Error(context, 408, "The upload did not arrive within the request timeout (--timeout).");
            return;
        }
        if (images is null)
        {
            await ServeJson.Error(context, status, error!);
            return;
        }
        var formats = new List<SKEncodedImageFormat>();
        for (int i = 0; i < images.Count; i++)
        {
            var verdict = UploadCheck.Decode(images[i], UploadCheck.Inspect(images[i], options.MaxPixels));
            if (!verdict.IsAccepted)
            {
                string which = images.Count > 1 ? $"Image {i + 1} of {images.Count}: " : "";
                await ServeJson.Error(context, verdict.Status, $"{which}{verdict.Error} Nothing was learned; the model is unchanged.");
                return;
            }
            formats.Add(verdict.Format);
        }
        if (camera is not null)
        {
            await LearnOnCluster(context, camera, images);
            return;
        }

        await _oneAtATime.WaitAsync(context.RequestAborted);
        (RkdeUpdateResult Result, int Version, float? Threshold) learned;
        try
        {
            learned = await Task.Run(() => Learn(images, formats), CancellationToken.None);
        }
        catch (InvalidOperationException e)
        {
            // No regions in the images (or none readable after all): nothing to learn.
            await ServeJson.Error(context, 400, $"{OneLine(e.Message)}");
            return;
        }
        catch (InvalidDataException e)
        {
            await ServeJson.Error(context, 409, $"The served model cannot learn: {OneLine(e.Message)}");
            return;
        }
        finally
        {
            _oneAtATime.Release();
        }
        var (result, version, modelThreshold) = learned;
        context.Response.Headers[ScoreEndpoint.ModelVersionHeader] = version.ToString(CultureInfo.InvariantCulture);
        await ServeJson.Write(context, 200, w =>
        {
            w.WriteStartObject();
            w.WriteNumber("imagesAdded", result.ImagesAdded);
            w.WriteNumber("regionsAdded", result.RegionsAdded);
            w.WriteNumber("regionsSeen", result.RegionsSeen);
            w.WriteNumber("trainingPoints", result.TrainingPoints);
            w.WriteNumber("explainedVariance", Math.Round(result.ExplainedVariance, 4));
            // The threshold now in effect: --threshold, else the updated model's own.
            if (options.ThresholdFor(modelThreshold) is float t)
                w.WriteNumber("threshold", t);
            else
                w.WriteNull("threshold");
            w.WriteNumber("modelVersion", version);
            if (options.NormalOut is { } saved)
                w.WriteString("saved", Path.GetFileName(saved));
            else
                w.WriteNull("saved");
            w.WriteEndObject();
        });
    }

    /// <summary>
    /// Updates the camera's model on the cluster (a camera without a model is 404, images without regions 400, the
    /// cluster's database unreachable 503). An update takes as long as it takes: only the client leaving ends the wait.
    /// </summary>
    private async Task LearnOnCluster(HttpContext context, string camera, List<byte[]> images)
    {
        Rkde.Orleans.CameraModelInfo info;
        try
        {
            info = await cluster!.UpdateAsync(camera, images, context.RequestAborted);
        }
        catch (Rkde.Orleans.CameraNotFittedException e)
        {
            await ServeJson.Error(context, 404, $"{OneLine(e.Message)} Nothing was learned.");
            return;
        }
        catch (InvalidOperationException e)
        {
            await ServeJson.Error(context, 400, $"{OneLine(e.Message)} Nothing was learned; the camera's model is unchanged.");
            return;
        }
        catch (Rkde.Orleans.ModelStoreUnavailableException e)
        {
            context.Response.Headers.RetryAfter = "5";
            await ServeJson.Error(context, 503, OneLine(e.Message));
            return;
        }
        log.WriteLine($"rkde serve: camera '{camera}' model version {info.Version} learned {images.Count} normal image(s) on the cluster.");
        context.Response.Headers[ScoreEndpoint.ModelVersionHeader] = info.Version.ToString(CultureInfo.InvariantCulture);
        await ServeJson.Write(context, 200, w =>
        {
            w.WriteStartObject();
            w.WriteNumber("imagesAdded", images.Count - info.ImagesSkipped);
            if (options.ThresholdFor(info.Threshold) is float t)
                w.WriteNumber("threshold", t);
            else
                w.WriteNull("threshold");
            w.WriteNumber("modelVersion", info.Version);
            w.WriteEndObject();
        });
    }

    /// <summary>Updates the current model with the images, saves it when asked, and swaps it in; returns the update, the new version and its own threshold.</summary>
    private (RkdeUpdateResult, int, float?) Learn(List<byte[]> images, List<SKEncodedImageFormat> formats)
    {
        string folder = Directory.CreateTempSubdirectory("rkde-normal-").FullName;
        try
        {
            var paths = new List<string>();
            for (int i = 0; i < images.Count; i++)
            {
                string path = Path.Combine(folder, $"normal{i}.{formats[i].ToString().ToLowerInvariant()}");
                File.WriteAllBytes(path, images[i]);
                paths.Add(path);
            }
            using var lease = models.Acquire();
            var current = lease.Model;
            var ml = new MLContext();
            ml.DisableThreadSpinning();
            var rows = SchemaDefinition.Create(typeof(PathRow));
            rows[nameof(PathRow.ImagePath)].ColumnName = current.ImagePathColumn;
            var data = ml.Data.LoadFromEnumerable(paths.Select(p => new PathRow { ImagePath = p }), rows);
            var result = ml.Model.UpdateRkde(current.Model, data,
                new RkdeUpdateOptions { ImageColumnName = current.ImagePathColumn, SkipUnreadableImages = false });
            var stamp = current.FileStamp;
            if (options.NormalOut is { } outPath)
            {
                AtomicFile.Write(outPath, stream => ml.Model.Save(result.Model, current.InputSchema, stream));
                // Saved over --model: the reloader must see the file as the one being served, not as a new one to load.
                if (Path.GetFullPath(outPath) == Path.GetFullPath(options.ModelPath))
                    stamp = ServedModel.Stamp(outPath);
            }
            float? threshold = float.IsFinite(result.Threshold) ? result.Threshold : null;
            var next = ServedModel.Create(ml, current.Path, stamp, result.Model, current.InputSchema, current.ImagePathColumn, threshold, options.Workers);
            int version = models.Swap(next);
            log.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"rkde serve: model version {version} learned {result.ImagesAdded} normal image(s) ({result.RegionsAdded} regions){(options.NormalOut is { } o ? $", saved to {o}" : ", kept in memory")}; requests already scoring finish on the previous one."));
            return (result, version, next.Threshold);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    private static string OneLine(string message) => message.ReplaceLineEndings(" ").Trim();

    private sealed class PathRow
    {
        public string ImagePath { get; set; } = "";
    }
}
