using System.Collections.Immutable;
using Backpressure.Analyzers;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Diagnostics;

namespace Backpressure.Cli;

/// <summary>One BP0001 site, as reported.</summary>
public sealed record Finding(string Id, string Path, int Line, int Column, string Message, bool Fixable, string Severity);

/// <summary>What one analysis of a project found: its BP0001 sites and, when asked for, its compiler errors.</summary>
public sealed record ProjectAnalysis(ImmutableArray<Diagnostic> Findings, ImmutableArray<Diagnostic> Errors);

/// <summary>Runs BP0001 over every project, with each project's own options (.editorconfig severity and BP0001.member_names).</summary>
public static class Analysis
{
    /// <summary>
    /// Analyses one project. With <paramref name="withErrors"/> the compiler's errors come from the same pass:
    /// the analyzer driver compiles every method body anyway, so asking for both costs about as much as
    /// asking for the analyzer's findings alone, and far less than a second, separate compile.
    /// </summary>
    public static async Task<ProjectAnalysis> AnalyzeAsync(Project project, bool withErrors, CancellationToken cancellationToken)
    {
        var compilation = await project.GetCompilationAsync(cancellationToken)
            ?? throw new CliException(ExitCodes.BadInput, $"'{project.Name}' has no compilation.");
        var thrown = new List<Exception>();
        var options = new CompilationWithAnalyzersOptions(project.AnalyzerOptions, (ex, _, _) => { lock (thrown) { thrown.Add(ex); } }, concurrentAnalysis: true, logAnalyzerExecutionTime: false);
        var analyzer = new BP0001BufferedAmountPollingAnalyzer();
        var withAnalyzers = compilation.WithAnalyzers([analyzer], options);
        var diagnostics = withErrors
            ? await withAnalyzers.GetAllDiagnosticsAsync(cancellationToken)
            : await withAnalyzers.GetAnalyzerDiagnosticsAsync(cancellationToken);
        if (thrown.Count > 0)
        {
            throw new CliException(ExitCodes.BadInput, $"the analyzer failed on '{project.Name}': {thrown[0].Message}");
        }

        var ours = analyzer.SupportedDiagnostics.Select(d => d.Id).ToHashSet(StringComparer.Ordinal);
        return new ProjectAnalysis(
            diagnostics
                .Where(d => d.Id == DiagnosticIds.BufferedAmountPolling && !d.IsSuppressed && d.Severity != DiagnosticSeverity.Hidden && d.Location.IsInSource)
                .ToImmutableArray(),
            withErrors
                ? diagnostics.Where(d => d.Severity == DiagnosticSeverity.Error && !d.IsSuppressed && !ours.Contains(d.Id)).ToImmutableArray()
                : []);
    }

    /// <summary>
    /// Analyses every C# project of <paramref name="solution"/>, or, given an earlier analysis of the same
    /// solution and the projects changed since, only those and the projects that depend on them.
    /// </summary>
    public static async Task<ImmutableDictionary<ProjectId, ProjectAnalysis>> AnalyzeAsync(
        Solution solution,
        bool withErrors,
        CancellationToken cancellationToken,
        ImmutableDictionary<ProjectId, ProjectAnalysis>? previous = null,
        IEnumerable<ProjectId>? changed = null)
    {
        HashSet<ProjectId>? stale = null;
        if (previous is not null && changed is not null)
        {
            var graph = solution.GetProjectDependencyGraph();
            stale = [.. changed.SelectMany(id => graph.GetProjectsThatTransitivelyDependOnThisProject(id).Append(id))];
        }

        var result = ImmutableDictionary.CreateBuilder<ProjectId, ProjectAnalysis>();
        foreach (var project in solution.Projects.Where(p => p.Language == LanguageNames.CSharp))
        {
            result[project.Id] = stale is not null && !stale.Contains(project.Id) && previous!.TryGetValue(project.Id, out var kept)
                ? kept
                : await AnalyzeAsync(project, withErrors, cancellationToken);
        }

        return result.ToImmutable();
    }

    /// <summary>Every BP0001 site in the solution.</summary>
    public static async Task<ImmutableArray<Diagnostic>> DiagnosticsAsync(Solution solution, CancellationToken cancellationToken) =>
        Findings(await AnalyzeAsync(solution, withErrors: false, cancellationToken));

    /// <summary>The BP0001 sites of an analysis, in no particular order.</summary>
    public static ImmutableArray<Diagnostic> Findings(ImmutableDictionary<ProjectId, ProjectAnalysis> analysis) =>
        [.. analysis.Values.SelectMany(a => a.Findings)];

    public static Finding ToFinding(Diagnostic diagnostic, string root)
    {
        var span = diagnostic.Location.GetLineSpan();
        return new Finding(
            diagnostic.Id,
            WorkspaceLoader.Relative(root, span.Path),
            span.StartLinePosition.Line + 1,
            span.StartLinePosition.Character + 1,
            diagnostic.GetMessage(),
            diagnostic.Properties.ContainsKey(PollingSite.FixKey),
            diagnostic.Severity == DiagnosticSeverity.Error ? "error" : diagnostic.Severity == DiagnosticSeverity.Info ? "note" : "warning");
    }
}
