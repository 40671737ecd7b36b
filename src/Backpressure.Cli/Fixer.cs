using System.Collections.Immutable;
using Backpressure.Analyzers;
using Backpressure.CodeFixes;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CodeActions;
using Microsoft.CodeAnalysis.CodeFixes;
using Microsoft.CodeAnalysis.Text;

namespace Backpressure.Cli;

/// <summary>
/// The outcome of fixing: the fixed solution, the documents it changed (one per file), the compiler errors
/// and warnings it would add, and the BP0001 sites before (<paramref name="Found"/>) and after (<paramref name="Left"/>).
/// </summary>
public sealed record FixResult(
    Solution Fixed,
    IReadOnlyList<DocumentId> ChangedDocuments,
    IReadOnlyList<CompilerMessage> NewErrors,
    IReadOnlyList<CompilerMessage> NewWarnings,
    ImmutableArray<Site> Found,
    ImmutableArray<Site> Left);

/// <summary>
/// Applies BP0001's fix-all file by file, re-analyses, and repeats while sites remain fixable (at most
/// <see cref="MaxIterations"/> rounds, and never a round that changes nothing). Each round gives a file one
/// batch: the sites of one rewrite (the most complete its level allows) as one target framework sees them;
/// the new text then replaces the file in every project and target that compiles it, and what is left
/// (another rewrite, a site only another target sees) waits for the next round, when positions are fresh.
/// Every analysis also compiles (one pass gives both), and a re-analysis covers only the changed projects
/// and those that depend on them; the fix counts only if no project, changed or dependent, has an error it
/// did not have. Warnings it did not have are handed back to be reported.
/// </summary>
public static class Fixer
{
    /// <summary>Three rewrites, plus a round for sites that only show once their neighbours are fixed.</summary>
    public const int MaxIterations = 4;

    public static async Task<FixResult> FixAsync(Solution original, string root, FixLevel level, CancellationToken cancellationToken)
    {
        var provider = new BP0001BufferedAmountPollingCodeFix();
        var fixAll = provider.GetFixAllProvider()!;
        var solution = original;
        var attempted = new HashSet<string>(StringComparer.Ordinal);
        var before = await Analysis.AnalyzeAsync(original, withCompiler: true, cancellationToken);
        var analysis = before;

        for (var round = 0; round < MaxIterations; round++)
        {
            // A site offered the same rewrite again after it was applied would loop: it is not tried twice.
            var candidates = analysis
                .SelectMany(p => p.Value.Findings.Select(d => (Project: p.Key, Diagnostic: d, Key: FixLevels.Choose(d, level))))
                .Where(c => c.Key is not null)
                .Select(c => (c.Project, c.Diagnostic, Key: c.Key!, Attempt: $"{c.Diagnostic.Location.SourceTree?.FilePath}|{c.Key}|{c.Diagnostic.Location.SourceTree?.GetText(cancellationToken).ToString(c.Diagnostic.Location.SourceSpan)}"))
                .Where(c => !attempted.Contains(c.Attempt))
                .ToList();
            if (candidates.Count == 0)
            {
                break;
            }

            var roundStart = solution;
            foreach (var file in candidates.GroupBy(c => c.Diagnostic.Location.SourceTree?.FilePath ?? string.Empty).OrderBy(g => g.Key, StringComparer.Ordinal))
            {
                // The most complete rewrite first: it may take in smaller sites with it.
                var key = file.Select(c => c.Key).OrderByDescending(FixLevels.LevelOf).First();
                var project = file.Where(c => c.Key == key).OrderBy(c => c.Project.Id).First().Project;
                var batch = file.Where(c => c.Key == key && c.Project == project).ToList();
                foreach (var c in batch)
                {
                    attempted.Add(c.Attempt);
                }

                if (solution.GetDocumentId(batch[0].Diagnostic.Location.SourceTree) is not { } documentId || solution.GetDocument(documentId) is not { } document)
                {
                    continue;
                }

                var context = new FixAllContext(
                    document, provider, FixAllScope.Document, key,
                    [DiagnosticIds.BufferedAmountPolling], new KnownDiagnostics([.. batch.Select(c => c.Diagnostic)]), cancellationToken);
                if (await fixAll.GetFixAsync(context) is not { } action)
                {
                    continue;
                }

                foreach (var operation in await action.GetOperationsAsync(cancellationToken))
                {
                    if (operation is ApplyChangesOperation apply && apply.ChangedSolution.GetDocument(documentId) is { } changed)
                    {
                        solution = WithFileText(solution, document.FilePath, documentId, await changed.GetTextAsync(cancellationToken));
                    }
                }
            }

            var changedThisRound = solution.GetChanges(roundStart).GetProjectChanges().Select(p => p.ProjectId).ToList();
            if (changedThisRound.Count == 0)
            {
                continue;
            }

            analysis = await Analysis.AnalyzeAsync(solution, withCompiler: true, cancellationToken, analysis, changedThisRound);
        }

        var changedDocuments = solution.GetChanges(original).GetProjectChanges()
            .SelectMany(p => p.GetChangedDocuments())
            .DistinctBy(id => solution.GetDocument(id)!.FilePath ?? id.ToString())
            .ToList();
        return new FixResult(
            solution,
            changedDocuments,
            Added(before, analysis, a => a.Errors, solution, root),
            Added(before, analysis, a => a.Warnings, solution, root),
            Analysis.Sites(before),
            Analysis.Sites(analysis));
    }

    /// <summary>
    /// Where a site of the fixed solution is in the original file: a dry run reports what is left where it is
    /// on disk. A site inside a rewritten stretch maps to the start of that stretch.
    /// </summary>
    public static async Task<LinePosition> OriginalPositionAsync(Site site, Solution original, Solution fixedSolution, CancellationToken cancellationToken)
    {
        var position = site.Diagnostic.Location.SourceSpan.Start;
        if (fixedSolution.GetDocument(site.Diagnostic.Location.SourceTree) is not { } after || original.GetDocument(after.Id) is not { } before)
        {
            return site.Diagnostic.Location.GetLineSpan().StartLinePosition;
        }

        var delta = 0;
        var mapped = (int?)null;
        foreach (var change in (await after.GetTextChangesAsync(before, cancellationToken)).OrderBy(c => c.Span.Start))
        {
            var newStart = change.Span.Start + delta;
            if (position < newStart)
            {
                break;
            }

            if (position < newStart + (change.NewText?.Length ?? 0))
            {
                mapped = change.Span.Start;
                break;
            }

            delta += (change.NewText?.Length ?? 0) - change.Span.Length;
        }

        var text = await before.GetTextAsync(cancellationToken);
        return text.Lines.GetLinePosition(Math.Clamp(mapped ?? position - delta, 0, text.Length));
    }

    /// <summary>The file's new text in every project (every target framework) that compiles it.</summary>
    private static Solution WithFileText(Solution solution, string? path, DocumentId fixedId, SourceText text)
    {
        var ids = path is null ? [fixedId] : solution.GetDocumentIdsWithFilePath(path).Append(fixedId).Distinct();
        foreach (var id in ids)
        {
            solution = solution.WithDocumentText(id, text, PreservationMode.PreserveIdentity);
        }

        return solution;
    }

    /// <summary>
    /// Diagnostics the fixed projects have that the originals did not, matched by id, file and message
    /// (positions move), each once however many target frameworks have it, naming the targets that do when
    /// not all of them do.
    /// </summary>
    private static List<CompilerMessage> Added(
        ImmutableDictionary<ProjectId, ProjectAnalysis> before,
        ImmutableDictionary<ProjectId, ProjectAnalysis> after,
        Func<ProjectAnalysis, ImmutableArray<Diagnostic>> select,
        Solution fixedSolution,
        string root)
    {
        var added = new List<(CompilerMessage Message, Project Project)>();
        foreach (var (id, analysis) in after.OrderBy(p => p.Key.Id))
        {
            var old = before.TryGetValue(id, out var original) ? select(original) : [];
            var counts = old.GroupBy(Key).ToDictionary(g => g.Key, g => g.Count());
            var project = fixedSolution.GetProject(id)!;
            foreach (var diagnostic in select(analysis))
            {
                var key = Key(diagnostic);
                if (counts.TryGetValue(key, out var remaining) && remaining > 0)
                {
                    counts[key] = remaining - 1;
                    continue;
                }

                added.Add((Analysis.ToMessage(diagnostic, root, project.Name), project));
            }
        }

        return added
            .GroupBy(a => a.Message)
            .Select(g =>
            {
                var targets = fixedSolution.Projects.Count(p => p.FilePath is not null && p.FilePath == g.First().Project.FilePath);
                return targets > 1 && g.Count() < targets
                    ? g.Key with { Message = $"{g.Key.Message} [{string.Join(", ", g.Select(a => a.Project.Name))}]" }
                    : g.Key;
            })
            .ToList();

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
