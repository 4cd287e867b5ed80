using System.Globalization;

namespace Rkde.MLNet.Checks;

/// <summary>Validation of option values, with messages that name the option, the value and the valid range.</summary>
internal static class OptionChecks
{
    public static void InRange(string option, double value, double min, double max, bool minExclusive = false)
    {
        bool ok = !double.IsNaN(value) && (minExclusive ? value > min : value >= min) && value <= max;
        if (!ok)
        {
            string lower = minExclusive ? "(" : "[";
            throw new ArgumentOutOfRangeException(option, value,
                string.Create(CultureInfo.InvariantCulture,
                    $"{option} = {value} is invalid: it must be in {lower}{Format(min)}, {Format(max)}]."));
        }
    }

    public static void AtLeast(string option, long value, long min, string? reason = null)
    {
        if (value < min)
        {
            throw new ArgumentOutOfRangeException(option, value,
                string.Create(CultureInfo.InvariantCulture,
                    $"{option} = {value} is invalid: it must be at least {min}{(reason is null ? "" : " " + reason)}."));
        }
    }

    public static void NotEmpty(string option, string? value)
    {
        if (string.IsNullOrWhiteSpace(value))
            throw new ArgumentException($"{option} must name a column; it is empty.", option);
    }

    /// <summary>Model input sizes: at least 1 pixel, at most 8192 (a sanity bound on ONNX tensor sizes).</summary>
    public static void ImageSize(string widthOption, int width, string heightOption, int height)
    {
        InRange(widthOption, width, 1, 8192);
        InRange(heightOption, height, 1, 8192);
    }

    public static void Defined<T>(string option, T value) where T : struct, Enum
    {
        if (!Enum.IsDefined(value))
            throw new ArgumentOutOfRangeException(option, value,
                $"{option} = {value} is invalid: it must be one of {string.Join(", ", Enum.GetNames<T>())}.");
    }

    /// <summary>Output column names must be non-empty and distinct.</summary>
    public static void DistinctColumns(params (string Option, string Value)[] columns)
    {
        foreach (var (option, value) in columns)
            NotEmpty(option, value);
        foreach (var group in columns.GroupBy(c => c.Value).Where(g => g.Count() > 1))
            throw new ArgumentException(
                $"{string.Join(" and ", group.Select(c => c.Option))} are all '{group.Key}': output columns need distinct names.", group.First().Option);
    }

    private static string Format(double v) => double.IsPositiveInfinity(v) ? "∞" : v.ToString(CultureInfo.InvariantCulture);
}
