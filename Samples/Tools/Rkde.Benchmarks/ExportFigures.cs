using Rkde.Cli.Scoring;

namespace Rkde.Benchmarks;

/// <summary>
/// <c>e2e.export</c>: the demo model scored as <c>rkde score</c> scores, through the ML.NET .zip and through the exported ONNX
/// graph with ONNX Runtime alone at 1 and 16 images per call (<c>--batch</c>), on the demo test images three times over
/// (60 images, so that batches fill), in alternation.
/// </summary>
public static class ExportFigures
{
    public static void Run()
    {
        using var saved = FittedModel.Create(int8: false);
        var files = Enumerable.Repeat(DemoData.Test, 3).SelectMany(f => f).ToArray();
        string root = Path.GetDirectoryName(DemoData.Root)!;
        var engine = new MlNetEngine();
        var scorers = new (string Name, IImageScorer Scorer)[]
        {
            ("the .zip (ML.NET PredictionEngine)", engine.Load(saved.Path)),
            ("exported graph, --batch 1", engine.LoadExported(saved.Path, 1)),
            ("exported graph, --batch 16", engine.LoadExported(saved.Path, 16)),
        };
        try
        {
            var results = scorers.Select(s => (s.Name, Rate: 0.0, CpuMs: 0.0)).ToArray();
            for (int round = 0; round < 3; round++)
            {
                for (int i = 0; i < scorers.Length; i++)
                {
                    var (rate, cpu) = PipelineFigures.BestOf(1, files.Length, () => ScoreRunner.Run(scorers[i].Scorer, root, files, null));
                    if (rate > results[i].Rate)
                        results[i] = (scorers[i].Name, rate, cpu);
                }
            }
            foreach (var (name, rate, cpu) in results)
                Figures.Print($"e2e.export {name}", $"{rate:0.0} images/s ({cpu:0} ms CPU per image); best of 3 rounds × {files.Length} images " +
                    $"(each after a warm-up pass), in alternation, on {Environment.ProcessorCount} cores; ImageCheck's full decode included, as in rkde score");
        }
        finally
        {
            foreach (var (_, scorer) in scorers)
                scorer.Dispose();
        }
    }
}
