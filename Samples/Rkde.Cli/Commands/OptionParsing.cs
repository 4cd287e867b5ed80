namespace Rkde.Cli.Commands;

/// <summary>Parsing helpers shared by the commands.</summary>
internal static class OptionParsing
{
    /// <summary>Parses "56-96" (or "64" for 64-64) into a range.</summary>
    public static (int Min, int Max) Range(string text, string optionName)
    {
        string[] parts = text.Split('-', StringSplitOptions.TrimEntries);
        if (parts.Length is 1 or 2 && int.TryParse(parts[0], out int min))
        {
            if (parts.Length == 1)
            {
                return (min, min);
            }
            if (int.TryParse(parts[1], out int max))
            {
                return (min, max);
            }
        }
        throw new CliException($"{optionName}: '{text}' is not a range like 56-96 or a single number.");
    }
}
