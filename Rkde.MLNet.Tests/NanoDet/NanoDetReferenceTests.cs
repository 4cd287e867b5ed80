using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text.Json;
using Rkde.MLNet.NanoDet;
using Rkde.MLNet.Onnx;
using DataType = Onnx.TensorProto.Types.DataType;

namespace Rkde.MLNet.Tests.NanoDet;

/// <summary>
/// The whole converted network against scripts/nanodet_reference.py, an interpreter of the same TensorFlow.js graph
/// written with numpy: every head output and both backbone maps, at a non-square input (so the patched resize sizes are
/// checked too). Needs the npm tarball and python3-numpy from scripts/fetch-nanodet.sh (CI runs it); inconclusive without.
/// </summary>
[TestClass]
public sealed class NanoDetReferenceTests
{
    private const int Height = 288, Width = 416;

    [TestMethod]
    public void TheConversionMatchesANumpyInterpreterOfTheGraph()
    {
        string package = NanoDetModels.Package.Files(NanoDetTestData.Tarball, NanoDetTestData.Cache, "test");
        string script = Path.Combine(NanoDetTestData.RepositoryRoot ?? "", "scripts", "nanodet_reference.py");
        if (!File.Exists(script) || !File.Exists("/usr/bin/python3"))
            Assert.Inconclusive($"{script} or /usr/bin/python3 is missing.");
        var model = TfjsGraphModel.Load(Path.Combine(package, "nanodet.json"));
        string[] tensors = [.. model.Outputs, .. NanoDetGraphs.Maps.Take(2).Select(m => m.GraphTensor)];

        var b = new OnnxGraphBuilder("nanodet_reference");
        b.Input("x", DataType.Float, 1, 3, Height, Width);
        var converter = new TfjsToOnnx(b, model, (_, size) => [size[0] * Height / 416, size[1] * Width / 416]);
        converter.Bind(NanoDetGraphs.InputPlaceholder, "x", [1, 3, Height, Width]);
        for (int k = 0; k < tensors.Length; k++)
            b.Output($"out{k}", converter.Tensor(tensors[k]), DataType.Float, [.. converter.Shape(tensors[k]).Cast<object>()]);
        var random = new Random(1);
        float[] input = Enumerable.Range(0, 3 * Height * Width).Select(_ => (float)(random.NextDouble() * 4 - 2)).ToArray();
        using var run = new OnnxRun(b.ToBytes());
        var converted = run.Run(("x", input, [1, 3, Height, Width]));

        string folder = Directory.CreateTempSubdirectory("rkde-nanodet-reference-").FullName;
        try
        {
            Compare(package, script, tensors, input, converted, folder);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    private static void Compare(string package, string script, string[] tensors, float[] input,
        Dictionary<string, (Array Data, long[] Shape)> converted, string folder)
    {
        File.WriteAllBytes(Path.Combine(folder, "input.f32"), MemoryMarshal.AsBytes(input.AsSpan()).ToArray());
        var python = Process.Start(new ProcessStartInfo("/usr/bin/python3", [script, Path.Combine(package, "nanodet.json"), $"{Height}", $"{Width}",
            Path.Combine(folder, "input.f32"), Path.Combine(folder, "out"), .. tensors]) { RedirectStandardError = true })!;
        string error = python.StandardError.ReadToEnd();
        python.WaitForExit();
        if (error.Contains("No module named 'numpy'"))
            Assert.Inconclusive("python3-numpy is missing: run scripts/fetch-nanodet.sh.");
        Assert.AreEqual(0, python.ExitCode, error);
        var shapes = JsonSerializer.Deserialize<long[][]>(File.ReadAllText(Path.Combine(folder, "out", "shapes.json")))!;

        for (int k = 0; k < tensors.Length; k++)
        {
            var (data, shape) = converted[$"out{k}"];
            float[] expected = MemoryMarshal.Cast<byte, float>(File.ReadAllBytes(Path.Combine(folder, "out", $"{k}.f32"))).ToArray();
            CollectionAssert.AreEqual(shapes[k], shape, tensors[k]);
            float[] actual = (float[])data;
            double scale = expected.Max(Math.Abs), worst = expected.Zip(actual, (e, a) => Math.Abs(e - a)).Max();
            Assert.IsTrue(worst <= 1e-5 * Math.Max(1, scale), $"{tensors[k]}: largest difference {worst:E2} (values up to {scale:F2})");
        }
    }
}
