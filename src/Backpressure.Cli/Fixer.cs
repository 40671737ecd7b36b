using System.Collections.Immutable;
using Backpressure.Analyzers;
using Backpressure.Analyzers.Adapters;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CodeActions;
using Microsoft.CodeAnalysis.CodeFixes;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Text;

namespace Backpressure.Cli;

/// <summary>
/// The outcome of fixing: the fixed solution, the documents it changed (one per file), the compiler errors
/// and warnings it would add, and the sites before (<paramref name="Found"/>) and after (<paramref name="Left"/>).
/// </summary>
public sealed record FixResult(
    Solution Fixed,
    IReadOnlyList<DocumentId> ChangedDocuments,
    IReadOnlyList<CompilerMessage> NewErrors,
    IReadOnlyList<CompilerMessage> NewWarnings,
    ImmutableArray<Site> Found,
    ImmutableArray<Site> Left)
{
    /// <summary>Gets the sites left unfixed because their rewrite would not call the runtime, by <see cref="Fixer.Identity"/>, with the reason.</summary>
    public IReadOnlyDictionary<string, string> Refused { get; init; } = new Dictionary<string, string>();

    /// <summary>Gets misbound calls that no refusal could remove (the fix is refused whole then).</summary>
    public IReadOnlyList<string> Misbound { get; init; } = [];
}

/// <summary>
/// Applies each rule's fix-all, re-analyses, and repeats while sites remain fixable (at most
/// <see cref="MaxIterations"/> rounds, and never a round that changes nothing). Each round gives a file one
/// batch: the sites of one rewrite (BP0001's, the most complete its level allows, before BP0003's) as one
/// target framework sees them, since each rewrite is planned on the text it was found in;
/// the batches of one rule, rewrite and project go to one fix-all together (one fixed snapshot, however many files);
/// the new text then replaces the file in every project and target that compiles it, and what is left
/// (another rewrite, a site only another target sees) waits for the next round, when positions are fresh.
/// Every analysis also compiles (one pass gives both), and a re-analysis compiles again only what the fix can
/// have changed (<see cref="Reanalysis"/>); the fix counts only if no project, changed or dependent, has an error
/// it did not have. Warnings it did not have are handed back to be reported.
/// </summary>
public static class Fixer
{
    /// <summary>Each rewrite of each rule run once, plus a round for sites that only show once their neighbours are fixed (BP0001 alone: 4).</summary>
    public static int MaxIterations(ImmutableArray<Rule> rules) => rules.Sum(r => r.FixKeys.Length) + 1;

    /// <summary>The runtime's methods a rewrite calls: each new call must bind to the runtime, not to a same-named method of the user's.</summary>
    private static readonly string[] RuntimeMethods =
        ["WaitForBufferedAmountLowAsync", "DelayUntilBufferedAmountLowAsync", "SleepUntilBufferedAmountLow", "SendAsync", "AsBufferedChannel"];

    private const string RuntimeAssembly = "Backpressure";

    public static async Task<FixResult> FixAsync(Solution original, string root, ImmutableArray<Rule> rules, FixLevel level, CancellationToken cancellationToken)
    {
        var before = await Analysis.AnalyzeAsync(original, rules, withCompiler: true, cancellationToken);
        var refused = new Dictionary<string, string>(StringComparer.Ordinal);

        // A site whose rewrite would call someone else's method is left out, and the fix made again without
        // it: every other site still gets its rewrite. Each pass refuses at least one site, or is the last.
        for (var pass = 0; ; pass++)
        {
            var (solution, analysis) = await ApplyAsync(original, before, rules, level, refused.Keys.ToHashSet(StringComparer.Ordinal), cancellationToken);
            var changedDocuments = solution.GetChanges(original).GetProjectChanges()
                .SelectMany(p => p.GetChangedDocuments())
                .ToList();
            var misbound = await MisboundAsync(original, solution, changedDocuments, [.. Analysis.Sites(before).Where(s => Rule.Of(s.Diagnostic.Id).NeedsRuntime)], cancellationToken);
            var fresh = misbound.Where(m => !refused.ContainsKey(m.Site)).ToList();
            if (fresh.Count == 0 || pass == 3)
            {
                return new FixResult(
                    solution,
                    changedDocuments.DistinctBy(id => solution.GetDocument(id)!.FilePath ?? id.ToString()).ToList(),
                    Added(before, analysis, a => a.Errors, solution, root),
                    Added(before, analysis, a => a.Warnings, solution, root),
                    Analysis.Sites(before),
                    Analysis.Sites(analysis))
                {
                    Refused = refused,
                    Misbound = [.. misbound.Where(m => !refused.ContainsKey(m.Site)).Select(m => m.Reason)],
                };
            }

            foreach (var (site, reason) in fresh)
            {
                refused.TryAdd(site, reason);
            }
        }
    }

    /// <summary>
    /// Who a site is, in a way that survives other rewrites in its file: its file, its member and its header
    /// text (two sites with the same header in the same member share it, and are refused or tried together).
    /// </summary>
    public static string Identity(Diagnostic diagnostic)
    {
        var tree = diagnostic.Location.SourceTree;
        if (tree is null)
        {
            return diagnostic.Location.ToString();
        }

        var node = tree.GetRoot().FindNode(diagnostic.Location.SourceSpan, getInnermostNodeForTie: true);
        var member = node.AncestorsAndSelf().FirstOrDefault(n => n is MemberDeclarationSyntax or LocalFunctionStatementSyntax) switch
        {
            BaseMethodDeclarationSyntax m => m.ToString().Split('{', '=')[0],
            LocalFunctionStatementSyntax f => f.Identifier.Text,
            PropertyDeclarationSyntax p => p.Identifier.Text,
            { } other => other.Kind().ToString(),
            null => string.Empty,
        };
        return $"{tree.FilePath}|{member.Trim()}|{tree.GetText().ToString(diagnostic.Location.SourceSpan)}";
    }

    private static async Task<(Solution Solution, ImmutableDictionary<ProjectId, ProjectAnalysis> Analysis)> ApplyAsync(
        Solution original, ImmutableDictionary<ProjectId, ProjectAnalysis> before, ImmutableArray<Rule> rules, FixLevel level, HashSet<string> refused, CancellationToken cancellationToken)
    {
        var solution = original;
        var attempted = new HashSet<string>(StringComparer.Ordinal);
        var analysis = before;

        for (var round = 0; round < MaxIterations(rules); round++)
        {
            // A site offered the same rewrite again after it was applied would loop: it is not tried twice.
            var candidates = analysis
                .SelectMany(p => p.Value.Findings.Select(d => (Project: p.Key, Diagnostic: d, Key: FixLevels.Choose(d, level))))
                .Where(c => c.Key is not null)
                .Where(c => !refused.Contains(Identity(c.Diagnostic)))
                .Select(c => (c.Project, c.Diagnostic, Key: c.Key!, Attempt: $"{c.Key}|{Identity(c.Diagnostic)}"))
                .Where(c => !attempted.Contains(c.Attempt))
                .ToList();
            if (candidates.Count == 0)
            {
                break;
            }

            // Every file's batch is planned against the same snapshot, so they all share one compilation.
            var roundStart = solution;
            var batches = new List<(ProjectId Project, Rule Rule, string Key, IEnumerable<Diagnostic> Diagnostics)>();
            foreach (var file in candidates.GroupBy(c => c.Diagnostic.Location.SourceTree?.FilePath ?? string.Empty).OrderBy(g => g.Key, StringComparer.Ordinal))
            {
                // The most complete rewrite first: it may take in smaller sites with it.
                var key = file.Select(c => c.Key).OrderByDescending(FixLevels.Rank).First();
                var project = file.Where(c => c.Key == key).OrderBy(c => c.Project.Id).First().Project;
                var batch = file.Where(c => c.Key == key && c.Project == project).ToList();
                foreach (var c in batch)
                {
                    attempted.Add(c.Attempt);
                }

                if (roundStart.GetDocumentId(batch[0].Diagnostic.Location.SourceTree) is not null)
                {
                    batches.Add((project, Rule.Of(batch[0].Diagnostic.Id), key, batch.Select(c => c.Diagnostic)));
                }
            }

            // Then one fix-all per rule, rewrite and project, over all its files at once: the provider fixes them side
            // by side and cleans them up in one fixed snapshot. A fix-all per file forked the compilation (and ran
            // the adapter generator) once per file, which made a project's fix grow with its files times its sites.
            var fixedTexts = new List<(string? Path, DocumentId Id, SourceText Text)>();
            var fixedSolutions = new List<Solution>();
            foreach (var group in batches.GroupBy(b => (b.Project, b.Rule.Id, b.Key)).OrderBy(g => g.Key.Project.Id).ThenBy(g => g.Key.Id, StringComparer.Ordinal).ThenBy(g => g.Key.Key, StringComparer.Ordinal))
            {
                var rule = group.First().Rule;
                var context = new FixAllContext(
                    roundStart.GetProject(group.Key.Project)!, rule.CodeFix, FixAllScope.Project, group.Key.Key,
                    [rule.Id], new KnownDiagnostics([.. group.SelectMany(b => b.Diagnostics)]), cancellationToken);
                if (await rule.CodeFix.GetFixAllProvider()!.GetFixAsync(context) is not { } action)
                {
                    continue;
                }

                foreach (var operation in await action.GetOperationsAsync(cancellationToken))
                {
                    if (operation is not ApplyChangesOperation apply)
                    {
                        continue;
                    }

                    fixedSolutions.Add(apply.ChangedSolution);
                    foreach (var id in apply.ChangedSolution.GetChanges(roundStart).GetProjectChanges().SelectMany(p => p.GetChangedDocuments()))
                    {
                        fixedTexts.Add((roundStart.GetDocument(id)?.FilePath, id, await apply.ChangedSolution.GetDocument(id)!.GetTextAsync(cancellationToken)));
                    }
                }
            }

            // The first fix-all's fixed snapshot already has a compilation (its clean-up built it, generators run):
            // the re-analysis starts from it, and the other texts join it where it does not have them yet.
            solution = fixedSolutions.FirstOrDefault() ?? solution;
            foreach (var (path, id, text) in fixedTexts)
            {
                solution = WithFileText(solution, path, id, text);
            }

            var changedThisRound = solution.GetChanges(roundStart).GetProjectChanges().Select(p => p.ProjectId).ToList();
            if (changedThisRound.Count == 0)
            {
                continue;
            }

            analysis = await Reanalysis.AnalyzeAsync(roundStart, solution, analysis, rules, cancellationToken);
        }

        return (solution, analysis);
    }

    /// <summary>
    /// Every call a rewrite added (inside a changed stretch of a changed document, in every target) to one of
    /// the runtime's method names that binds to a method outside the runtime: the user's own same-named
    /// extension, say, which would compile and silently drop the backpressure. The generator's adapter counts
    /// as the runtime's. Each is handed back with the original site (of a rule whose rewrites call the runtime) whose rewrite added it.
    /// </summary>
    private static async Task<List<(string Site, string Reason)>> MisboundAsync(
        Solution original, Solution fixedSolution, IReadOnlyList<DocumentId> changed, ImmutableArray<Site> sites, CancellationToken cancellationToken)
    {
        // Each document on its own, side by side (binding is most of the cost); a file's sites looked up once.
        var sitesByFile = sites.ToLookup(s => s.FilePath, StringComparer.Ordinal);
        var byDocument = new List<(string Site, string Reason)>[changed.Count];
        await Parallel.ForAsync(0, changed.Count, new ParallelOptions { CancellationToken = cancellationToken, MaxDegreeOfParallelism = Environment.ProcessorCount }, async (index, cancellationToken) =>
        {
            var found = byDocument[index] = [];
            var id = changed[index];
            var after = fixedSolution.GetDocument(id)!;
            var before = original.GetDocument(id)!;
            var model = await after.GetSemanticModelAsync(cancellationToken);
            var root = await after.GetSyntaxRootAsync(cancellationToken);
            if (model is null || root is null)
            {
                return;
            }

            var changes = (await after.GetTextChangesAsync(before, cancellationToken)).OrderBy(c => c.Span.Start).ToList();
            var delta = 0;
            var added = new List<(TextSpan New, int OldStart)>();
            foreach (var change in changes)
            {
                added.Add((new TextSpan(change.Span.Start + delta, change.NewText?.Length ?? 0), change.Span.Start));
                delta += (change.NewText?.Length ?? 0) - change.Span.Length;
            }

            foreach (var invocation in root.DescendantNodes().OfType<InvocationExpressionSyntax>())
            {
                var name = invocation.Expression switch
                {
                    MemberAccessExpressionSyntax m => m.Name.Identifier.Text,
                    SimpleNameSyntax n => n.Identifier.Text,
                    _ => null,
                };
                if (name is null || !RuntimeMethods.Contains(name, StringComparer.Ordinal)
                    || added.FirstOrDefault(a => a.New.IntersectsWith(invocation.Span) || a.New.Contains(invocation.Span.Start)) is not { New.Length: > 0 } stretch)
                {
                    continue;
                }

                if (model.GetSymbolInfo(invocation, cancellationToken).Symbol is not IMethodSymbol bound || IsRuntimes(bound, fixedSolution))
                {
                    continue; // unbound: an error, which the compile check reports
                }

                var method = bound.ReducedFrom ?? bound;
                var span = invocation.GetLocation().GetLineSpan();
                var site = sitesByFile[after.FilePath ?? string.Empty].FirstOrDefault(s => Targets(s.Diagnostic).Any(t => t.Contains(stretch.OldStart) || t.End == stretch.OldStart));
                if (site is null)
                {
                    continue;
                }

                found.Add((Identity(site.Diagnostic), $"the rewrite's call '{name}' would bind to '{method.ContainingType.ToDisplayString()}.{method.Name}' in assembly '{method.ContainingAssembly?.Name}', not to the runtime's (line {span.StartLinePosition.Line + 1} of the fixed file)"));
            }
        });

        return [.. byDocument.SelectMany(f => f)];
    }

    private static bool IsRuntimes(IMethodSymbol bound, Solution solution)
    {
        var method = bound.ReducedFrom ?? bound;
        if (method.ContainingAssembly?.Name == RuntimeAssembly)
        {
            return true;
        }

        // The adapter generator's output: in the project's own assembly, but in no file of the user's.
        return method.Name == "AsBufferedChannel"
            && method.ContainingType.ToDisplayString() == "Backpressure.GeneratedChannelAdapters"
            && method.DeclaringSyntaxReferences.All(r => solution.GetDocument(r.SyntaxTree) is null or SourceGeneratedDocument
                && r.SyntaxTree.FilePath.Contains(typeof(ChannelAdapterGenerator).FullName!, StringComparison.Ordinal));
    }

    /// <summary>The stretches of the original file that a site's rewrites replace.</summary>
    public static IEnumerable<TextSpan> Targets(Diagnostic diagnostic)
    {
        if (diagnostic.AdditionalLocations.Count > 0)
        {
            yield return diagnostic.AdditionalLocations[0].SourceSpan;
        }

        if (Span(PollingSite.SendLoopSpanKey) is { } sendLoop)
        {
            yield return sendLoop;
        }

        // BP0001's timer calls, and BP0003's edits (its signal field, its releases, its waits).
        foreach (var (countKey, spanKey) in new (string, Func<int, string>)[] { (PollingSite.BoundedWaitCountKey, PollingSite.BoundedWaitSpanKey), (QueueSite.EditCountKey, QueueSite.EditSpanKey) })
        {
            var count = diagnostic.Properties.TryGetValue(countKey, out var countText) && int.TryParse(countText, out var n) ? n : 0;
            for (var i = 0; i < count; i++)
            {
                if (Span(spanKey(i)) is { } edit)
                {
                    yield return edit;
                }
            }
        }

        yield return diagnostic.Location.SourceSpan;

        TextSpan? Span(string key) => diagnostic.Properties.TryGetValue(key, out var value) && value?.Split(',') is [var start, var length]
            && int.TryParse(start, out var s) && int.TryParse(length, out var l)
                ? new TextSpan(s, l)
                : null;
    }

    /// <summary>
    /// Where a site of the fixed solution is in the original file: a dry run reports what is left where it is
    /// on disk. A site inside a rewritten stretch maps to the start of that stretch.
    /// </summary>
    /// <param name="changesByDocument">Each document's changes, computed once however many sites it has left.</param>
    public static async Task<LinePosition> OriginalPositionAsync(
        Site site, Solution original, Solution fixedSolution, Dictionary<DocumentId, List<TextChange>> changesByDocument, CancellationToken cancellationToken)
    {
        var position = site.Diagnostic.Location.SourceSpan.Start;
        if (fixedSolution.GetDocument(site.Diagnostic.Location.SourceTree) is not { } after || original.GetDocument(after.Id) is not { } before)
        {
            return site.Diagnostic.Location.GetLineSpan().StartLinePosition;
        }

        if (!changesByDocument.TryGetValue(after.Id, out var changes))
        {
            changesByDocument[after.Id] = changes = [.. (await after.GetTextChangesAsync(before, cancellationToken)).OrderBy(c => c.Span.Start)];
        }

        var delta = 0;
        var mapped = (int?)null;
        foreach (var change in changes)
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
            if (solution.GetDocument(id) is { } document && document.TryGetText(out var current) && ReferenceEquals(current, text))
            {
                continue; // already there: a new snapshot would only throw its compilation away
            }

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
            Task.FromResult<IEnumerable<Diagnostic>>([.. diagnostics.Where(d => d.Location.SourceTree?.FilePath == document.FilePath)]);

        public override Task<IEnumerable<Diagnostic>> GetProjectDiagnosticsAsync(Project project, CancellationToken cancellationToken) =>
            Task.FromResult<IEnumerable<Diagnostic>>([]);
    }
}
