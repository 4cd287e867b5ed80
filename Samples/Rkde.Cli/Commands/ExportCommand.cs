using System.CommandLine;
using Rkde.Cli.Scoring;

namespace Rkde.Cli.Commands;

/// <summary><c>rkde export</c>: writes a fitted model as one self-contained ONNX file for ONNX Runtime in any language.</summary>
internal static class ExportCommand
{
    public static Command Create(IRkdeEngine engine, TextWriter output, TextWriter error)
    {
        var model = new Option<string>("--model") { Description = "A model saved by rkde fit.", Required = true };
        var outFile = new Option<string>("--out") { Description = "The ONNX file to write (replaced atomically).", Required = true };
        var batch = new Option<bool>("--batch") { Description = "Batched variant: input \"images\" uint8 [B, H, W, 3] at the model input size, outputs padded per image with a \"box_count\"." };
        var command = new Command("export", "Export a fitted model as one ONNX file: input \"image\" uint8 [H, W, 3] RGB of any size; outputs \"boxes\" [N, 4] (input pixels), \"box_scores\" [N], \"score\" [1], \"is_anomaly\" [1].") { model, outFile, batch };
        command.SetAction(parse => RkdeCli.Guard(error, () =>
        {
            string modelPath = parse.GetValue(model)!, onnxPath = parse.GetValue(outFile)!;
            if (!File.Exists(modelPath))
            {
                throw new CliException($"--model '{modelPath}' does not exist; create one with rkde fit.");
            }
            engine.Export(modelPath, onnxPath, parse.GetValue(batch));
            output.WriteLine($"Exported {modelPath} to {onnxPath} ({new FileInfo(onnxPath).Length / 1e6:0.0} MB{(parse.GetValue(batch) ? ", batched" : "")}).");
            return 0;
        }));
        return command;
    }
}
