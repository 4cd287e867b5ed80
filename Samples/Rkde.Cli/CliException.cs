namespace Rkde.Cli;

/// <summary>A failure caused by the user's arguments or input: printed as one line on stderr, exit code 1.</summary>
internal sealed class CliException(string message) : Exception(message);
