using System.Numerics.Tensors;

namespace Rkde.MLNet.Density;

internal sealed partial class KdeDensityModel
{
    /// <summary>Components transposed (k × D), in double; built on first use.</summary>
    private double[]? _componentsByColumn;

    /// <summary>
    /// The fitted projection of one feature row: y = scale((x − Mean)·Components), the rows the KDE's sample holds. Returns
    /// ‖x − Mean‖² and ‖(x − Mean)·Components‖² (before scaling), whose ratio is the share of the row's spread the
    /// components explain. <paramref name="centred"/> is scratch of length D.
    /// </summary>
    internal (double Centred, double Projected) Project(ReadOnlySpan<float> row, Span<double> y, Span<double> centred)
    {
        int k = ComponentCount, dim = FeatureDimension;
        var components = ComponentsByColumn();
        centred = centred[..dim];
        TensorPrimitives.ConvertChecked<float, double>(row, centred);
        TensorPrimitives.Subtract(centred, MeanAsDouble(), centred);
        for (int j = 0; j < k; j++) y[j] = TensorPrimitives.Dot<double>(centred, components.AsSpan(j * dim, dim));
        double projected = TensorPrimitives.SumOfSquares<double>(y);
        if (Scaling == FeatureScalingMethod.Scale)
        {
            if (MaxLength > 0) TensorPrimitives.Divide(y, MaxLength, y);
        }
        else if (projected > 0)
        {
            TensorPrimitives.Divide(y, Math.Sqrt(projected), y);
        }
        return (TensorPrimitives.SumOfSquares<double>(centred), projected);
    }

    /// <summary>The mean in double; built on first use.</summary>
    private double[] MeanAsDouble() => _meanAsDouble ??= Array.ConvertAll(Mean, v => (double)v);

    private double[]? _meanAsDouble;

    /// <summary>Components transposed (k × D) in double, for vectorized projections; built on first use.</summary>
    private double[] ComponentsByColumn()
    {
        if (_componentsByColumn is { } cached) return cached;
        int dim = FeatureDimension, k = ComponentCount;
        var t = new double[Components.Length];
        for (int d = 0; d < dim; d++)
        for (int j = 0; j < k; j++) t[(long)j * dim + d] = Components[(long)d * k + j];
        return _componentsByColumn = t;
    }
}
