using System.Diagnostics;
using Rkde.MLNet.Images;

namespace Rkde.Cli.Scoring;

/// <summary>
/// Scores a list of images, <see cref="IImageScorer.BatchSize"/> per call. An image that <see cref="ImageCheck"/> finds
/// unreadable (ML.NET would throw or, for a truncated PNG, score black pixels), or that fails to score, becomes an error line
/// and the run goes on; when a batch fails, its images are scored one by one so that the error lands on the right line.
/// </summary>
internal static class ScoreRunner
{
    /// <summary>Scores every file; <paramref name="onResult"/> sees each line as soon as it exists, in file order.</summary>
    public static (List<ResultLine> Lines, TimeSpan Elapsed) Run(IImageScorer scorer, string root, IReadOnlyList<string> files,
                                                                 IProgress<int>? progress, Action<string, ResultLine>? onResult = null)
    {
        var lines = new List<ResultLine>(files.Count);
        var clock = Stopwatch.StartNew();
        int batch = Math.Max(1, scorer.BatchSize);
        for (int start = 0; start < files.Count; start += batch)
        {
            var chunk = files.Skip(start).Take(batch).ToList();
            var checks = chunk.Select(ImageCheck.Check).ToList();
            var readable = checks.Where(c => c.IsReadable).Select(c => (c.Path, c.Width, c.Height)).ToList();
            var results = new Dictionary<string, ResultLine>();
            IReadOnlyList<ImageScore>? scored = null;
            if (readable.Count > 1)
            {
                try
                {
                    scored = scorer.Score(readable);
                }
                catch (Exception e) when (e is not OutOfMemoryException)
                {
                    scored = null;
                }
            }
            for (int i = 0; i < readable.Count; i++)
            {
                var (path, width, height) = readable[i];
                results[path] = scored is not null ? Line(ImageFiles.Relative(root, path), scored[i], width, height) : ScoreOne(scorer, root, path, width, height);
            }
            for (int i = 0; i < chunk.Count; i++)
            {
                var line = checks[i].IsReadable ? results[checks[i].Path] : new ResultLine(ImageFiles.Relative(root, chunk[i]), null, checks[i].Message);
                lines.Add(line);
                onResult?.Invoke(chunk[i], line);
                progress?.Report(start + i + 1);
            }
        }
        return (lines, clock.Elapsed);
    }

    /// <summary>The line for <paramref name="file"/> (named relative to <paramref name="root"/>), given its <paramref name="check"/>.</summary>
    public static ResultLine ScoreOne(IImageScorer scorer, string root, string file, ImageCheckResult check) =>
        check.IsReadable ? ScoreOne(scorer, root, file, check.Width, check.Height) : new ResultLine(ImageFiles.Relative(root, file), null, check.Message);

    private static ResultLine ScoreOne(IImageScorer scorer, string root, string file, int width, int height)
    {
        try
        {
            return Line(ImageFiles.Relative(root, file), scorer.Score(file, width, height), width, height);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            return new ResultLine(ImageFiles.Relative(root, file), null, e.Message.ReplaceLineEndings(" ").Trim());
        }
    }

    private static ResultLine Line(string image, ImageScore result, int width, int height) => float.IsFinite(result.Score)
        ? new ResultLine(image, result, null) { Size = (width, height) }
        : new ResultLine(image, null, $"the model produced a non-finite score ({result.Score})");
}
