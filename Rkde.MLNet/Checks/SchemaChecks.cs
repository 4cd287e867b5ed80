using Microsoft.ML;
using Microsoft.ML.Data;
using VectorKind = Microsoft.ML.SchemaShape.Column.VectorKind;

namespace Rkde.MLNet.Checks;

/// <summary>Input-column checks for GetOutputSchema and Fit, with messages that name the column, the option and the expected type.</summary>
internal static class SchemaChecks
{
    public static void FloatVector(SchemaShape schema, string column, string option, string meaning) =>
        FloatVector(Find(schema, column), column, option, meaning);

    public static void FloatVector(DataViewSchema schema, string column, string option, string meaning) =>
        FloatVector(Find(schema, column), column, option, meaning);

    public static void Text(SchemaShape schema, string column, string option, string meaning) =>
        Text(Find(schema, column), column, option, meaning);

    public static void Text(DataViewSchema schema, string column, string option, string meaning) =>
        Text(Find(schema, column), column, option, meaning);

    private static void FloatVector(Found found, string column, string option, string meaning) =>
        Require(found, column, option, $"a vector of Single ({meaning})", f => f.Kind != VectorKind.Scalar && f.Item == NumberDataViewType.Single);

    private static void Text(Found found, string column, string option, string meaning) =>
        Require(found, column, option, $"String ({meaning})", f => f.Kind == VectorKind.Scalar && f.Item is TextDataViewType);

    private readonly record struct Found(bool Exists, VectorKind Kind, DataViewType? Item);

    private static Found Find(SchemaShape schema, string name)
    {
        foreach (var c in schema)
        {
            if (c.Name == name)
                return new Found(true, c.Kind, c.ItemType);
        }
        return default;
    }

    private static Found Find(DataViewSchema schema, string name) => schema.GetColumnOrNull(name)?.Type switch
    {
        null => default,
        VectorDataViewType v => new Found(true, v.IsKnownSize ? VectorKind.Vector : VectorKind.VariableVector, v.ItemType),
        var t => new Found(true, VectorKind.Scalar, t),
    };

    private static void Require(Found found, string column, string option, string expected, Func<Found, bool> ok)
    {
        if (!found.Exists)
            throw new ArgumentOutOfRangeException("inputSchema", $"Input column '{column}' ({option}) is missing; expected {expected}.");
        if (!ok(found))
            throw new ArgumentOutOfRangeException("inputSchema", $"Input column '{column}' ({option}) is {Describe(found)}; expected {expected}.");
    }

    private static string Describe(Found f) => f.Kind switch
    {
        VectorKind.Scalar => $"{f.Item}",
        VectorKind.Vector => $"a vector of {f.Item}",
        _ => $"a variable-length vector of {f.Item}",
    };

    /// <summary>Whether the column is a vector of known size (the caller has checked it exists).</summary>
    public static bool IsKnownSizeVector(SchemaShape schema, string column) => Find(schema, column).Kind == VectorKind.Vector;
}
