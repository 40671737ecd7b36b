using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.Globalization;
using System.Linq;
using System.Threading;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.FlowAnalysis;
using Microsoft.CodeAnalysis.Operations;
using Microsoft.CodeAnalysis.Text;

using ControllingBranch = Backpressure.Analyzers.PollingAnalysis.ControllingBranch<Backpressure.Analyzers.QueuePollingAnalysis.EmptinessTest>;

namespace Backpressure.Analyzers;

/// <summary>
/// BP0003's analysis of one compilation: BP0001's flow-based detection (PollingAnalysis.Flow.cs) with a different
/// test, "the source is empty" (QueuePollingAnalysis.Sources.cs), and its own fix planners (QueuePollingAnalysis.Signal.cs).
/// </summary>
internal sealed partial class QueuePollingAnalysis
{
    /// <summary>Members that read a source's emptiness: a file that names none of them cannot poll one.</summary>
    private static readonly string[] TestNames = ["TryDequeue", "TryTake", "TryPeek", "TryPop", "TryRead", "IsEmpty", "Available"];

    /// <summary><c>Count</c> is everywhere: it counts only in a file that also names a source type.</summary>
    private static readonly string[] SourceTypeNames = ["Queue", "ConcurrentBag", "ConcurrentStack", "BlockingCollection", "ChannelReader"];

    private readonly Compilation _compilation;
    private readonly DrainableSources _sources;
    private readonly PollingAnalysis _waits;

    public QueuePollingAnalysis(Compilation compilation, DrainableSources sources, PollingAnalysis waits)
    {
        _compilation = compilation;
        _sources = sources;
        _waits = waits;
    }

    /// <summary>
    /// BP0003 on one file, entered once per file as BP0001 is: a file whose text names no test of a source and no wait
    /// returns at once; otherwise only the code blocks around its waits are bound and given a graph.
    /// </summary>
    public void AnalyzeSemanticModel(SemanticModelAnalysisContext context)
    {
        var cancellationToken = context.CancellationToken;
        var model = context.SemanticModel;
        if (!MentionsSource(model.SyntaxTree.GetText(cancellationToken).ToString()))
        {
            return;
        }

        var index = NameIndex.Create(model.SyntaxTree, cancellationToken);
        foreach (var (block, owner) in PollingAnalysis.CodeBlocksAround(model, index, NameIndex.WaitNames, cancellationToken))
        {
            _waits.ForEachWaitingGraph(
                block, owner, model, waits: true, cancellationToken,
                (graph, graphModel, waits) => ReportControlledWaits(graph, graphModel, waits, context.ReportDiagnostic, cancellationToken));
        }
    }

    /// <summary>
    /// The cheap pre-filter, on the text alone: a file polls a source only if it names a test of one and a wait. An
    /// identifier spelled with a Unicode escape hides from a text search, so such a file goes on to the graph.
    /// </summary>
    private static bool MentionsSource(string text)
    {
        if (text.IndexOf("\\u", StringComparison.OrdinalIgnoreCase) >= 0)
        {
            return true;
        }

        var test = TestNames.Any(n => text.IndexOf(n, StringComparison.Ordinal) >= 0)
            || (text.IndexOf("Count", StringComparison.Ordinal) >= 0 && SourceTypeNames.Any(n => text.IndexOf(n, StringComparison.Ordinal) >= 0));
        return test && NameIndex.WaitNames.Any(n => text.IndexOf(n, StringComparison.OrdinalIgnoreCase) >= 0);
    }

    private void ReportControlledWaits(
        ControlFlowGraph graph, SemanticModel model, IReadOnlyList<(int Block, IOperation Wait)> waits, Action<Diagnostic> report, CancellationToken cancellationToken)
    {
        var sites = PollingAnalysis.FindControlledWaits<EmptinessTest>(
            graph, model, waits, (IOperation? condition, out EmptinessTest test, out bool waitWhenTrue) =>
            {
                var found = TryGetEmptinessTest(condition, out test);
                waitWhenTrue = test.EmptyWhenTrue;
                return found;
            });

        // A drain loop's test controls the wait after it: `while (q.TryDequeue(out x)) Handle(x); await Task.Delay(100);`.
        // The loop that repeats both is the site, and two tests that control one wait there make one report.
        var merged = new Dictionary<SyntaxNode, (ControllingBranch Branch, List<IOperation> Waits)>();
        foreach (var (construct, branch, siteWaits) in sites)
        {
            // A wait that happens once when the queue is empty ("give the producer a moment") is not polling; one that
            // comes back to the test is. A timer re-schedule repeats through its callback, not through the graph: it
            // counts when it is the empty branch's own (`if (q.IsEmpty) { timer.Change(50, -1); return; }`), not when
            // it merely follows a drain loop.
            var repeating = siteWaits.Where(w => (IsReschedule(w) && construct is IfStatementSyntax gate && gate.Span.Contains(w.Syntax.Span))
                || waits.Any(b => ReferenceEquals(b.Wait, w) && PollingAnalysis.Repeats(graph, b.Block, branch.Block))).ToList();
            if (repeating.Count == 0)
            {
                continue;
            }

            var site = construct;
            if (construct is WhileStatementSyntax or DoStatementSyntax or ForStatementSyntax && !construct.Span.Contains(repeating[0].Syntax.Span))
            {
                site = construct.Ancestors()
                    .TakeWhile(n => n is not (AnonymousFunctionExpressionSyntax or LocalFunctionStatementSyntax or MemberDeclarationSyntax))
                    .FirstOrDefault(n => n is WhileStatementSyntax or DoStatementSyntax or ForStatementSyntax or ForEachStatementSyntax && n.Span.Contains(repeating[0].Syntax.Span))
                    ?? construct;
            }

            if (merged.TryGetValue(site, out var existing))
            {
                existing.Waits.AddRange(repeating.Where(w => !existing.Waits.Contains(w)));
            }
            else
            {
                merged[site] = (branch, repeating);
            }
        }

        foreach (var site in merged.Keys.OrderBy(s => s.SpanStart))
        {
            var (branch, siteWaits) = merged[site];
            var kind = site is IfStatementSyntax ? "if statement" : "loop";
            Report(report, site, kind, branch.Test, PlanFix(branch, siteWaits, model, cancellationToken));
        }
    }

    private static bool IsReschedule(IOperation wait) =>
        wait is IInvocationOperation { TargetMethod.Name: "Change" or "Start" }
        || (wait is IInvocationOperation { TargetMethod.Name: "Delay" } delay && delay.Parent is IInvocationOperation { TargetMethod.Name: "ContinueWith" });

    private static void Report(Action<Diagnostic> report, SyntaxNode construct, string kind, EmptinessTest test, FixPlan plan)
    {
        var properties = ImmutableDictionary.CreateBuilder<string, string?>();
        if (plan.Key is { } key)
        {
            properties[QueueSite.FixesKey] = key;
            properties[QueueSite.EditCountKey] = plan.Edits.Length.ToString(CultureInfo.InvariantCulture);
            for (var i = 0; i < plan.Edits.Length; i++)
            {
                properties[QueueSite.EditSpanKey(i)] = FormattableString.Invariant($"{plan.Edits[i].Span.Start},{plan.Edits[i].Span.Length}");
                properties[QueueSite.EditTextKey(i)] = plan.Edits[i].Text;
            }
        }
        else
        {
            properties[QueueSite.NoFixKey] = plan.WhyNot ?? "no rewrite of this site keeps its meaning";
        }

        report(Diagnostic.Create(
            DiagnosticDescriptors.QueuePolling,
            PollingAnalysis.HeaderLocation(construct),
            properties.ToImmutable(),
            kind,
            test.Source.Syntax.ToString(),
            plan.Key is null ? " (no automatic fix: " + properties[QueueSite.NoFixKey] + ")" : string.Empty));
    }

    /// <summary>The fix a site offers: its equivalence key and text edits, or why there is none.</summary>
    internal readonly record struct FixPlan(string? Key, ImmutableArray<(TextSpan Span, string Text)> Edits, string? WhyNot)
    {
        public static FixPlan None(string whyNot) => new(null, ImmutableArray<(TextSpan, string)>.Empty, whyNot);
    }
}
