using System.Collections.Immutable;
using Backpressure.Analyzers;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Diagnostics;

namespace Backpressure.Cli;

/// <summary>One BP0001 site, as reported.</summary>
public sealed record Finding(string Id, string Path, int Line, int Column, string Message, bool Fixable, string Severity);

/// <summary>Runs BP0001 over every project, with each project's own options (.editorconfig severity and BP0001.member_names).</summary>
public static class Analysis
{
    public static async Task<ImmutableArray<Diagnostic>> DiagnosticsAsync(Project project, CancellationToken cancellationToken)
    {
        var compilation = await project.GetCompilationAsync(cancellationToken)
            ?? throw new CliException(ExitCodes.BadInput, $"'{project.Name}' has no compilation.");
        var thrown = new List<Exception>();
        var options = new CompilationWithAnalyzersOptions(project.AnalyzerOptions, (ex, _, _) => { lock (thrown) { thrown.Add(ex); } }, concurrentAnalysis: true, logAnalyzerExecutionTime: false);
        var diagnostics = await compilation
            .WithAnalyzers([new BP0001BufferedAmountPollingAnalyzer()], options)
            .GetAnalyzerDiagnosticsAsync(cancellationToken);
        if (thrown.Count > 0)
        {
            throw new CliException(ExitCodes.BadInput, $"the analyzer failed on '{project.Name}': {thrown[0].Message}");
        }

        return diagnostics
            .Where(d => d.Id == DiagnosticIds.BufferedAmountPolling && !d.IsSuppressed && d.Severity != DiagnosticSeverity.Hidden && d.Location.IsInSource)
            .ToImmutableArray();
    }

    public static async Task<ImmutableArray<Diagnostic>> DiagnosticsAsync(Solution solution, CancellationToken cancellationToken)
    {
        var all = ImmutableArray.CreateBuilder<Diagnostic>();
        foreach (var project in solution.Projects.Where(p => p.Language == LanguageNames.CSharp))
        {
            all.AddRange(await DiagnosticsAsync(project, cancellationToken));
        }

        return all.ToImmutable();
    }

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
