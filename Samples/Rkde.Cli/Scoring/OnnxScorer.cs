using Microsoft.ML.OnnxRuntime;
using Rkde.Cli.Evaluate.Metrics;
using Rkde.MLNet;
using SkiaSharp;

namespace Rkde.Cli.Scoring;

/// <summary>
/// Scores through a model's exported ONNX graph with ONNX Runtime alone, as an application outside .NET's ML stack would: one
/// image per call through the single-image graph (uint8 RGB of any size, resized inside), or <c>batch</c> images per call
/// through the batched graph (stretched here to the model input size with SkiaSharp's nearest sampling, as ML.NET does).
/// Images are decoded as ML.NET's LoadImages decodes them (SkiaSharp, premultiplied alpha), so scores match the .zip's.
/// </summary>
internal sealed class OnnxScorer : IImageScorer
{
    private readonly InferenceSession _single;
    private readonly InferenceSession? _batched;
    private readonly int _batch;
    private readonly RkdeModelInfo _info;

    public OnnxScorer(byte[] single, byte[]? batched, int batch, RkdeModelInfo info)
    {
        using var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL };
        options.AddSessionConfigEntry("session.intra_op.allow_spinning", "0");
        _single = new InferenceSession(single, options);
        _batched = batched is null ? null : new InferenceSession(batched, options);
        _batch = batch;
        _info = info;
    }

    public int BatchSize => _batch;

    public float? Threshold => _info.Threshold;

    public double? FalsePositiveRate => _info.FalsePositiveRate;

    public ImageScore Score(string imagePath, int width, int height)
    {
        var (rgb, w, h) = Decode(imagePath, resizeTo: null);
        using var image = OrtValue.CreateTensorValueFromMemory(rgb, [h, w, 3]);
        using var run = new RunOptions();
        using var outputs = _single.Run(run, ["image"], [image], ["boxes", "box_scores", "score"]);
        var boxes = outputs[0].GetTensorDataAsSpan<float>();
        var scores = outputs[1].GetTensorDataAsSpan<float>();
        var detections = new List<Detection>(scores.Length);
        for (int i = 0; i < scores.Length; i++)
            detections.Add(new Detection(new BoundingBox(boxes[4 * i], boxes[4 * i + 1], boxes[4 * i + 2], boxes[4 * i + 3]), scores[i]));
        return new ImageScore(outputs[2].GetTensorDataAsSpan<float>()[0], detections);
    }

    public IReadOnlyList<ImageScore> Score(IReadOnlyList<(string Path, int Width, int Height)> images)
    {
        if (_batched is null || images.Count == 1)
            return images.Select(i => Score(i.Path, i.Width, i.Height)).ToList();
        int w = _info.ImageWidth, h = _info.ImageHeight, size = w * h * 3;
        var pixels = new byte[images.Count * size];
        for (int i = 0; i < images.Count; i++)
            Decode(images[i].Path, (w, h)).Rgb.CopyTo(pixels.AsSpan(i * size));
        using var input = OrtValue.CreateTensorValueFromMemory(pixels, [images.Count, h, w, 3]);
        using var run = new RunOptions();
        using var outputs = _batched.Run(run, ["images"], [input], ["boxes", "box_scores", "box_count", "score"]);
        var boxes = outputs[0].GetTensorDataAsSpan<float>();
        var scores = outputs[1].GetTensorDataAsSpan<float>();
        var counts = outputs[2].GetTensorDataAsSpan<long>();
        var imageScores = outputs[3].GetTensorDataAsSpan<float>();
        int most = scores.Length / images.Count;
        var results = new List<ImageScore>(images.Count);
        for (int i = 0; i < images.Count; i++)
        {
            // The batched graph's boxes are in model-input pixels: back to the original image's.
            float sx = (float)images[i].Width / w, sy = (float)images[i].Height / h;
            var detections = new List<Detection>((int)counts[i]);
            for (int j = 0; j < counts[i]; j++)
            {
                var b = boxes.Slice((i * most + j) * 4, 4);
                detections.Add(new Detection(new BoundingBox(b[0] * sx, b[1] * sy, b[2] * sx, b[3] * sy), scores[i * most + j]));
            }
            results.Add(new ImageScore(imageScores[i], detections));
        }
        return results;
    }

    /// <summary>The image as uint8 RGB [H, W, 3], decoded as ML.NET does, and optionally stretched as its ResizeImages (Fill) does.</summary>
    private static (byte[] Rgb, int Width, int Height) Decode(string path, (int Width, int Height)? resizeTo)
    {
        using var decoded = SKBitmap.Decode(path) ?? throw new CliException($"'{path}' could not be decoded.");
        using var rgba = decoded.ColorType == SKColorType.Rgba8888 ? null : decoded.Copy(SKColorType.Rgba8888);
        var source = rgba ?? decoded;
        using var resized = resizeTo is var (w, h) && (w != source.Width || h != source.Height)
            ? source.Resize(new SKSizeI(w, h), new SKSamplingOptions(SKFilterMode.Nearest))
            : null;
        var sized = resized ?? source;
        var pixels = sized.GetPixelSpan();
        var rgb = new byte[sized.Width * sized.Height * 3];
        for (int i = 0, n = sized.Width * sized.Height; i < n; i++)
        {
            rgb[3 * i] = pixels[4 * i];
            rgb[3 * i + 1] = pixels[4 * i + 1];
            rgb[3 * i + 2] = pixels[4 * i + 2];
        }
        return (rgb, sized.Width, sized.Height);
    }

    public void Dispose()
    {
        _single.Dispose();
        _batched?.Dispose();
    }
}
