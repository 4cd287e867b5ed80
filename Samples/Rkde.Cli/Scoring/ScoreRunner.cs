using System.Diagnostics;
using Rkde.MLNet.Images;

namespace Rkde.Cli.Scoring;

/// <summary>
/// Scores a list of images one by one. An image that <see cref="ImageCheck"/> finds unreadable (ML.NET would throw
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
            string rel = ImageFiles.Relative(root, file);
            var check = ImageCheck.Check(file);
            ResultLine line;
            if (!check.IsReadable)
            {
                line = new ResultLine(rel, null, check.Message);
            }
            else
            {
                try
                {
                    var result = scorer.Score(file, check.Width, check.Height);
                    line = float.IsFinite(result.Score)
                        ? new ResultLine(rel, result, null) { Size = (check.Width, check.Height) }
                        : new ResultLine(rel, null, $"the model produced a non-finite score ({result.Score})");
                }
                catch (Exception e) when (e is not OutOfMemoryException)
                {
                    line = new ResultLine(rel, null, e.Message.ReplaceLineEndings(" ").Trim());
                }
            }
            lines.Add(line);
            onResult?.Invoke(file, line);
            progress?.Report(i + 1);
        }
        return (lines, clock.Elapsed);
    }
}
