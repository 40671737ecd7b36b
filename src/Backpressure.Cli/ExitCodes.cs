namespace Backpressure.Cli;

/// <summary>What the tool's exit code means (also listed in --help and the README).</summary>
public static class ExitCodes
{
    /// <summary>Nothing found (check), or every finding fixed (fix).</summary>
    public const int Success = 0;

    /// <summary>Findings remain: any finding (check), or sites without an automatic fix (fix).</summary>
    public const int FindingsRemain = 1;

    /// <summary>Bad input or a load failure: one readable line on stderr, nothing written.</summary>
    public const int BadInput = 2;

    /// <summary>The fix was refused: the fixed code would have new compiler errors. Nothing written; the errors are listed.</summary>
    public const int FixRefused = 3;

    /// <summary>Interrupted (Ctrl-C): one line on stderr; every file is as it was (128 + SIGINT, as shells report it).</summary>
    public const int Interrupted = 130;

    public const string Help = "Exit codes: 0 nothing found / everything fixed; 1 findings remain (check: any; fix: sites without an automatic fix); 2 bad input or load failure (nothing written); 3 fix refused because the fixed code would not compile (nothing written); 130 interrupted (every file as it was).";
}

/// <summary>A failure the tool reports as one line and an exit code.</summary>
public sealed class CliException(int exitCode, string message) : Exception(message)
{
    public int ExitCode { get; } = exitCode;
}
