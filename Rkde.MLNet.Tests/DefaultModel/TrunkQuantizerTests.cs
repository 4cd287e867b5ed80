using Microsoft.ML.OnnxRuntime;
using Rkde.MLNet.DefaultModel;

namespace Rkde.MLNet.Tests.DefaultModel;

/// <summary>DefaultModels.QuantizedProposer: the INT8 trunk keeps the FP32 proposer's contract and stays close to its layer3 map.</summary>
[TestClass]
public sealed class TrunkQuantizerTests
{
    private const int Width = 160, Height = 112;

    [TestMethod]
    public void QuantizedProposerKeepsShapesAndLayer3IsCloseToFp32()
    {
        var calibration = Enumerable.Range(1, 3).Select(Scene).ToList();
        byte[] int8 = DefaultModels.QuantizedProposer(Width, Height, calibration);
        var graph = global::Onnx.ModelProto.Parser.ParseFrom(int8).Graph;
        Assert.AreEqual(15, graph.Node.Count(n => n.OpType == "QLinearConv"), "every trunk convolution is quantized: stem, layer1 4, layer2 5, layer3 5");
        Assert.AreEqual(0, graph.Node.Count(n => n.OpType is "Conv" or "BatchNormalization" && n.Name.StartsWith("resnet18_", StringComparison.Ordinal)));

        var image = Scene(9);
        var fp32 = Run(DefaultModels.Proposer(Width, Height), image);
        var quantized = Run(int8, image);
        CollectionAssert.AreEquivalent(fp32.Keys.ToArray(), quantized.Keys.ToArray());
        foreach (var name in fp32.Keys.Where(k => k != "boxes" && k != "scores"))
            CollectionAssert.AreEqual(fp32[name].Shape, quantized[name].Shape, name);
        Assert.AreEqual(4, quantized["boxes"].Shape[2]);
        foreach (var map in new[] { DefaultModels.Layer2Name, DefaultModels.Layer3Name })
        {
            double cosine = Cosine(fp32[map].Data, quantized[map].Data);
            Assert.IsGreaterThan(0.98, cosine, $"{map} cosine FP32 vs INT8 = {cosine:0.0000}");
        }
    }

    [TestMethod]
    public void CalibrationImagesMustHaveTheInputSize()
    {
        var e = Assert.ThrowsExactly<ArgumentException>(() => DefaultModels.QuantizedProposer(Width, Height, [new float[10]]));
        StringAssert.Contains(e.Message, "3 × 112 × 160");
    }

    private static Dictionary<string, (float[] Data, long[] Shape)> Run(byte[] model, float[] image)
    {
        using var session = new InferenceSession(model);
        using var value = OrtValue.CreateTensorValueFromMemory(image, [1, 3, Height, Width]);
        using var run = new RunOptions();
        using var outputs = session.Run(run, ["image"], [value], session.OutputNames);
        return session.OutputNames.Select((n, i) => (n, outputs[i]))
            .ToDictionary(p => p.n, p => (p.Item2.GetTensorDataAsSpan<float>().ToArray(), p.Item2.GetTensorTypeAndShape().Shape));
    }

    private static double Cosine(float[] a, float[] b)
    {
        double dot = 0, na = 0, nb = 0;
        for (int i = 0; i < a.Length; i++)
        {
            dot += (double)a[i] * b[i];
            na += (double)a[i] * a[i];
            nb += (double)b[i] * b[i];
        }
        return dot / Math.Sqrt(na * nb);
    }

    /// <summary>A smooth colour texture (sums of random sinusoids) in [0, 1], planar RGB.</summary>
    private static float[] Scene(int seed)
    {
        var random = new Random(seed);
        var image = new float[3 * Height * Width];
        for (int c = 0; c < 3; c++)
        {
            var waves = Enumerable.Range(0, 6).Select(_ => (fx: random.NextDouble() * 0.3, fy: random.NextDouble() * 0.3, phase: random.NextDouble() * 6.3)).ToArray();
            for (int y = 0; y < Height; y++)
                for (int x = 0; x < Width; x++)
                    image[(c * Height + y) * Width + x] = (float)(0.5 + waves.Sum(w => Math.Sin(w.fx * x + w.fy * y + w.phase)) / 12);
        }
        return image;
    }
}
