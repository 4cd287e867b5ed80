using System.Diagnostics;
using Rkde.MLNet.Images;

namespace Rkde.Cli.Scoring;

/// <summary>
/// Scores images one by one. An image that <see cref="ImageCheck"/> finds unreadable (ML.NET would throw
/// or, for a truncated PNG, score black pixels), or that fails to score, becomes an error line and the run goes on.
/// </summary>
internal static class ScoreRunner
{
    /// <summary>Scores every file; <paramref name="onResult"/> sees each line as soon as it exists.</summary>
    public static (List<ResultLine> Lines, TimeSpan Elapsed) Run(IImageScorer scorer, string root, IReadOnlyList<string> files,
                                                                 IProgress<int>? progress, Action<string, ResultLine>? onResult = null)
    {
        var lines = new List<ResultLine>(files.Count);
        var clock = Stopwatch.StartNew();
        for (int i = 0; i < files.Count; i++)
        {
            string file = files[i];
            var line = ScoreOne(scorer, root, file, ImageCheck.Check(file));
            lines.Add(line);
            onResult?.Invoke(file, line);
            progress?.Report(i + 1);
        }
        return (lines, clock.Elapsed);
    }

    /// <summary>The line for <paramref name="file"/> (named relative to <paramref name="root"/>), given its <paramref name="check"/>.</summary>
    public static ResultLine ScoreOne(IImageScorer scorer, string root, string file, ImageCheckResult check)
    {
        string rel = ImageFiles.Relative(root, file);
        if (!check.IsReadable)
            return new ResultLine(rel, null, check.Message);
        try
        {
            var result = scorer.Score(file, check.Width, check.Height);
            return float.IsFinite(result.Score)
                ? new ResultLine(rel, result, null) { Size = (check.Width, check.Height) }
                : new ResultLine(rel, null, $"the model produced a non-finite score ({result.Score})");
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            return new ResultLine(rel, null, e.Message.ReplaceLineEndings(" ").Trim());
        }
    }
}
