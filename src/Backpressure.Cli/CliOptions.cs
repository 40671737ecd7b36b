using System.Collections.Immutable;

namespace Backpressure.Cli;

public enum Verb
{
    Check,
    Fix,
}

public enum ReportFormat
{
    Text,
    Json,
    Sarif,
}

/// <summary>Everything a run was asked to do, parsed once.</summary>
public sealed record CliOptions(Verb Verb, string Path, ReportFormat Format, string? OutputFile, bool DryRun)
{
    /// <summary>Gets the most complete rewrite fix may apply at a BP0001 site (other rules' rewrites have no levels).</summary>
    public FixLevel FixLevel { get; init; } = FixLevel.SendLoop;

    /// <summary>Gets the rules to run (--diagnostics): every rule the tool knows unless some are named.</summary>
    public ImmutableArray<Rule> Rules { get; init; } = Rule.All;

    /// <summary>Gets the MSBuild configuration projects are loaded in, as a build would be without -c.</summary>
    public string Configuration { get; init; } = "Debug";
}
