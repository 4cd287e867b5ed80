using System.Globalization;

namespace Rkde.MLNet;

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

    private static string Format(double v) => double.IsPositiveInfinity(v) ? "∞" : v.ToString(CultureInfo.InvariantCulture);
}
