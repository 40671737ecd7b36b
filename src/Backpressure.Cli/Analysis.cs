using System.Collections.Immutable;
using Backpressure.Analyzers;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Text;

namespace Backpressure.Cli;

/// <summary>One site of a rule (BP0001, BP0003), as reported: the rewrites it offers (equivalence keys) and, when it offers none it may use, why.</summary>
public sealed record Finding(
    string Id, string Path, int Line, int Column, string Message, bool Fixable, string Severity, IReadOnlyList<string> Fixes, string? Reason);

/// <summary>A compiler diagnostic the fix would add, where it would be in the fixed file.</summary>
public sealed record CompilerMessage(string Id, string Path, int Line, int Column, string Message, string Severity)
{
    public override string ToString() => $"{Path}({Line},{Column}): {Severity} {Id}: {Message}";
}

/// <summary>One diagnostic of a rule the CLI runs and what the CLI knows about its project.</summary>
public sealed record Site(Diagnostic Diagnostic, ProjectId Project, bool HasRuntime)
{
    public string FilePath => Diagnostic.Location.SourceTree?.FilePath ?? string.Empty;

    /// <summary>The same site seen by every target framework of a project: one file, one span.</summary>
    public (string Path, TextSpan Span) Key => (FilePath, Diagnostic.Location.SourceSpan);
}

/// <summary>
/// What one analysis of a project found: the sites of the rules run and, when asked for, the compiler's errors and
/// warnings; and whether the runtime's <c>Backpressure.IBufferedChannel</c> is in its compilation.
/// </summary>
public sealed record ProjectAnalysis(ImmutableArray<Diagnostic> Findings, ImmutableArray<Diagnostic> Errors, ImmutableArray<Diagnostic> Warnings, bool HasRuntime);

/// <summary>Runs the chosen rules over every project, with each project's own options (.editorconfig severities and BP0001.member_names).</summary>
public static class Analysis
{
    public const string RuntimeContract = "Backpressure.IBufferedChannel";

    public const string MissingRuntimeReason = PollingSite.MissingRuntimeReason;

    /// <summary>
    /// Analyses one project. With <paramref name="withCompiler"/> the compiler's errors and warnings come from
    /// the same pass: the analyzer driver compiles every method body anyway, so asking for both costs about as
    /// much as asking for the analyzer's findings alone, and far less than a second, separate compile.
    /// </summary>
    public static async Task<ProjectAnalysis> AnalyzeAsync(Project project, ImmutableArray<Rule> rules, bool withCompiler, CancellationToken cancellationToken)
    {
        var compilation = await project.GetCompilationAsync(cancellationToken)
            ?? throw new CliException(ExitCodes.BadInput, $"'{project.Name}' has no compilation.");
        var diagnostics = await RunAsync(project, compilation, rules, withAnalyzers => withCompiler
            ? withAnalyzers.GetAllDiagnosticsAsync(cancellationToken)
            : withAnalyzers.GetAnalyzerDiagnosticsAsync(cancellationToken));
        return From(diagnostics, rules, withCompiler, compilation, cancellationToken);
    }

    /// <summary>
    /// Analyses some files of a project: its analyzers' findings and the compiler's errors and warnings in those
    /// files alone. Each file is compiled on its own, so this pays only for the files given.
    /// </summary>
    public static async Task<ProjectAnalysis> AnalyzeTreesAsync(Project project, Compilation compilation, IReadOnlyList<SyntaxTree> trees, ImmutableArray<Rule> rules, CancellationToken cancellationToken)
    {
        var found = await RunAsync(project, compilation, rules, async withAnalyzers =>
        {
            var all = new List<Diagnostic>();
            await Parallel.ForEachAsync(trees, new ParallelOptions { CancellationToken = cancellationToken, MaxDegreeOfParallelism = Environment.ProcessorCount }, async (tree, token) =>
            {
                var model = withAnalyzers.Compilation.GetSemanticModel(tree);
                var diagnostics = new List<Diagnostic>();
                diagnostics.AddRange(await withAnalyzers.GetAnalyzerSyntaxDiagnosticsAsync(tree, token));
                diagnostics.AddRange(await withAnalyzers.GetAnalyzerSemanticDiagnosticsAsync(model, null, token));
                diagnostics.AddRange(compilation.GetSemanticModel(tree).GetDiagnostics(null, token));
                lock (all)
                {
                    all.AddRange(diagnostics);
                }
            });
            return [.. all];
        });
        return From(found, rules, withCompiler: true, compilation, cancellationToken);
    }

    /// <summary>Runs the rules' analyzers over <paramref name="compilation"/> with the project's options; an analyzer that throws fails the run with one line.</summary>
    private static async Task<ImmutableArray<Diagnostic>> RunAsync(
        Project project, Compilation compilation, ImmutableArray<Rule> rules, Func<CompilationWithAnalyzers, Task<ImmutableArray<Diagnostic>>> run)
    {
        var thrown = new List<Exception>();
        var options = new CompilationWithAnalyzersOptions(project.AnalyzerOptions, (ex, _, _) => { lock (thrown) { thrown.Add(ex); } }, concurrentAnalysis: true, logAnalyzerExecutionTime: false);
        var diagnostics = await run(compilation.WithAnalyzers([.. rules.Select(r => r.Analyzer)], options));
        return thrown.Count > 0
            ? throw new CliException(ExitCodes.BadInput, $"the analyzer failed on '{project.Name}': {thrown[0].Message}")
            : diagnostics;
    }

    /// <summary>A pass's diagnostics sorted into the rules' findings and the compiler's errors and warnings.</summary>
    private static ProjectAnalysis From(ImmutableArray<Diagnostic> diagnostics, ImmutableArray<Rule> rules, bool withCompiler, Compilation compilation, CancellationToken cancellationToken)
    {
        var ours = rules.SelectMany(r => r.Analyzer.SupportedDiagnostics).Select(d => d.Id).ToHashSet(StringComparer.Ordinal);
        var compiler = withCompiler ? diagnostics.Where(d => !d.IsSuppressed && !ours.Contains(d.Id)).ToList() : [];
        return new ProjectAnalysis(
            diagnostics
                .Where(d => rules.Any(r => r.Id == d.Id) && !d.IsSuppressed && d.Severity != DiagnosticSeverity.Hidden && d.Location.IsInSource)

                // A file that does not parse is skipped (the loader says so): its sites are not reported, and so never fixed.
                .Where(d => !d.Location.SourceTree!.GetDiagnostics(cancellationToken).Any(e => e.Severity == DiagnosticSeverity.Error))
                .ToImmutableArray(),
            [.. compiler.Where(d => d.Severity == DiagnosticSeverity.Error)],
            [.. compiler.Where(d => d.Severity == DiagnosticSeverity.Warning && !d.IsWarningAsError)],
            compilation.GetTypeByMetadataName(RuntimeContract) is not null);
    }

    /// <summary>Analyses every C# project of <paramref name="solution"/> (each target framework of a project is one).</summary>
    public static async Task<ImmutableDictionary<ProjectId, ProjectAnalysis>> AnalyzeAsync(
        Solution solution, ImmutableArray<Rule> rules, bool withCompiler, CancellationToken cancellationToken)
    {
        var result = ImmutableDictionary.CreateBuilder<ProjectId, ProjectAnalysis>();
        foreach (var project in solution.Projects.Where(p => p.Language == LanguageNames.CSharp))
        {
            result[project.Id] = await AnalyzeAsync(project, rules, withCompiler, cancellationToken);
        }

        return result.ToImmutable();
    }

    /// <summary>
    /// Every site of an analysis, each once however many target frameworks see it; where targets see
    /// it differently (one has no runtime), as the target that offers the least sees it.
    /// </summary>
    public static ImmutableArray<Site> Sites(ImmutableDictionary<ProjectId, ProjectAnalysis> analysis) =>
        [.. analysis
            .OrderBy(p => p.Key.Id)
            .SelectMany(p => p.Value.Findings.Select(d => new Site(d, p.Key, p.Value.HasRuntime)))
            .GroupBy(s => s.Key)
            .Select(g => g.OrderBy(s => FixLevels.Offered(s.Diagnostic).Length).ThenBy(s => s.HasRuntime).First())];

    /// <summary>Why a site has no rewrite its run may apply, for people; null when it has one or no reason is known.</summary>
    public static string? Reason(Site site, FixLevel level)
    {
        var offered = FixLevels.Offered(site.Diagnostic);
        if (offered.Length > 0)
        {
            return FixLevels.Choose(site.Diagnostic, level) is null
                ? $"its rewrite needs --fix-level {FixLevels.OptionValue(FixLevels.LevelOf(offered.OrderBy(FixLevels.LevelOf).First()))}"
                : null;
        }

        if (site.Diagnostic.Properties.TryGetValue(FixLevels.NoFixProperty, out var reason) && !string.IsNullOrWhiteSpace(reason))
        {
            return reason;
        }

        // Only rewrites that call the runtime need it: BP0003's signal is the BCL's SemaphoreSlim.
        return site.HasRuntime || !Rule.Of(site.Diagnostic.Id).NeedsRuntime ? null : MissingRuntimeReason;
    }

    public static Finding ToFinding(Site site, string root, FixLevel level, LinePosition? position = null)
    {
        var diagnostic = site.Diagnostic;
        var span = diagnostic.Location.GetLineSpan();
        var start = position ?? span.StartLinePosition;
        var fixes = FixLevels.Offered(diagnostic);
        return new Finding(
            diagnostic.Id,
            WorkspaceLoader.Relative(root, span.Path),
            start.Line + 1,
            start.Character + 1,
            MessageWithoutReason(diagnostic),
            FixLevels.Choose(diagnostic, level) is not null,
            diagnostic.Severity == DiagnosticSeverity.Error ? "error" : diagnostic.Severity == DiagnosticSeverity.Info ? "note" : "warning",
            fixes,
            Reason(site, level));
    }

    /// <summary>The analyzer's message without the no-fix reason it ends with: the reports give the reason a field of its own.</summary>
    private static string MessageWithoutReason(Diagnostic diagnostic)
    {
        var message = diagnostic.GetMessage();
        return diagnostic.Properties.TryGetValue(FixLevels.NoFixProperty, out var reason) && reason is not null
            && message.EndsWith(PollingSite.NoFixMessagePrefix + reason + ")", StringComparison.Ordinal)
                ? message[..^(PollingSite.NoFixMessagePrefix.Length + reason.Length + 1)]
                : message;
    }

    public static CompilerMessage ToMessage(Diagnostic diagnostic, string root, string fallbackPath)
    {
        var span = diagnostic.Location.GetLineSpan();
        var path = string.IsNullOrEmpty(span.Path) ? fallbackPath : WorkspaceLoader.Relative(root, span.Path);
        return new CompilerMessage(diagnostic.Id, path, span.StartLinePosition.Line + 1, span.StartLinePosition.Character + 1, diagnostic.GetMessage(),
            diagnostic.Severity == DiagnosticSeverity.Error ? "error" : "warning");
    }
}
