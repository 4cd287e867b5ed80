namespace Rkde.MLNet.Tests.NanoDet;

/// <summary>
/// Each TensorFlow op the converter maps, on a small graph written as the TF.js converter writes NanoDet's, run through
/// ONNX Runtime and compared with values computed here by plain loops (convolution, pooling) or by hand (resize).
/// </summary>
[TestClass]
public sealed class TfjsToOnnxTests
{
    private static readonly long[] ToNhwc = [0, 2, 3, 1], ToNchw = [0, 3, 1, 2];

    [TestMethod]
    public void ConvolutionBetweenTransposePairsNeedsNoTransposeAndAbsorbsItsPad()
    {
        // onnx-tf's pattern: NCHW tensor → Pad (H, W) → Transpose to NHWC → Conv2D VALID → bias Add → Transpose back → LeakyRelu.
        var g = new TfjsGraph();
        g.Placeholder("x", 1, 2, 5, 6);
        float[] filter = Seeded(3 * 3 * 2 * 3, 1);
        g.Floats("filter", filter, [3, 3, 2, 3]);
        g.Floats("bias", [0.5f, -1f, 2f], [3]);
        g.Ints("pads", [0, 0, 0, 0, 1, 1, 1, 1], [4, 2]);
        g.Ints("to_nhwc", ToNhwc);
        g.Ints("to_nchw", ToNchw);
        g.Op("Pad", "pad", ["x", "pads"]);
        g.Op("Transpose", "t1", ["pad", "to_nhwc"]);
        g.Op("Conv2D", "conv", ["t1", "filter"], ("strides", new long[] { 1, 1, 1, 1 }), ("padding", "VALID"), ("data_format", "NHWC"));
        g.Op("Add", "biased", ["conv", "bias"]);
        g.Op("Transpose", "t2", ["biased", "to_nchw"]);
        g.Op("LeakyRelu", "y", ["t2"], ("alpha", 0.1f));
        float[] x = Seeded(2 * 5 * 6, 2);

        var (outputs, ops) = g.Run("x", x, [1, 2, 5, 6], ["y"]);

        var conv = Conv(Permute(x, [1, 2, 5, 6], ToNhwc), [1, 5, 6, 2], filter, [3, 3, 2, 3], 1, 1, 1, 5, 6);
        for (int i = 0; i < conv.Length; i++)
            conv[i] += new[] { 0.5f, -1f, 2f }[i % 3];
        var expected = Permute(conv, [1, 5, 6, 3], ToNchw).Select(v => v > 0 ? v : 0.1f * v).ToArray();
        CollectionAssert.AreEqual(new long[] { 1, 3, 5, 6 }, outputs["y"].Shape);
        AssertClose(expected, outputs["y"].Data);
        CollectionAssert.DoesNotContain(ops, "Transpose", string.Join(", ", ops));
        CollectionAssert.DoesNotContain(ops, "Pad", "the zero Pad becomes the convolution's padding");
    }

    [TestMethod]
    public void SameConvolutionWithStrideTwoOnAnNhwcInput()
    {
        var g = new TfjsGraph();
        g.Placeholder("x", 1, 7, 6, 2);
        float[] filter = Seeded(3 * 3 * 2 * 2, 3);
        g.Floats("filter", filter, [3, 3, 2, 2]);
        g.Op("Conv2D", "y", ["x", "filter"], ("strides", new long[] { 1, 2, 2, 1 }), ("padding", "SAME"));
        float[] x = Seeded(7 * 6 * 2, 4);

        var (outputs, _) = g.Run("x", x, [1, 7, 6, 2], ["y"]);

        // TensorFlow's SAME: 4 × 3 outputs; H pads 1 + 1, W pads 0 + 1.
        CollectionAssert.AreEqual(new long[] { 1, 4, 3, 2 }, outputs["y"].Shape);
        AssertClose(Conv(x, [1, 7, 6, 2], filter, [3, 3, 2, 2], 2, 1, 0, 4, 3), outputs["y"].Data);
    }

    [TestMethod]
    public void GroupsComeFromTheChannelCounts()
    {
        var g = new TfjsGraph();
        g.Placeholder("x", 1, 3, 3, 4);
        float[] filter = Seeded(1 * 1 * 2 * 2, 5);
        g.Floats("filter", filter, [1, 1, 2, 2]);
        g.Op("Conv2D", "y", ["x", "filter"], ("strides", new long[] { 1, 1, 1, 1 }), ("padding", "VALID"));
        float[] x = Seeded(3 * 3 * 4, 6);

        var (outputs, _) = g.Run("x", x, [1, 3, 3, 4], ["y"]);

        // Two groups of two channels; output channel o of group k reads input channels 2k, 2k + 1 (o = group · 1 + …).
        var expected = new float[9 * 2];
        for (int p = 0; p < 9; p++)
            for (int o = 0; o < 2; o++)
                expected[2 * p + o] = x[4 * p + 2 * o] * filter[o] + x[4 * p + 2 * o + 1] * filter[2 + o];
        CollectionAssert.AreEqual(new long[] { 1, 3, 3, 2 }, outputs["y"].Shape);
        AssertClose(expected, outputs["y"].Data);
    }

    [TestMethod]
    public void MinusInfinityPadBeforeMaxPoolBecomesItsPadding()
    {
        var g = new TfjsGraph();
        g.Placeholder("x", 1, 1, 4, 5);
        g.Ints("pads", [0, 0, 0, 0, 1, 1, 1, 1], [4, 2]);
        g.Floats("minus_inf", [float.NegativeInfinity], [], float16: true);
        g.Ints("to_nhwc", ToNhwc);
        g.Ints("to_nchw", ToNchw);
        g.Op("PadV2", "pad", ["x", "pads", "minus_inf"]);
        g.Op("Transpose", "t1", ["pad", "to_nhwc"]);
        g.Op("MaxPool", "pool", ["t1"], ("ksize", new long[] { 1, 3, 3, 1 }), ("strides", new long[] { 1, 2, 2, 1 }), ("padding", "VALID"), ("data_format", "NHWC"));
        g.Op("Transpose", "y", ["pool", "to_nchw"]);
        // All negative: a zero pad would win every border window.
        float[] x = Seeded(20, 7).Select(v => v - 3).ToArray();

        var (outputs, ops) = g.Run("x", x, [1, 1, 4, 5], ["y"]);

        var expected = new float[2 * 3];
        for (int oy = 0; oy < 2; oy++)
            for (int ox = 0; ox < 3; ox++)
            {
                float best = float.NegativeInfinity;
                for (int y = 2 * oy - 1; y <= 2 * oy + 1; y++)
                    for (int xx = 2 * ox - 1; xx <= 2 * ox + 1; xx++)
                        if (y is >= 0 and < 4 && xx is >= 0 and < 5)
                            best = Math.Max(best, x[5 * y + xx]);
                expected[3 * oy + ox] = best;
            }
        CollectionAssert.AreEqual(new long[] { 1, 1, 2, 3 }, outputs["y"].Shape);
        AssertClose(expected, outputs["y"].Data);
        CollectionAssert.DoesNotContain(ops, "Pad");
        CollectionAssert.DoesNotContain(ops, "Transpose");
    }

    [TestMethod]
    public void APadWithNoConsumerToAbsorbItIsAnOnnxPadWithItsFill()
    {
        var g = new TfjsGraph();
        g.Placeholder("x", 1, 2, 2);
        g.Ints("pads", [0, 0, 1, 0, 0, 2], [3, 2]);
        g.Floats("fill", [2.5f], []);
        g.Op("PadV2", "pad", ["x", "pads", "fill"]);
        g.Op("Sigmoid", "y", ["pad"]);

        var (outputs, ops) = g.Run("x", [1, 2, 3, 4], [1, 2, 2], ["y"]);

        float[] padded = [2.5f, 2.5f, 2.5f, 2.5f, 1, 2, 2.5f, 2.5f, 3, 4, 2.5f, 2.5f];
        CollectionAssert.AreEqual(new long[] { 1, 3, 4 }, outputs["y"].Shape);
        AssertClose(padded.Select(v => 1 / (1 + MathF.Exp(-v))).ToArray(), outputs["y"].Data);
        CollectionAssert.Contains(ops, "Pad");
    }

    [TestMethod]
    public void ConcatSplitAndAddFollowTheHeldLayout()
    {
        // Concatenate two NHWC views on channels, split 1 + rest, add the two parts' sum to a bias.
        var g = new TfjsGraph();
        g.Placeholder("x", 1, 2, 3, 3);
        g.Ints("to_nhwc", ToNhwc);
        g.Ints("axis", [3], []);
        g.Ints("sizes", [1, -1]);
        g.Ints("split_dim", [-1], []);
        g.Floats("bias", [10f, 20f, 30f], [3]);
        g.Op("Transpose", "a", ["x", "to_nhwc"]);
        g.Op("Sigmoid", "s", ["x"]);
        g.Op("Transpose", "b", ["s", "to_nhwc"]);
        g.Op("ConcatV2", "cat", ["a", "b", "axis"], ("N", 2L));
        g.Op("SplitV", "split", ["cat", "sizes", "split_dim"], ("num_split", 2L));
        g.Op("AddV2", "y", ["split:1", "bias"]);
        g.Op("Add", "z", ["split", "split"]);
        float[] x = Seeded(18, 8);

        var (outputs, _) = g.Run("x", x, [1, 2, 3, 3], ["y", "z"]);

        var nhwc = Permute(x, [1, 2, 3, 3], ToNhwc);
        var expectedY = new float[9 * 3];
        var expectedZ = new float[9];
        for (int p = 0; p < 9; p++)
        {
            float[] cat = [nhwc[2 * p], nhwc[2 * p + 1], Sigmoid(nhwc[2 * p]), Sigmoid(nhwc[2 * p + 1])];
            expectedZ[p] = 2 * cat[0];
            for (int c = 0; c < 3; c++)
                expectedY[3 * p + c] = cat[1 + c] + 10 * (c + 1);
        }
        CollectionAssert.AreEqual(new long[] { 1, 3, 3, 3 }, outputs["y"].Shape);
        AssertClose(expectedY, outputs["y"].Data);
        CollectionAssert.AreEqual(new long[] { 1, 3, 3, 1 }, outputs["z"].Shape);
        AssertClose(expectedZ, outputs["z"].Data);
    }

    [TestMethod]
    [DataRow(true, new float[] { 1, 1.25f, 1.75f, 2, 1.5f, 1.75f, 2.25f, 2.5f, 2.5f, 2.75f, 3.25f, 3.5f, 3, 3.25f, 3.75f, 4 })]
    [DataRow(false, new float[] { 1, 1.5f, 2, 2, 2, 2.5f, 3, 3, 3, 3.5f, 4, 4, 3, 3.5f, 4, 4 })]
    public void ResizeBilinearToThePatchedSize(bool halfPixelCentres, float[] expected)
    {
        // The graph's size constant says 3 × 3; the patch (as NanoDet's for another input size) makes it 4 × 4.
        var g = new TfjsGraph();
        g.Placeholder("x", 1, 2, 2, 1);
        g.Ints("size", [3, 3]);
        g.Op("ResizeBilinear", "y", ["x", "size"], ("align_corners", false), ("half_pixel_centers", halfPixelCentres));
        var patched = new List<long[]>();

        var (outputs, _) = g.Run("x", [1, 2, 3, 4], [1, 2, 2, 1], ["y"], (node, size) =>
        {
            patched.Add(size);
            return [4, 4];
        });

        CollectionAssert.AreEqual(new long[] { 3, 3 }, patched.Single());
        CollectionAssert.AreEqual(new long[] { 1, 4, 4, 1 }, outputs["y"].Shape);
        AssertClose(expected, outputs["y"].Data);
    }

    [TestMethod]
    public void ReshapeReadsTheTensorFlowLayout()
    {
        var g = new TfjsGraph();
        g.Placeholder("x", 1, 2, 2, 3);
        g.Ints("to_nhwc", ToNhwc);
        g.Ints("shape", [1, -1], type: "DT_INT64");
        g.Op("Transpose", "t", ["x", "to_nhwc"]);
        g.Op("Reshape", "y", ["t", "shape"]);
        float[] x = Seeded(12, 9);

        var (outputs, ops) = g.Run("x", x, [1, 2, 2, 3], ["y"]);

        CollectionAssert.AreEqual(new long[] { 1, 12 }, outputs["y"].Shape);
        CollectionAssert.AreEqual(Permute(x, [1, 2, 2, 3], ToNhwc), outputs["y"].Data);
        Assert.AreEqual(1, ops.Count(o => o == "Transpose"), "the Transpose is emitted where the layout matters");
    }

    [TestMethod]
    public void SparseToDenseWithConstantInputsFoldsIntoTheReshapeShape()
    {
        // NanoDet's head: an all-default SparseToDense plus [1, C, -1] gives the Reshape's shape; then [0, 2, 1].
        var g = new TfjsGraph();
        g.Placeholder("x", 1, 2, 2, 2);
        g.Ints("indices", [], [0, 1], "DT_INT64");
        g.Ints("dense_shape", [3], [1], "DT_INT64");
        g.Ints("values", [], [0], "DT_INT64");
        g.Ints("zero", [0], [], "DT_INT64");
        g.Ints("base", [1, 2, -1], type: "DT_INT64");
        g.Ints("perm", [0, 2, 1]);
        g.Op("SparseToDense", "dense", ["indices", "dense_shape", "values", "zero"], ("validate_indices", true));
        g.Op("AddV2", "shape", ["base", "dense"]);
        g.Op("Reshape", "r", ["x", "shape"]);
        g.Op("Transpose", "y", ["r", "perm"]);
        float[] x = Seeded(8, 10);

        var (outputs, ops) = g.Run("x", x, [1, 2, 2, 2], ["y"]);

        CollectionAssert.AreEqual(new long[] { 1, 4, 2 }, outputs["y"].Shape);
        CollectionAssert.AreEqual(new[] { x[0], x[4], x[1], x[5], x[2], x[6], x[3], x[7] }, outputs["y"].Data);
        CollectionAssert.AreEquivalent(new[] { "Reshape", "Transpose" }, ops, "SparseToDense and the shape Add are folded");
    }

    [TestMethod]
    public void SparseToDenseFoldingPlacesItsValues()
    {
        var g = new TfjsGraph();
        g.Placeholder("x", 1, 2, 2, 2);
        g.Ints("indices", [2], [1, 1]);
        g.Ints("dense_shape", [3]);
        g.Ints("values", [-1], [1]);
        g.Ints("one", [1], []);
        g.Op("SparseToDense", "shape", ["indices", "dense_shape", "values", "one"]);
        g.Op("Reshape", "y", ["x", "shape"]);

        var (outputs, _) = g.Run("x", Seeded(8, 11), [1, 2, 2, 2], ["y"]);

        CollectionAssert.AreEqual(new long[] { 1, 1, 8 }, outputs["y"].Shape);
    }

    [TestMethod]
    public void Float16ConstantsDecodeThroughHalf()
    {
        var g = new TfjsGraph();
        g.Placeholder("x", 1, 4);
        float[] bias = [0.5f, -1.25f, 1f / 3, 65504f];
        g.Floats("bias", bias, [4], float16: true);
        g.Op("AddV2", "y", ["x", "bias"]);

        var (outputs, _) = g.Run("x", [0, 0, 0, 0], [1, 4], ["y"]);

        CollectionAssert.AreEqual(bias.Select(v => (float)(Half)v).ToArray(), outputs["y"].Data);
        Assert.AreEqual(0.33325195f, outputs["y"].Data[2], "1/3 as float16");
    }

    [TestMethod]
    public void AnUnmappedOpIsNamedInTheError()
    {
        var g = new TfjsGraph();
        g.Placeholder("x", 1, 4);
        g.Op("Relu6", "clamp", ["x"]);

        var e = Assert.ThrowsExactly<NotSupportedException>(() => g.Run("x", [0, 0, 0, 0], [1, 4], ["clamp"]));

        StringAssert.Contains(e.Message, "Relu6");
        StringAssert.Contains(e.Message, "'clamp'");
    }

    /// <summary>TensorFlow's NHWC convolution with zero padding (top, left), by loops.</summary>
    private static float[] Conv(float[] x, long[] xs, float[] f, long[] fs, int stride, int padTop, int padLeft, int outH, int outW)
    {
        int h = (int)xs[1], w = (int)xs[2], c = (int)xs[3], kh = (int)fs[0], kw = (int)fs[1], co = (int)fs[3];
        var y = new float[outH * outW * co];
        for (int oy = 0; oy < outH; oy++)
            for (int ox = 0; ox < outW; ox++)
                for (int o = 0; o < co; o++)
                {
                    double sum = 0;
                    for (int i = 0; i < kh; i++)
                        for (int j = 0; j < kw; j++)
                        {
                            int iy = oy * stride + i - padTop, ix = ox * stride + j - padLeft;
                            if (iy < 0 || iy >= h || ix < 0 || ix >= w)
                                continue;
                            for (int k = 0; k < c; k++)
                                sum += x[(iy * w + ix) * c + k] * f[((i * kw + j) * c + k) * co + o];
                        }
                    y[(oy * outW + ox) * co + o] = (float)sum;
                }
        return y;
    }

    /// <summary>A 4-D array transposed: output axis k is input axis perm[k].</summary>
    private static float[] Permute(float[] x, long[] shape, long[] perm)
    {
        long[] outShape = perm.Select(a => shape[a]).ToArray();
        long[] strides = [shape[1] * shape[2] * shape[3], shape[2] * shape[3], shape[3], 1];
        var y = new float[x.Length];
        int n = 0;
        for (long a = 0; a < outShape[0]; a++)
            for (long b = 0; b < outShape[1]; b++)
                for (long c = 0; c < outShape[2]; c++)
                    for (long d = 0; d < outShape[3]; d++)
                        y[n++] = x[a * strides[perm[0]] + b * strides[perm[1]] + c * strides[perm[2]] + d * strides[perm[3]]];
        return y;
    }

    private static float Sigmoid(float v) => 1 / (1 + MathF.Exp(-v));

    private static float[] Seeded(int n, int seed)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, n).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();
    }

    private static void AssertClose(float[] expected, float[] actual)
    {
        Assert.AreEqual(expected.Length, actual.Length, "length");
        for (int i = 0; i < expected.Length; i++)
            Assert.AreEqual(expected[i], actual[i], 1e-5f, $"element {i}");
    }
}
