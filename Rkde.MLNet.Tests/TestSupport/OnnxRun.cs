using Microsoft.ML.OnnxRuntime;

namespace Rkde.MLNet.Tests.TestSupport;

/// <summary>Runs an in-memory ONNX graph through ONNX Runtime and returns every output (data and shape).</summary>
internal sealed class OnnxRun : IDisposable
{
    private readonly InferenceSession _session;

    public OnnxRun(byte[] model, SessionOptions? options = null) =>
        _session = options is null ? new InferenceSession(model) : new InferenceSession(model, options);

    public ModelMetadata Metadata => _session.ModelMetadata;

    public Dictionary<string, (Array Data, long[] Shape)> Run(params (string Name, Array Data, long[] Shape)[] inputs)
    {
        var values = inputs.Select(i => i.Data switch
        {
            float[] f => OrtValue.CreateTensorValueFromMemory(f, i.Shape),
            byte[] b => OrtValue.CreateTensorValueFromMemory(b, i.Shape),
            long[] l => OrtValue.CreateTensorValueFromMemory(l, i.Shape),
            _ => throw new ArgumentException($"Unsupported input type {i.Data.GetType()}"),
        }).ToArray();
        try
        {
            var names = _session.OutputNames;
            using var run = new RunOptions();
            using var outputs = _session.Run(run, inputs.Select(i => i.Name).ToArray(), values, names);
            var result = new Dictionary<string, (Array, long[])>();
            for (int o = 0; o < names.Count; o++)
            {
                var info = outputs[o].GetTensorTypeAndShape();
                Array data = info.ElementDataType switch
                {
                    Microsoft.ML.OnnxRuntime.Tensors.TensorElementType.Float => outputs[o].GetTensorDataAsSpan<float>().ToArray(),
                    Microsoft.ML.OnnxRuntime.Tensors.TensorElementType.Int64 => outputs[o].GetTensorDataAsSpan<long>().ToArray(),
                    Microsoft.ML.OnnxRuntime.Tensors.TensorElementType.Bool => outputs[o].GetTensorDataAsSpan<bool>().ToArray(),
                    var t => throw new NotSupportedException(t.ToString()),
                };
                result[names[o]] = (data, info.Shape);
            }
            return result;
        }
        finally
        {
            foreach (var v in values)
                v.Dispose();
        }
    }

    public void Dispose() => _session.Dispose();
}
