using System.Runtime.InteropServices;
using Onnx;
using DataType = Onnx.TensorProto.Types.DataType;

namespace Rkde.MLNet.Onnx;

/// <summary>Reads and writes the float and double data of ONNX tensors (raw or typed storage).</summary>
internal static class OnnxTensors
{
    public static float[] ToFloats(TensorProto tensor)
    {
        if (tensor.DataType != (int)DataType.Float)
            throw new InvalidDataException($"ONNX tensor '{tensor.Name}' holds data type {tensor.DataType}, expected float.");
        return tensor.RawData.Length > 0
            ? MemoryMarshal.Cast<byte, float>(tensor.RawData.Span).ToArray()
            : [.. tensor.FloatData];
    }

    public static double[] ToDoubles(TensorProto tensor)
    {
        if (tensor.DataType != (int)DataType.Double)
            throw new InvalidDataException($"ONNX tensor '{tensor.Name}' holds data type {tensor.DataType}, expected double.");
        return tensor.RawData.Length > 0
            ? MemoryMarshal.Cast<byte, double>(tensor.RawData.Span).ToArray()
            : [.. tensor.DoubleData];
    }

    public static TensorProto FromFloats(string name, float[] values, IEnumerable<long> dims)
    {
        var tensor = new TensorProto
        {
            Name = name,
            DataType = (int)DataType.Float,
            RawData = Google.Protobuf.ByteString.CopyFrom(MemoryMarshal.AsBytes(values.AsSpan())),
        };
        tensor.Dims.AddRange(dims);
        return tensor;
    }
}
