using System.Collections.Immutable;
using Backpressure.Analyzers;
using Backpressure.CodeFixes;
using Microsoft.CodeAnalysis.CodeFixes;
using Microsoft.CodeAnalysis.Diagnostics;

namespace Backpressure.Cli;

/// <summary>
/// A rule the tool runs: its analyzer, the code fix whose fix-all <c>fix</c> applies, the equivalence keys
/// it may apply, and whether those rewrites call the runtime (then a project without the runtime gets no
/// fix for it, and every call a rewrite adds must bind to the runtime's method).
/// </summary>
public sealed record Rule(
    string Id, DiagnosticAnalyzer Analyzer, CodeFixProvider CodeFix, ImmutableArray<string> FixKeys, bool NeedsRuntime, string FixDescription)
{
    /// <summary>Gets every rule the tool knows, in id order: what it runs unless --diagnostics names some.</summary>
    public static ImmutableArray<Rule> All { get; } =
    [
        new(
            DiagnosticIds.BufferedAmountPolling, new BP0001BufferedAmountPollingAnalyzer(), new BP0001BufferedAmountPollingCodeFix(), FixLevels.Keys,
            NeedsRuntime: true, "Wait for the low-buffer event instead of polling (backpressure fix)."),
        new(
            DiagnosticIds.QueuePolling, new BP0003QueuePollingAnalyzer(), new BP0003QueuePollingCodeFix(),
            [BP0003QueuePollingCodeFix.SignalEquivalenceKey, BP0003QueuePollingCodeFix.TakeWithTimeoutEquivalenceKey],
            NeedsRuntime: false, "Wake when something is added instead of polling (backpressure fix)."),
    ];

    /// <summary>Gets the ids the tool knows, for messages: "BP0001, BP0003".</summary>
    public static string KnownIds => string.Join(", ", All.Select(r => r.Id));

    /// <summary>The rule that reports <paramref name="id"/>; only ids of <see cref="All"/> reach a finding.</summary>
    public static Rule Of(string id) => All.First(r => r.Id == id);

    /// <summary>
    /// The rules a comma-separated list of ids names (any case, in the table's order, each once); empty, with
    /// <paramref name="error"/> saying why, when the list names none or an id the tool does not know.
    /// </summary>
    public static ImmutableArray<Rule> Parse(string? list, out string? error)
    {
        var ids = (list ?? string.Empty).Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        error = ids.FirstOrDefault(id => !All.Any(r => string.Equals(r.Id, id, StringComparison.OrdinalIgnoreCase))) is { } unknown
            ? $"unknown --diagnostics id '{unknown}': choose from {KnownIds}, comma-separated."
            : ids.Length == 0 ? $"--diagnostics needs at least one id: choose from {KnownIds}, comma-separated." : null;
        return error is null ? [.. All.Where(r => ids.Contains(r.Id, StringComparer.OrdinalIgnoreCase))] : [];
    }
}
