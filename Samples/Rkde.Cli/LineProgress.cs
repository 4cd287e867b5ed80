namespace Rkde.Cli;

/// <summary>
/// Writes each progress message as an indented line, on the reporting thread and before the call that reports returns
/// (<see cref="Progress{T}"/> would post it to the thread pool, where it can land after the command's own lines).
/// </summary>
internal sealed class LineProgress(TextWriter writer) : IProgress<string>
{
    public void Report(string value) => writer.WriteLine($"  {value}");
}
