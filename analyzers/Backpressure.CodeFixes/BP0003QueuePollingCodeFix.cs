using System.Collections.Generic;
using System.Collections.Immutable;
using System.Composition;
using System.Globalization;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Backpressure.Analyzers;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CodeActions;
using Microsoft.CodeAnalysis.CodeFixes;
using Microsoft.CodeAnalysis.Text;

namespace Backpressure.CodeFixes;

/// <summary>
/// Applies the edits BP0003 planned for a queue-polling site: a signal beside the queue, released after every write
/// and waited on instead of the timer, or BlockingCollection's own TryTake with the sleep's timeout. Offered only where
/// the analyzer proved every write to the queue is known.
/// </summary>
[ExportCodeFixProvider(LanguageNames.CSharp, Name = nameof(BP0003QueuePollingCodeFix))]
[Shared]
public sealed class BP0003QueuePollingCodeFix : CodeFixProvider
{
    /// <summary>The equivalence key of "signal the consumer at every write"; stable, so fix-all and tooling can ask for it.</summary>
    public const string SignalEquivalenceKey = QueueSite.SignalEquivalenceKey;

    /// <summary>The equivalence key of "take with a timeout" (BlockingCollection); stable, so fix-all and tooling can ask for it.</summary>
    public const string TakeWithTimeoutEquivalenceKey = QueueSite.TakeWithTimeoutEquivalenceKey;

    /// <inheritdoc/>
    public override ImmutableArray<string> FixableDiagnosticIds { get; } = ImmutableArray.Create(DiagnosticIds.QueuePolling);

    /// <inheritdoc/>
    public override FixAllProvider GetFixAllProvider() => FixAll.Instance;

    /// <inheritdoc/>
    public override Task RegisterCodeFixesAsync(CodeFixContext context)
    {
        foreach (var diagnostic in context.Diagnostics)
        {
            if (!diagnostic.Properties.TryGetValue(QueueSite.FixesKey, out var key) || key is null || Edits(diagnostic).Count == 0)
            {
                continue;
            }

            var title = key == TakeWithTimeoutEquivalenceKey
                ? "Take with the sleep's timeout instead of sleeping"
                : "Wake on a signal from every write instead of sleeping (keeps the loop)";
            context.RegisterCodeFix(
                CodeAction.Create(title, cancellationToken => ApplyAsync(context.Document, ImmutableArray.Create(diagnostic), key, cancellationToken), key),
                diagnostic);
        }

        return Task.CompletedTask;
    }

    /// <summary>
    /// Applies the edits of every diagnostic offering <paramref name="key"/>. Sites on one queue plan the same signal
    /// and the same releases: identical edits apply once; inserts at one place (two queues declared together) join.
    /// </summary>
    private static async Task<Document> ApplyAsync(Document document, ImmutableArray<Diagnostic> diagnostics, string key, CancellationToken cancellationToken)
    {
        var edits = diagnostics
            .Where(d => d.Properties.TryGetValue(QueueSite.FixesKey, out var k) && k == key)
            .SelectMany(Edits)
            .Distinct()
            .GroupBy(e => e.Span)
            .Select(g => g.Count() == 1 || g.Key.Length > 0 ? g.First() : new TextChange(g.Key, string.Concat(g.Select(e => e.NewText))))
            .OrderBy(e => e.Span.Start)
            .ThenBy(e => e.Span.Length)
            .ToList();

        // Overlapping edits of different sites cannot both apply: keep the first, the next fix-all pass finds the rest.
        var changes = new List<TextChange>();
        foreach (var edit in edits)
        {
            if (changes.Count == 0 || changes[changes.Count - 1].Span.End <= edit.Span.Start)
            {
                changes.Add(edit);
            }
        }

        var text = await document.GetTextAsync(cancellationToken).ConfigureAwait(false);
        return document.WithText(text.WithChanges(changes));
    }

    private static IReadOnlyList<TextChange> Edits(Diagnostic diagnostic)
    {
        var properties = diagnostic.Properties;
        if (!properties.TryGetValue(QueueSite.EditCountKey, out var countText)
            || !int.TryParse(countText, NumberStyles.None, CultureInfo.InvariantCulture, out var count))
        {
            return [];
        }

        var edits = new List<TextChange>(count);
        for (var i = 0; i < count; i++)
        {
            if (!properties.TryGetValue(QueueSite.EditSpanKey(i), out var spanText) || spanText?.Split(',') is not [var start, var length]
                || !int.TryParse(start, NumberStyles.None, CultureInfo.InvariantCulture, out var s)
                || !int.TryParse(length, NumberStyles.None, CultureInfo.InvariantCulture, out var l)
                || !properties.TryGetValue(QueueSite.EditTextKey(i), out var newText) || newText is null)
            {
                return [];
            }

            edits.Add(new TextChange(new TextSpan(s, l), newText));
        }

        return edits;
    }

    /// <summary>Fixes every site of a document in one pass, so a queue polled in several places gets one signal.</summary>
    private sealed class FixAll : DocumentBasedFixAllProvider
    {
        public static readonly FixAll Instance = new();

        protected override string GetFixAllTitle(FixAllContext fixAllContext) => fixAllContext.CodeActionEquivalenceKey == TakeWithTimeoutEquivalenceKey
            ? "Take with the sleep's timeout instead of sleeping, in every polling loop"
            : "Wake on a signal from every write instead of sleeping, in every polling loop";

        protected override async Task<Document?> FixAllAsync(FixAllContext fixAllContext, Document document, ImmutableArray<Diagnostic> diagnostics) =>
            await ApplyAsync(document, diagnostics, fixAllContext.CodeActionEquivalenceKey ?? SignalEquivalenceKey, fixAllContext.CancellationToken).ConfigureAwait(false);
    }
}
