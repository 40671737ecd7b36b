using System.Collections.Immutable;
using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Operations;

namespace Backpressure.Analyzers;

/// <summary>
/// The whole-wait rewrite (<c>BP0001.ReplaceWait</c>) for the clean shapes: a wait loop, a break loop, an if-continue
/// and the setTimeout twin become one awaited <c>WaitForBufferedAmountLowAsync</c> where nothing else in them would be lost.
/// </summary>
internal sealed partial class PollingAnalysis
{
    /// <summary>The shape of a loop the flow analysis reported, and its whole-loop rewrite when one keeps the meaning.</summary>
    private (string Shape, Comparison? Comparison, Fix? Fix) PlanLoop(ILoopOperation loop, BufferedAmountMatcher matcher, ISymbol containingSymbol)
    {
        var condition = LoopCondition(loop);
        if (condition is not null && TryFindComparison(condition, matcher, until: false, out var comparison))
        {
            return (PollingSite.WaitLoop, comparison, loop is IWhileLoopOperation w ? TryFixWaitLoop(w, comparison, containingSymbol) : null);
        }

        if (TryGetBreakGate(loop, matcher, out var gate, out comparison, out var stopAt))
        {
            return (PollingSite.BreakLoop, comparison, TryFixBreakLoop(loop, gate, comparison, stopAt, containingSymbol));
        }

        return (PollingSite.Loop, null, null);
    }

    /// <summary>
    /// A loop that polls from inside: <c>while (true) { if (amount &lt;= x) break; wait; }</c>, where a
    /// statement of the body is exactly a comparison of the amount and leaves the loop once it is low, which
    /// is when the amount stands in relation <paramref name="stopAt"/> to the other side.
    /// </summary>
    private bool TryGetBreakGate(
        ILoopOperation loop, BufferedAmountMatcher matcher, out IConditionalOperation gate, out Comparison comparison, out BinaryOperatorKind stopAt)
    {
        foreach (var statement in Statements(loop.Body))
        {
            if (statement is IConditionalOperation { WhenFalse: null } candidate
                && Statements(candidate.WhenTrue) is [IBranchOperation { BranchKind: BranchKind.Break } exit]
                && SymbolEqualityComparer.Default.Equals(exit.Target, loop.ExitLabel)
                && TryFindComparison(candidate.Condition, matcher, until: true, out comparison)
                && TryGetStopRelation(candidate.Condition, comparison, out stopAt))
            {
                gate = candidate;
                return true;
            }
        }

        gate = null!;
        comparison = default;
        stopAt = default;
        return false;
    }

    /// <summary>
    /// An endless loop made of its break gate, first or last, and waits: the same wait as
    /// <c>while (amount &gt; x) wait;</c> (or its do-while), so it becomes one event-driven wait too.
    /// A loop with a condition of its own (a retry count, a running flag) stops for more than the queue.
    /// </summary>
    private Fix? TryFixBreakLoop(ILoopOperation loop, IConditionalOperation gate, Comparison comparison, BinaryOperatorKind stopAt, ISymbol containingSymbol)
    {
        var endless = loop switch
        {
            IWhileLoopOperation w => w.Condition?.ConstantValue is { HasValue: true, Value: true },
            IForLoopOperation f => f.Condition?.ConstantValue is null or { HasValue: true, Value: true } && f.Before.IsEmpty && f.AtLoopBottom.IsEmpty,
            _ => false,
        };
        if (!endless)
        {
            return null;
        }

        var statements = Statements(loop.Body);
        var waits = ReferenceEquals(statements[0], gate) ? statements.RemoveAt(0)
            : ReferenceEquals(statements[statements.Length - 1], gate) ? statements.RemoveAt(statements.Length - 1)
            : default;
        if (waits.IsDefault
            || ThresholdText(comparison, Negate(stopAt)) is not { } threshold
            || !TryGetWaitOnlyStatements(waits, comparison, out var wait, out var kept)
            || (comparison.ViaLocal is not null && kept.IsEmpty)
            || AwaitedWaitReceiver(loop, comparison, containingSymbol) is not { } receiver)
        {
            return null;
        }

        return new Fix(WaitStatement(receiver, threshold, wait), loop.Syntax, LiveRefreshes(loop, comparison, kept));
    }

    /// <summary>The shape of an if statement the flow analysis reported, and its wait rewrite when one keeps the meaning.</summary>
    private (string Shape, Comparison? Comparison, Fix? Fix) PlanConditional(IConditionalOperation conditional, BufferedAmountMatcher matcher, ISymbol containingSymbol)
    {
        // The whole-wait rewrites read the if as "over the threshold: wait"; any other if gets the bounded wait only.
        if (!TryFindComparison(conditional.Condition, matcher, until: false, out var comparison) || !TimedWaits(conditional.WhenTrue, containingSymbol).Any())
        {
            return (PollingSite.ConditionalWait, null, null);
        }

        var statements = Statements(conditional.WhenTrue);
        var last = statements.LastOrDefault();
        if (last is IBranchOperation { BranchKind: BranchKind.Continue })
        {
            return (PollingSite.IfContinue, comparison, TryFixIfContinue(conditional, statements, comparison, containingSymbol));
        }

        if (last is IReturnOperation && FindDelayContinuation(statements, containingSymbol) is { } delay)
        {
            return (PollingSite.SetTimeoutTwin, comparison, conditional.WhenFalse is null ? TryFixSetTimeoutTwin(conditional, delay, comparison) : null);
        }

        return (TimedWaits(conditional.WhenTrue, containingSymbol).Any(w => IsTimerReschedule(w.TargetMethod)) ? PollingSite.TimerReschedule : PollingSite.ConditionalWait, comparison, null);
    }

    private Fix? TryFixWaitLoop(IWhileLoopOperation loop, Comparison comparison, ISymbol containingSymbol)
    {
        if (!TryGetStopRelation(loop.Condition!, comparison, out var relation)
            || ThresholdText(comparison, relation) is not { } threshold
            || !TryGetWaitOnlyStatements(Statements(loop.Body), comparison, out var wait, out var kept)
            || (comparison.ViaLocal is not null && kept.IsEmpty)
            || AwaitedWaitReceiver(loop, comparison, containingSymbol) is not { } receiver)
        {
            return null;
        }

        return new Fix(WaitStatement(receiver, threshold, wait), loop.Syntax, LiveRefreshes(loop, comparison, kept))
        {
            SendLoop = kept.IsEmpty ? TryFixSendLoop(loop, comparison, receiver, threshold, wait) : null,
        };
    }

    /// <summary>
    /// The re-reads of the compared local that still matter once the loop is gone: none when nothing outside the
    /// loop reads the local (the loop's own test was the only reader), so the rewrite leaves no dead assignment.
    /// </summary>
    private static ImmutableArray<SyntaxNode> LiveRefreshes(IOperation loop, Comparison comparison, ImmutableArray<SyntaxNode> kept) =>
        comparison.ViaLocal is { } local && !kept.IsEmpty && !IsReadAfter(loop, local) ? ImmutableArray<SyntaxNode>.Empty : kept;

    private Fix? TryFixIfContinue(IConditionalOperation conditional, ImmutableArray<IOperation> statements, Comparison comparison, ISymbol containingSymbol)
    {
        // Only the wait is replaced; the if and its continue stay, so whatever continue did before
        // (re-check the loop condition, run a for loop's incrementor, take foreach's next element) it still does.
        if (conditional.WhenFalse is not null
            || statements.Length != 2
            || !TryGetStopRelation(conditional.Condition, comparison, out var relation)
            || ThresholdText(comparison, relation) is not { } threshold
            || !TryGetWaitOnlyStatements(ImmutableArray.Create(statements[0]), comparison, out var wait, out _)
            || AwaitedWaitReceiver(conditional, comparison, containingSymbol) is not { } receiver)
        {
            return null;
        }

        return new Fix(WaitStatement(receiver, threshold, wait), statements[0].Syntax, ImmutableArray<SyntaxNode>.Empty)
        {
            SendLoop = TryFixSendLoop(conditional, comparison, receiver, threshold, wait),
        };
    }

    private Fix? TryFixSetTimeoutTwin(IConditionalOperation conditional, IInvocationOperation delay, Comparison comparison)
    {
        // The continuation stays; only its trigger changes from "50 ms later" to "when the queue is low".
        if (!TryGetStopRelation(conditional.Condition, comparison, out var relation)
            || ThresholdText(comparison, relation) is not { } threshold
            || conditional.Syntax.ContainsDirectives
            || ReceiverText(comparison.Member, delay) is not { } receiver)
        {
            return null;
        }

        var token = CancellationTokenArgument(delay);
        return new Fix($"{receiver}.WaitForBufferedAmountLowAsync({threshold}{token}).AsTask()", delay.Syntax, ImmutableArray<SyntaxNode>.Empty)
        {
            SendLoop = TryFixTwinSendLoop(conditional, comparison, receiver, threshold),
        };
    }

    private static string WaitStatement(string receiver, string threshold, WaitDetails wait) =>
        $"await {receiver}.WaitForBufferedAmountLowAsync({threshold}{wait.Token}){wait.ConfigureAwait};";

    /// <summary>
    /// Accepts a body made only of waits (and, when the comparison reads a local, re-reads of that local),
    /// so replacing it with one event-driven wait drops nothing the program did.
    /// </summary>
    private bool TryGetWaitOnlyStatements(
        ImmutableArray<IOperation> statements, Comparison comparison, out WaitDetails wait, out ImmutableArray<SyntaxNode> kept)
    {
        wait = new WaitDetails(string.Empty, string.Empty);
        var keep = ImmutableArray.CreateBuilder<SyntaxNode>();
        var sawWait = false;
        foreach (var statement in statements)
        {
            if (statement is not IExpressionStatementOperation { Operation: var expression })
            {
                kept = default;
                return false;
            }

            // A re-read of the compared local is kept after the wait, but only a re-read of the polled member itself.
            if (comparison.ViaLocal is not null
                && expression is ISimpleAssignmentOperation { Target: ILocalReferenceOperation target } refresh
                && SymbolEqualityComparer.Default.Equals(target.Local, comparison.ViaLocal)
                && Strip(refresh.Value) is IMemberReferenceOperation source
                && SymbolEqualityComparer.Default.Equals(source.Member, ((IMemberReferenceOperation)comparison.Member).Member)
                && SameInstance(source.Instance, ((IMemberReferenceOperation)comparison.Member).Instance))
            {
                keep.Add(statement.Syntax);
                continue;
            }

            if (!TryParseWait(expression, out var details))
            {
                kept = default;
                return false;
            }

            // Every wait's cancellation token and ConfigureAwait count: the first one that has each.
            wait = new WaitDetails(
                wait.Token.Length > 0 ? wait.Token : details.Token ?? string.Empty,
                wait.ConfigureAwait.Length > 0 ? wait.ConfigureAwait : details.ConfigureAwait ?? string.Empty);
            sawWait = true;
        }

        kept = keep.ToImmutable();
        return sawWait;
    }

    private bool TryParseWait(IOperation expression, out WaitDetails details)
    {
        details = new WaitDetails(string.Empty, string.Empty);
        if (expression is IAwaitOperation { Operation: var awaited })
        {
            var configureAwait = string.Empty;
            if (awaited is IInvocationOperation { TargetMethod.Name: "ConfigureAwait", Instance: { } configured, Arguments: [var argument] })
            {
                // ConfigureAwait(bool) carries over; Task-only options such as ConfigureAwaitOptions do not exist on a ValueTask.
                if (argument.Value.Type?.SpecialType != SpecialType.System_Boolean)
                {
                    return false;
                }

                configureAwait = $".ConfigureAwait({argument.Value.Syntax})";
                awaited = configured;
            }

            if (awaited is IInvocationOperation task && Is(task.TargetMethod.ContainingType, _types.Task) && task.TargetMethod.Name is "Delay" or "Yield" && task.Parent is not null)
            {
                details = new WaitDetails(CancellationTokenArgument(task), configureAwait);
                return true;
            }

            return false;
        }

        // Blocking waits: the fix turns them into an await, so it is offered only in async code.
        return expression is IInvocationOperation invocation
            && !IsTimerReschedule(invocation.TargetMethod)
            && ((Is(invocation.TargetMethod.ContainingType, _types.Thread) && invocation.TargetMethod.Name is "Sleep" or "SpinWait" or "Yield")
                || (Is(invocation.TargetMethod.ContainingType, _types.SpinWait) && invocation.TargetMethod.Name == "SpinOnce"));
    }

    private string CancellationTokenArgument(IInvocationOperation invocation)
    {
        foreach (var argument in invocation.Arguments)
        {
            if (argument.ArgumentKind == ArgumentKind.Explicit && Is(argument.Parameter?.Type, _types.CancellationToken))
            {
                return ", " + argument.Value.Syntax;
            }
        }

        return string.Empty;
    }

    /// <summary>
    /// The receiver for an awaited wait that replaces <paramref name="site"/>, or null when no await can go
    /// there (synchronous code, a lock, unsafe code) or a preprocessor directive inside would be lost.
    /// </summary>
    private string? AwaitedWaitReceiver(IOperation site, Comparison comparison, ISymbol containingSymbol) =>
        IsAsyncContext(site, containingSymbol) && CanAwaitAt(site) && !site.Syntax.ContainsDirectives
            ? ReceiverText(comparison.Member, site)
            : null;

    private readonly record struct WaitDetails(string Token, string ConfigureAwait);

    private sealed record Fix(string Replacement, SyntaxNode Target, ImmutableArray<SyntaxNode> Kept)
    {
        public SendLoopFix? SendLoop { get; init; }
    }
}
