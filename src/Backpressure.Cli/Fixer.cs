using System.Collections.Immutable;
using Backpressure.Analyzers;
using Backpressure.CodeFixes;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CodeActions;
using Microsoft.CodeAnalysis.CodeFixes;

namespace Backpressure.Cli;

/// <summary>The outcome of fixing: the fixed solution, the documents it changed, and the errors it would add.</summary>
public sealed record FixResult(Solution Fixed, IReadOnlyList<DocumentId> ChangedDocuments, IReadOnlyList<string> NewErrors);

/// <summary>
/// Applies BP0001's fix-all document by document, re-analyses, and repeats while sites remain fixable
/// (at most <see cref="MaxIterations"/> rounds, and never a round that changes nothing). Then compiles every
/// changed project and compares its errors with the original's: the fix counts only if none is new.
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

        for (var round = 0; round < MaxIterations; round++)
        {
            var fixable = (await Analysis.DiagnosticsAsync(solution, cancellationToken))
                .Where(d => d.Properties.ContainsKey(PollingSite.FixKey))
                .ToList();

            // A site that is fixable again after being fixed would loop: stop instead.
            var keys = fixable.Select(d => $"{d.Location.SourceTree?.FilePath}|{d.Location.SourceTree?.GetText(cancellationToken).ToString(d.Location.SourceSpan)}").ToList();
            var fresh = keys.Count(k => seen.Add(k));
            if (fixable.Count == 0 || fresh == 0)
            {
                break;
            }

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
        }

        var changed = solution.GetChanges(original).GetProjectChanges().SelectMany(p => p.GetChangedDocuments()).ToList();
        var newErrors = await NewErrorsAsync(original, solution, changed.Select(d => d.ProjectId).Distinct(), root, cancellationToken);
        return new FixResult(solution, changed, newErrors);
    }

    /// <summary>Errors the fixed projects have that the originals did not, matched by id, file and message (positions move).</summary>
    private static async Task<IReadOnlyList<string>> NewErrorsAsync(Solution before, Solution after, IEnumerable<ProjectId> projects, string root, CancellationToken cancellationToken)
    {
        var added = new List<string>();
        foreach (var id in projects)
        {
            var old = await Errors(before.GetProject(id)!, cancellationToken);
            var counts = old.GroupBy(Key).ToDictionary(g => g.Key, g => g.Count());
            foreach (var error in await Errors(after.GetProject(id)!, cancellationToken))
            {
                var key = Key(error);
                if (counts.TryGetValue(key, out var remaining) && remaining > 0)
                {
                    counts[key] = remaining - 1;
                    continue;
                }

                var span = error.Location.GetLineSpan();
                var path = span.Path.Length > 0 ? WorkspaceLoader.Relative(root, span.Path) : after.GetProject(id)!.Name;
                added.Add($"{path}({span.StartLinePosition.Line + 1},{span.StartLinePosition.Character + 1}): error {error.Id}: {error.GetMessage()}");
            }
        }

        return added;

        static string Key(Diagnostic d) => $"{d.Id}|{d.Location.GetLineSpan().Path}|{d.GetMessage()}";

        static async Task<IEnumerable<Diagnostic>> Errors(Project project, CancellationToken cancellationToken) =>
            ((await project.GetCompilationAsync(cancellationToken))?.GetDiagnostics(cancellationToken) ?? ImmutableArray<Diagnostic>.Empty)
                .Where(d => d.Severity == DiagnosticSeverity.Error);
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
