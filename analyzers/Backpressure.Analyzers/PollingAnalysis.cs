using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.Globalization;
using System.Linq;
using System.Runtime.CompilerServices;
using System.Threading;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Operations;
using Microsoft.CodeAnalysis.Text;

namespace Backpressure.Analyzers;

/// <summary>
/// BP0001's analysis of one compilation. Detection runs on the control-flow graph (PollingAnalysis.Flow.cs),
/// on top of where a value comes from (PollingAnalysis.Provenance.cs); each fix has its own planner: the bounded
/// wait (PollingAnalysis.BoundedWait.cs) for every site, and the whole-loop rewrites below for the clean shapes.
/// </summary>
internal sealed partial class PollingAnalysis
{
    public const string AdapterMethodName = "AsBufferedChannel";

    private readonly Compilation _compilation;
    private readonly WellKnownTypes _types;
    private readonly AnalyzerConfigOptionsProvider _options;
    private readonly ConcurrentDictionary<SyntaxTree, TreeState> _trees = new();
    private readonly ConcurrentDictionary<INamedTypeSymbol, bool> _canSend = new(SymbolEqualityComparer.Default);

    // Per function: which locals hold nothing but a buffered amount. Computed once, not per comparison.
    private readonly ConditionalWeakTable<IOperation, ConcurrentDictionary<ILocalSymbol, IOperation?>> _copySources = new();

    public PollingAnalysis(Compilation compilation, WellKnownTypes types, AnalyzerConfigOptionsProvider options)
    {
        _compilation = compilation;
        _types = types;
        _options = options;
    }

    /// <summary>
    /// A tick loop that skips ticks while the queue is full: <c>while (await timer.WaitForNextTickAsync()) { if (amount &gt; x) continue; ... }</c>.
    /// The tick runs on every path, so the flow-based detection does not see it as controlled by the amount.
    /// </summary>
    private static readonly string[] TimerDriven = ["SpinUntil", "WaitForNextTickAsync"];

    /// <summary>The two timer-driven shapes that are not a timed wait under a test: tick loops and <c>SpinWait.SpinUntil</c>.</summary>
    private void AnalyzeTimerDriven(IOperation root, TreeState tree, ISymbol owner, Action<Diagnostic> report)
    {
        foreach (var operation in DescendantsAndSelf(root))
        {
            switch (operation)
            {
                case ILoopOperation loop:
                    AnalyzePeriodicLoop(loop, tree, report);
                    break;
                case IInvocationOperation invocation:
                    AnalyzeSpinUntil(invocation, tree, owner, report);
                    break;
            }
        }
    }

    private void AnalyzePeriodicLoop(ILoopOperation loop, TreeState tree, Action<Diagnostic> report)
    {
        if (LoopCondition(loop) is not { } condition || !ContainsPeriodicTick(condition))
        {
            return;
        }

        foreach (var gate in Descendants(loop.Body).OfType<IConditionalOperation>())
        {
            if (Statements(gate.WhenTrue).LastOrDefault() is IBranchOperation { BranchKind: BranchKind.Continue }
                && TryFindComparison(gate.Condition, tree.Matcher, until: false, out var comparison))
            {
                Report(report, loop.Syntax, "timer loop", comparison, PollingSite.PeriodicTimer, fix: null, bounded: BoundedWaitPlan.None("a tick loop runs on the timer's schedule; rewrite it as a send loop that awaits the channel"));
                return;
            }
        }
    }

    private void AnalyzeSpinUntil(IInvocationOperation invocation, TreeState tree, ISymbol owner, Action<Diagnostic> report)
    {
        if (invocation.TargetMethod.Name != "SpinUntil"
            || !Is(invocation.TargetMethod.ContainingType, _types.SpinWait)
            || invocation.Arguments.Length == 0
            || Strip(invocation.Arguments[0].Value) is not IDelegateCreationOperation { Target: IAnonymousFunctionOperation lambda }
            || !TryFindComparison(lambda.Body, tree.Matcher, until: true, out var comparison))
        {
            return;
        }

        Fix? fix = null;
        if (invocation.Arguments.Length == 1
            && invocation.Parent is IExpressionStatementOperation statement
            && IsAsyncContext(invocation, owner)
            && CanAwaitAt(invocation)
            && !statement.Syntax.ContainsDirectives
            && lambda.Body.Operations is [IReturnOperation { ReturnedValue: { } until }]
            && TryGetStopRelation(until, comparison, out var untilRelation)
            && ThresholdText(comparison, Negate(untilRelation)) is { } threshold
            && ReceiverText(comparison.Member, invocation) is { } receiver)
        {
            fix = new Fix($"await {receiver}.WaitForBufferedAmountLowAsync({threshold});", statement.Syntax, ImmutableArray<SyntaxNode>.Empty);
        }

        Report(
            report, invocation.Syntax, "SpinUntil call", comparison, PollingSite.SpinUntil, fix,
            BoundedWaitPlan.None(fix is null ? "SpinUntil is replaced only in async code, by an awaited wait without a timeout" : null));
    }

    private static IOperation? LoopCondition(ILoopOperation loop) => loop switch
    {
        IWhileLoopOperation whileLoop => whileLoop.Condition,
        IForLoopOperation forLoop => forLoop.Condition,
        _ => null,
    };

    /// <summary>The fix introduces an await: not inside a lock or in unsafe code, where the compiler forbids it.</summary>
    private static bool CanAwaitAt(IOperation operation)
    {
        for (var parent = operation.Parent; parent is not null and not IAnonymousFunctionOperation and not ILocalFunctionOperation; parent = parent.Parent)
        {
            if (parent is ILockOperation)
            {
                return false;
            }
        }

        return !operation.Syntax.AncestorsAndSelf().Any(n => n is UnsafeStatementSyntax
            || (n is MemberDeclarationSyntax member && member.Modifiers.Any(SyntaxKind.UnsafeKeyword)));
    }

    private static bool IsAsyncContext(IOperation operation, ISymbol containingSymbol) => FunctionRoot(operation) switch
    {
        IAnonymousFunctionOperation lambda => lambda.Symbol.IsAsync,
        ILocalFunctionOperation local => local.Symbol.IsAsync,
        _ => containingSymbol is IMethodSymbol { IsAsync: true },
    };

    private void Report(Action<Diagnostic> report, SyntaxNode construct, string kind, Comparison comparison, string shape, Fix? fix, BoundedWaitPlan bounded)
    {
        var properties = ImmutableDictionary.CreateBuilder<string, string?>();
        properties[PollingSite.ShapeKey] = shape;
        var fixes = new List<string>();
        if (!bounded.Replacements.IsDefaultOrEmpty)
        {
            fixes.Add(PollingSite.BoundedWaitEquivalenceKey);
            properties[PollingSite.BoundedWaitCountKey] = bounded.Replacements.Length.ToString(CultureInfo.InvariantCulture);
            for (var i = 0; i < bounded.Replacements.Length; i++)
            {
                var (target, replacement) = bounded.Replacements[i];
                properties[PollingSite.BoundedWaitSpanKey(i)] = FormattableString.Invariant($"{target.Span.Start},{target.Span.Length}");
                properties[PollingSite.BoundedWaitReplacementKey(i)] = replacement;
            }
        }

        var additional = new List<Location>();
        if (fix is { } f)
        {
            fixes.Add(PollingSite.ReplaceWaitEquivalenceKey);
            properties[PollingSite.FixKey] = PollingSite.ReplaceWaitFix;
            properties[PollingSite.ReplacementKey] = f.Replacement;
            additional.Add(f.Target.GetLocation());
            additional.AddRange(f.Kept.Select(k => k.GetLocation()));
            if (f.SendLoop is { } sendLoop)
            {
                fixes.Add(PollingSite.ReplaceSendLoopEquivalenceKey);
                properties[PollingSite.SendLoopReplacementKey] = sendLoop.Replacement;
                properties[PollingSite.SendLoopSpanKey] = FormattableString.Invariant($"{sendLoop.Target.Span.Start},{sendLoop.Target.Span.Length}");
                if (!sendLoop.Removed.IsEmpty)
                {
                    properties[PollingSite.SendLoopRemoveKey] = string.Join(";", sendLoop.Removed.Select(r => FormattableString.Invariant($"{r.Span.Start},{r.Span.Length}")));
                }
            }
        }

        if (fixes.Count > 0)
        {
            properties[PollingSite.FixesKey] = string.Join(";", fixes);
        }
        else
        {
            properties[PollingSite.NoFixKey] = bounded.WhyNot ?? "no rewrite of this site keeps its meaning";
        }

        report(Diagnostic.Create(
            DiagnosticDescriptors.BufferedAmountPolling,
            HeaderLocation(construct),
            additional,
            properties.ToImmutable(),
            kind,
            comparison.Member.Syntax.ToString(),
            fixes.Count > 0 ? string.Empty : PollingSite.NoFixMessagePrefix + properties[PollingSite.NoFixKey] + ")"));
    }

    internal static Location HeaderLocation(SyntaxNode construct)
    {
        var span = construct switch
        {
            WhileStatementSyntax w => TextSpan.FromBounds(w.WhileKeyword.SpanStart, w.CloseParenToken.Span.End),
            DoStatementSyntax d => TextSpan.FromBounds(d.WhileKeyword.SpanStart, d.CloseParenToken.Span.End),
            ForStatementSyntax f => TextSpan.FromBounds(f.ForKeyword.SpanStart, f.CloseParenToken.Span.End),
            IfStatementSyntax i => TextSpan.FromBounds(i.IfKeyword.SpanStart, i.CloseParenToken.Span.End),
            ForEachStatementSyntax e => TextSpan.FromBounds(e.ForEachKeyword.SpanStart, e.CloseParenToken.Span.End),
            _ => construct.Span,
        };

        return Location.Create(construct.SyntaxTree, span);
    }

    private bool TryGetTree(SyntaxTree tree, CancellationToken cancellationToken, out TreeState state)
    {
        state = _trees.GetOrAdd(tree, t => CreateTreeState(t, cancellationToken));
        return state.Index is not null;
    }

    /// <summary>
    /// Reads the tree's options once and searches its text: a tree that never names a candidate member cannot
    /// poll one, so every callback in it returns before touching the semantic model or a syntax node.
    /// </summary>
    private TreeState CreateTreeState(SyntaxTree tree, CancellationToken cancellationToken)
    {
        _options.GetOptions(tree).TryGetValue(BufferedAmountMatcher.MemberNamesOption, out var names);
        var matcher = new BufferedAmountMatcher(BufferedAmountMatcher.ParseMemberNames(names), _types.BufferedChannel, _canSend);
        var index = NameIndex.Create(tree, cancellationToken);
        return index.NamesAny(new TextSpan(0, tree.Length), matcher.MemberNames)
            ? new TreeState(matcher, index, AmountNames(tree.GetRoot(cancellationToken), matcher, index))
            : new TreeState(matcher, null, ImmutableHashSet<string>.Empty);
    }

    /// <summary>
    /// The names that can bring an amount into a method of this file: the member names themselves, and the
    /// parameterless properties, methods and local functions whose code names one of them (followed as deep as
    /// predicates are inlined). A method that names none of them cannot test an amount, so it gets no graph.
    /// Only the declarations around each place a name is written are looked at, not the rest of the file.
    /// </summary>
    private static ImmutableHashSet<string> AmountNames(SyntaxNode root, BufferedAmountMatcher matcher, NameIndex index)
    {
        var names = new HashSet<string>(matcher.MemberNames, StringComparer.OrdinalIgnoreCase);
        var newest = names.ToList();
        for (var depth = 0; depth < MaxInlineDepth && newest.Count > 0; depth++)
        {
            newest = newest.SelectMany(index.Positions)
                .SelectMany(position => root.FindToken(position).Parent?.AncestorsAndSelf() ?? [])
                .Select(AccessorName)
                .OfType<string>()
                .Where(names.Add)
                .ToList();
        }

        return names.ToImmutableHashSet(StringComparer.OrdinalIgnoreCase);

        // Code being typed may declare a member whose name is still missing: it has no name anything can call it by.
        static string? AccessorName(SyntaxNode node) => node switch
        {
            PropertyDeclarationSyntax property => NameOf(property.Identifier),
            MethodDeclarationSyntax { ParameterList.Parameters.Count: 0 } method => NameOf(method.Identifier),
            LocalFunctionStatementSyntax { ParameterList.Parameters.Count: 0 } local => NameOf(local.Identifier),
            _ => null,
        };

        static string? NameOf(SyntaxToken identifier) => identifier.IsMissing || identifier.ValueText.Length == 0 ? null : identifier.ValueText;
    }

    private static ImmutableArray<IOperation> Statements(IOperation? body) => body switch
    {
        null => ImmutableArray<IOperation>.Empty,
        IBlockOperation block => block.Operations,
        _ => ImmutableArray.Create(body),
    };

    private static IOperation FunctionRoot(IOperation operation)
    {
        var current = operation;
        while (current.Parent is not null && current is not IAnonymousFunctionOperation and not ILocalFunctionOperation)
        {
            current = current.Parent;
        }

        return current;
    }

    private static IEnumerable<IOperation> DescendantsAndSelf(IOperation root) => Descendants(root, enterFunctions: false, includeSelf: true);

    private static IEnumerable<IOperation> Descendants(IOperation root, bool enterFunctions = false, bool includeSelf = false)
    {
        var stack = new Stack<IOperation>();
        stack.Push(root);
        while (stack.Count > 0)
        {
            var current = stack.Pop();
            if (!ReferenceEquals(current, root) || includeSelf)
            {
                yield return current;
            }

            // Code in a nested lambda or local function runs on its own schedule, not as part of this wait.
            if (!ReferenceEquals(current, root) && !enterFunctions && current is IAnonymousFunctionOperation or ILocalFunctionOperation)
            {
                continue;
            }

            foreach (var child in current.ChildOperations.Reverse())
            {
                stack.Push(child);
            }
        }
    }

    private static IOperation Strip(IOperation? operation)
    {
        while (operation is IConversionOperation conversion)
        {
            operation = conversion.Operand;
        }

        return operation!;
    }

    private static IOperation StripImplicit(IOperation operation)
    {
        while (operation is IConversionOperation { IsImplicit: true } conversion)
        {
            operation = conversion.Operand;
        }

        return operation;
    }

    private static bool IsIntegral(object value) => value is sbyte or byte or short or ushort or int or uint or long or ulong;

    private static bool Is(ITypeSymbol? type, INamedTypeSymbol? expected) =>
        expected is not null && SymbolEqualityComparer.Default.Equals(type?.OriginalDefinition, expected);


    /// <summary>What the rule knows of one file before binding it: its matcher and, when it names a candidate member, where it names what.</summary>
    private sealed record TreeState(BufferedAmountMatcher Matcher, NameIndex? Index, ImmutableHashSet<string> AmountNames);
}
