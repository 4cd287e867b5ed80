using System.Globalization;
using Rkde.MLNet.Density;

namespace Rkde.Cli.Scoring;

/// <summary>
/// <c>score --watch --learn-below T</c>: remembers the scored images whose score is below T and, every N scored images,
/// adds those to the model (an update, saved atomically), so the model follows a slowly changing scene. An anomalous image
/// that scores below T is learned too, and from then on such anomalies score as normal: T should sit well below the
/// threshold that flags anomalies.
/// </summary>
internal sealed class NormalLearner(IRkdeEngine engine, string modelPath, string learnedPath, float below, int every,
    UpdateSampling sampling, TextWriter error)
{
    private readonly List<string> _normal = [];
    private int _scored;

    /// <summary>The model to score with: the given one until the first update, then the learned one.</summary>
    public string ModelPath { get; private set; } = modelPath;

    /// <summary>Images added to the model so far.</summary>
    public int Learned { get; private set; }

    /// <summary>Takes one scored line; true when the model was just updated (reload it from <see cref="ModelPath"/>).</summary>
    public bool Offer(string file, ResultLine line)
    {
        _scored++;
        if (line.Result is { } result && result.Score < below)
            _normal.Add(file);
        return _scored % every == 0 && Learn();
    }

    /// <summary>
    /// Adds the images remembered so far; true when the model changed. A failed update (say, no regions in these images)
    /// is one line on stderr: the model stays as it was, and scoring goes on.
    /// </summary>
    public bool Learn()
    {
        if (_normal.Count == 0)
            return false;
        try
        {
            var summary = engine.Update(ModelPath, _normal, new UpdateSettings(sampling), learnedPath, new LineProgress(TextWriter.Null));
            error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"rkde: learned {summary.ImagesAdded} images scoring below {below} ({summary.RegionsAdded} regions; the model keeps {summary.TrainingPoints} of " +
                $"{summary.RegionsSeen} seen; explained variance {summary.ExplainedVariance:P1}, training {summary.TrainingExplainedVariance:P1}); saved to {learnedPath}."));
            Learned += summary.ImagesAdded;
            ModelPath = learnedPath;
            return true;
        }
        catch (Exception e) when (e is CliException or InvalidOperationException or IOException or ArgumentException or InvalidDataException)
        {
            error.WriteLine($"rkde: learning from {_normal.Count} images failed, the model is unchanged: {e.Message.ReplaceLineEndings(" ").Trim()}");
            return false;
        }
        finally
        {
            _normal.Clear();
        }
    }
}
