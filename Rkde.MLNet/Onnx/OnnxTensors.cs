using System.Runtime.InteropServices;
using Onnx;
using DataType = Onnx.TensorProto.Types.DataType;

namespace Rkde.MLNet.Onnx;

/// <summary>Reads and writes the float and double data of ONNX tensors (raw or typed storage).</summary>
internal static class OnnxTensors
{
    public static float[] ToFloats(TensorProto tensor) => Values(tensor, DataType.Float, tensor.FloatData);

    public static double[] ToDoubles(TensorProto tensor) => Values(tensor, DataType.Double, tensor.DoubleData);

    /// <summary>The tensor's values from its raw bytes, or else from its typed field <paramref name="typed"/>.</summary>
    private static T[] Values<T>(TensorProto tensor, DataType type, IEnumerable<T> typed) where T : unmanaged
    {
        if (tensor.DataType != (int)type)
            throw new InvalidDataException($"ONNX tensor '{tensor.Name}' holds data type {tensor.DataType}, expected {type.ToString().ToLowerInvariant()}.");
        return tensor.RawData.Length > 0 ? MemoryMarshal.Cast<byte, T>(tensor.RawData.Span).ToArray() : [.. typed];
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
