using System.Diagnostics;

namespace Rkde.Cli.Scoring;

/// <summary>
/// Scores a list of images one by one. An image that cannot be read or scored becomes an error line and the run
/// goes on.
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
            var (width, height, error) = ImageFiles.Probe(file);
            ResultLine line;
            if (error is not null)
            {
                line = new ResultLine(rel, null, error);
            }
            else
            {
                try
                {
                    var result = scorer.Score(file, width, height);
                    line = float.IsFinite(result.Score)
                        ? new ResultLine(rel, result, null)
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
