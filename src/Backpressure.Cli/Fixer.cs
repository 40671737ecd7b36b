using System.Collections.Immutable;
using Backpressure.Analyzers;
using Backpressure.CodeFixes;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CodeActions;
using Microsoft.CodeAnalysis.CodeFixes;

namespace Backpressure.Cli;

/// <summary>
/// The outcome of fixing: the fixed solution, the documents it changed, the errors it would add, and the
/// BP0001 sites before (<paramref name="Found"/>) and after (<paramref name="Left"/>).
/// </summary>
public sealed record FixResult(
    Solution Fixed, IReadOnlyList<DocumentId> ChangedDocuments, IReadOnlyList<string> NewErrors, ImmutableArray<Diagnostic> Found, ImmutableArray<Diagnostic> Left);

/// <summary>
/// Applies BP0001's fix-all document by document, re-analyses, and repeats while sites remain fixable
/// (at most <see cref="MaxIterations"/> rounds, and never a round that changes nothing). Every analysis
/// also compiles (one pass gives both), and a re-analysis covers only the changed projects and those that
/// depend on them; the fix counts only if no project, changed or dependent, has an error it did not have.
/// </summary>
public static class Fixer
{
    public const int MaxIterations = 3;

    public static async Task<FixResult> FixAsync(Solution original, string root, CancellationToken cancellationToken)
    {
        var provider = new BP0001BufferedAmountPollingCodeFix();
        var fixAll = provider.GetFixAllProvider();
        var solution = original;
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var before = await Analysis.AnalyzeAsync(original, withErrors: true, cancellationToken);
        var analysis = before;

        for (var round = 0; round < MaxIterations; round++)
        {
            var fixable = Analysis.Findings(analysis)
                .Where(d => d.Properties.ContainsKey(PollingSite.FixKey))
                .ToList();

            // A site that is fixable again after being fixed would loop: stop instead.
            var keys = fixable.Select(d => $"{d.Location.SourceTree?.FilePath}|{d.Location.SourceTree?.GetText(cancellationToken).ToString(d.Location.SourceSpan)}").ToList();
            var fresh = keys.Count(k => seen.Add(k));
            if (fixable.Count == 0 || fresh == 0)
            {
                break;
            }

            var roundStart = solution;
            foreach (var group in fixable.GroupBy(d => solution.GetDocumentId(d.Location.SourceTree)))
            {
                if (group.Key is null || solution.GetDocument(group.Key) is not { } document)
                {
                    continue;
                }

                var context = new FixAllContext(
                    document, provider, FixAllScope.Document, BP0001BufferedAmountPollingCodeFix.ReplaceWaitEquivalenceKey,
                    [DiagnosticIds.BufferedAmountPolling], new KnownDiagnostics(group.ToImmutableArray()), cancellationToken);
                if (await fixAll!.GetFixAsync(context) is not { } action)
                {
                    continue;
                }

                foreach (var operation in await action.GetOperationsAsync(cancellationToken))
                {
                    if (operation is ApplyChangesOperation apply)
                    {
                        solution = apply.ChangedSolution;
                    }
                }
            }

            var changedThisRound = solution.GetChanges(roundStart).GetProjectChanges().Select(p => p.ProjectId).ToList();
            if (changedThisRound.Count == 0)
            {
                break;
            }

            analysis = await Analysis.AnalyzeAsync(solution, withErrors: true, cancellationToken, analysis, changedThisRound);
        }

        var changed = solution.GetChanges(original).GetProjectChanges().SelectMany(p => p.GetChangedDocuments()).ToList();
        var newErrors = NewErrors(before, analysis, solution, root);
        return new FixResult(solution, changed, newErrors, Analysis.Findings(before), Analysis.Findings(analysis));
    }

    /// <summary>Errors the fixed projects have that the originals did not, matched by id, file and message (positions move).</summary>
    private static List<string> NewErrors(
        ImmutableDictionary<ProjectId, ProjectAnalysis> before, ImmutableDictionary<ProjectId, ProjectAnalysis> after, Solution fixedSolution, string root)
    {
        var added = new List<string>();
        foreach (var (id, analysis) in after)
        {
            var old = before.TryGetValue(id, out var original) ? original.Errors : [];
            var counts = old.GroupBy(Key).ToDictionary(g => g.Key, g => g.Count());
            foreach (var error in analysis.Errors)
            {
                var key = Key(error);
                if (counts.TryGetValue(key, out var remaining) && remaining > 0)
                {
                    counts[key] = remaining - 1;
                    continue;
                }

                var span = error.Location.GetLineSpan();
                var path = span.Path.Length > 0 ? WorkspaceLoader.Relative(root, span.Path) : fixedSolution.GetProject(id)!.Name;
                added.Add($"{path}({span.StartLinePosition.Line + 1},{span.StartLinePosition.Character + 1}): error {error.Id}: {error.GetMessage()}");
            }
        }

        return added;

        static string Key(Diagnostic d) => $"{d.Id}|{d.Location.GetLineSpan().Path}|{d.GetMessage()}";
    }

    /// <summary>Gives fix-all the diagnostics already computed instead of analysing again.</summary>
    private sealed class KnownDiagnostics(ImmutableArray<Diagnostic> diagnostics) : FixAllContext.DiagnosticProvider
    {
        public override Task<IEnumerable<Diagnostic>> GetAllDiagnosticsAsync(Project project, CancellationToken cancellationToken) =>
            Task.FromResult<IEnumerable<Diagnostic>>(diagnostics);

        public override Task<IEnumerable<Diagnostic>> GetDocumentDiagnosticsAsync(Document document, CancellationToken cancellationToken) =>
            Task.FromResult<IEnumerable<Diagnostic>>(diagnostics);

        public override Task<IEnumerable<Diagnostic>> GetProjectDiagnosticsAsync(Project project, CancellationToken cancellationToken) =>
            Task.FromResult<IEnumerable<Diagnostic>>([]);
    }
}
