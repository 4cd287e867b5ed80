using Rkde.Cli.Scoring;

namespace Rkde.Cli.Tests.Commands;

/// <summary>An engine that records the settings <c>fit</c> passes it and fits nothing.</summary>
internal sealed class SettingsEngine : IRkdeEngine
{
    public FitSettings? Settings { get; private set; }

    public int Fit(IReadOnlyList<string> images, FitSettings settings, string modelPath, IProgress<string> progress)
    {
        Settings = settings;
        return images.Count;
    }

    public IImageScorer Load(string modelPath) => throw new NotSupportedException();

    public UpdateSummary Update(string modelPath, IReadOnlyList<string> images, UpdateSettings settings, string outPath, IProgress<string> progress) =>
        throw new NotSupportedException();
}
