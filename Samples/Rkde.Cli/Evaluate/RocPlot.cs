using Rkde.Cli.Evaluate.Metrics;

namespace Rkde.Cli.Evaluate;

/// <summary>The ROC curve as a PNG (ScottPlot).</summary>
internal static class RocPlot
{
    public static void Save(IReadOnlyList<RocPoint> curve, double auroc, string path)
    {
        var plot = new ScottPlot.Plot();
        var line = plot.Add.ScatterLine(curve.Select(p => p.FalsePositiveRate).ToArray(), curve.Select(p => p.TruePositiveRate).ToArray());
        line.LineWidth = 2;
        line.LegendText = $"R-KDE (AUROC {auroc:0.000})";
        var chance = plot.Add.Line(0, 0, 1, 1);
        chance.LinePattern = ScottPlot.LinePattern.Dashed;
        chance.LegendText = "chance";
        plot.Title("Image-level ROC");
        plot.XLabel("False positive rate");
        plot.YLabel("True positive rate");
        plot.Axes.SetLimits(0, 1, 0, 1.02);
        plot.ShowLegend(ScottPlot.Alignment.LowerRight);
        plot.SavePng(path, 640, 480);
    }
}
