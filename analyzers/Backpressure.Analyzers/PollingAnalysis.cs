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
    public void AnalyzePeriodicLoop(OperationAnalysisContext context)
    {
        var loop = (ILoopOperation)context.Operation;
        if (LoopCondition(loop) is not { } condition || !ContainsPeriodicTick(condition) || !TryGetTree(loop, context.CancellationToken, out var tree))
        {
            return;
        }

        foreach (var gate in Descendants(loop.Body).OfType<IConditionalOperation>())
        {
            if (Statements(gate.WhenTrue).LastOrDefault() is IBranchOperation { BranchKind: BranchKind.Continue }
                && TryFindComparison(gate.Condition, tree.Matcher, until: false, out var comparison))
            {
                Report(context.ReportDiagnostic, loop.Syntax, "timer loop", comparison, PollingSite.PeriodicTimer, fix: null, bounded: BoundedWaitPlan.None("a tick loop runs on the timer's schedule; rewrite it as a send loop that awaits the channel"));
                return;
            }
        }
    }

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
    /// A timed wait the break-gated loop does itself: not one inside an inner if or loop that polls the amount
    /// on its own and is reported (and fixed) as that shape.
    /// </summary>
    private bool HasOwnTimedWait(ILoopOperation loop, BufferedAmountMatcher matcher, ISymbol containingSymbol) =>
        TimedWaits(loop.Body, containingSymbol).Any(wait => !IsUnderInnerPolling(wait, loop.Body, matcher));

    private bool IsUnderInnerPolling(IOperation wait, IOperation body, BufferedAmountMatcher matcher)
    {
        for (var child = wait; !ReferenceEquals(child, body) && child.Parent is { } parent; child = parent)
        {
            var condition = parent switch
            {
                IConditionalOperation { Syntax: IfStatementSyntax } gate when ReferenceEquals(gate.WhenTrue, child) => gate.Condition,
                IWhileLoopOperation w when ReferenceEquals(w.Body, child) => w.Condition,
                IForLoopOperation f when ReferenceEquals(f.Body, child) => f.Condition,
                _ => null,
            };

            if (condition is not null && TryFindComparison(condition, matcher, until: false, out _))
            {
                return true;
            }
        }

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

    public void AnalyzeInvocation(OperationAnalysisContext context)
    {
        var invocation = (IInvocationOperation)context.Operation;
        if (invocation.TargetMethod.Name != "SpinUntil"
            || !Is(invocation.TargetMethod.ContainingType, _types.SpinWait)
            || invocation.Arguments.Length == 0
            || Strip(invocation.Arguments[0].Value) is not IDelegateCreationOperation { Target: IAnonymousFunctionOperation lambda }
            || !TryGetTree(invocation, context.CancellationToken, out var tree)
            || !TryFindComparison(lambda.Body, tree.Matcher, until: true, out var comparison))
        {
            return;
        }

        Fix? fix = null;
        if (invocation.Arguments.Length == 1
            && invocation.Parent is IExpressionStatementOperation statement
            && IsAsyncContext(invocation, context.ContainingSymbol)
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
            context.ReportDiagnostic, invocation.Syntax, "SpinUntil call", comparison, PollingSite.SpinUntil, fix,
            BoundedWaitPlan.None(fix is null ? "SpinUntil is replaced only in async code, by an awaited wait without a timeout" : null));
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

    /// <summary>
    /// The seed's executeSend, ported as is: a TaskCompletionSource, an offset declared 0, a local
    /// <c>SendChunk</c> whose send loop re-schedules itself with <c>Task.Delay(n).ContinueWith(_ =&gt; SendChunk())</c>
    /// and then completes the source (optionally in a try/catch that faults it), a first call, and
    /// <c>return tcs.Task</c> (or <c>await tcs.Task</c>). All of it becomes one SendAsync.
    /// </summary>
    private SendLoopFix? TryFixTwinSendLoop(IConditionalOperation twin, Comparison comparison, string receiver, string threshold)
    {
        if (twin.Parent is not IBlockOperation { Parent: IWhileLoopOperation { ConditionIsTop: true, ConditionIsUntil: false } loop } loopBody
            || !ReferenceEquals(loopBody.Operations[0], twin)
            || FunctionRoot(loop) is not ILocalFunctionOperation sendChunk
            || sendChunk.Parent is not IBlockOperation outer
            || outer.Syntax.ContainsDirectives
            || !TryGetCompletion(sendChunk, loop, out var source)
            || loopBody.Operations.RemoveAt(0) is not [.. var steps, IExpressionStatementOperation { Operation: ICompoundAssignmentOperation { OperatorKind: BinaryOperatorKind.Add, Target: ILocalReferenceOperation advanced, Value: var by } }]
            || !TryGetBound(loop.Condition, advanced.Local, out var data)
            || data is not (IParameterReferenceOperation or IFieldReferenceOperation))
        {
            return null;
        }

        // The loop's steps: `var length = Math.Min(chunk, data.Length - offset); send(data, offset, length);`.
        if (steps is not [IVariableDeclarationGroupOperation { Declarations: [{ Declarators: [var lengthDeclarator] }] }, IExpressionStatementOperation { Operation: IInvocationOperation send }]
            || !IsLocal(by, lengthDeclarator.Symbol)
            || !send.TargetMethod.Name.StartsWith("send", StringComparison.OrdinalIgnoreCase)
            || !SameReceiver(send.Instance, comparison.Member)
            || !TryGetSentSlice(send, data, advanced.Local, out var sliceLength)
            || !IsLocal(sliceLength, lengthDeclarator.Symbol)
            || !TryGetChunkFromMinimum(lengthDeclarator.Initializer?.Value, data, advanced.Local, out var chunk)
            || !IsStableInt(chunk))
        {
            return null;
        }

        // The enclosing method: source and offset declared, SendChunk declared and called, the source's task handed back.
        var statements = outer.Operations;
        var declareSource = -1;
        for (var i = 0; i < statements.Length && declareSource < 0; i++)
        {
            if (statements[i] is IVariableDeclarationGroupOperation { Declarations: [{ Declarators: [var d] }] } && SymbolEqualityComparer.Default.Equals(d.Symbol, source))
            {
                declareSource = i;
            }
        }

        var last = statements.Length - 1;
        if (declareSource < 0
            || last - declareSource != 4
            || statements[declareSource + 1] is not IVariableDeclarationGroupOperation { Declarations: [{ Declarators: [var offsetDeclarator] }] }
            || !SymbolEqualityComparer.Default.Equals(offsetDeclarator.Symbol, advanced.Local)
            || !IsZero(offsetDeclarator.Initializer?.Value)
            || !ReferenceEquals(statements[declareSource + 2], sendChunk)
            || statements[declareSource + 3] is not IExpressionStatementOperation { Operation: IInvocationOperation { Arguments.Length: 0 } start }
            || !SymbolEqualityComparer.Default.Equals(start.TargetMethod, sendChunk.Symbol)
            || !HandsBackTask(statements[last], source, out var awaited))
        {
            return null;
        }

        var options = $"new BackpressureOptions(chunkSize: {chunk.Syntax}, lowThreshold: {LongThreshold(comparison, threshold)}, highWatermark: {LongThreshold(comparison, threshold)})";
        var call = $"{receiver}.SendAsync({data.Syntax}, {options})";
        return new SendLoopFix(awaited ? $"await {call};" : $"return {call};", statements[last].Syntax)
        {
            Removed = Enumerable.Range(declareSource, 4).Select(i => statements[i].Syntax).ToImmutableArray(),
        };
    }

    /// <summary>SendChunk's body is the loop and then <c>source.TrySetResult(...)</c>, bare or in try/catch(Exception e) { source.TrySetException(e); }.</summary>
    private static bool TryGetCompletion(ILocalFunctionOperation sendChunk, IOperation loop, out ILocalSymbol source)
    {
        source = null!;
        // A void function's block ends with an implicit return: only what was written counts.
        static ImmutableArray<IOperation> Written(ImmutableArray<IOperation> operations) => operations.Where(o => !o.IsImplicit).ToImmutableArray();

        var body = Written(sendChunk.Body?.Operations ?? ImmutableArray<IOperation>.Empty);
        if (body is [ITryOperation { Finally: null, Catches: [var handler], Body.Operations: var tried }])
        {
            if (handler is not { ExceptionDeclarationOrExpression: IVariableDeclaratorOperation caught, Filter: null, Handler.Operations: [IExpressionStatementOperation { Operation: IInvocationOperation { TargetMethod.Name: "TrySetException" or "SetException", Arguments: [var error] } fault }] }
                || !IsLocal(error.Value, caught.Symbol)
                || caught.Symbol.Type.ToDisplayString() != "System.Exception")
            {
                return false;
            }

            body = Written(tried);
            if (fault.Instance is not ILocalReferenceOperation faulted)
            {
                return false;
            }

            source = faulted.Local;
        }

        if (body is not [var first, IExpressionStatementOperation { Operation: IInvocationOperation { TargetMethod.Name: "TrySetResult" or "SetResult", Instance: ILocalReferenceOperation completed } }]
            || !ReferenceEquals(first, loop)
            || (source is not null && !SymbolEqualityComparer.Default.Equals(source, completed.Local))
            || completed.Local.Type.Name != "TaskCompletionSource")
        {
            return false;
        }

        source = completed.Local;
        return true;
    }

    private static bool HandsBackTask(IOperation statement, ILocalSymbol source, out bool awaited)
    {
        static bool IsSourceTask(IOperation? value, ILocalSymbol source) =>
            Strip(value) is IPropertyReferenceOperation { Property.Name: "Task", Instance: ILocalReferenceOperation local } && SymbolEqualityComparer.Default.Equals(local.Local, source);

        awaited = statement is IExpressionStatementOperation { Operation: IAwaitOperation { Operation: var task } } && IsSourceTask(task, source);
        return awaited || (statement is IReturnOperation { ReturnedValue: var returned } && IsSourceTask(returned, source)
            && statement.SemanticModel?.GetEnclosingSymbol(statement.Syntax.SpanStart) is IMethodSymbol { IsAsync: false, ReturnType.Name: "Task", ReturnType.ContainingNamespace.Name: "Tasks" } method
            && method.ReturnType is INamedTypeSymbol { IsGenericType: false });
    }

    /// <summary>BackpressureOptions takes long thresholds; a ulong one is converted, checked.</summary>
    private string LongThreshold(Comparison comparison, string threshold) =>
        ConvertsToLong(StripImplicit(comparison.Other)) ? threshold : $"checked((long){threshold})";

    /// <summary>
    /// Recognises the chunked-send loop around a fixable wait, with confidence, and rewrites the whole of
    /// it into one <c>SendAsync</c>: the payload is a byte array sent from offset 0 in chunks of
    /// <c>Math.Min(chunk, data.Length - offset)</c>, each handed to the same channel's send, and nothing
    /// else happens in the loop. High watermark = low threshold = the polled threshold, so the pacing is
    /// the original's.
    /// </summary>
    private SendLoopFix? TryFixSendLoop(IOperation wait, Comparison comparison, string receiver, string threshold, WaitDetails details)
    {
        if (wait.Parent is not IBlockOperation { Parent: ILoopOperation loop } body
            || body.Operations.Length < 2
            || !ReferenceEquals(body.Operations[0], wait)
            || !ConvertsToLong(StripImplicit(comparison.Other))
            || loop.Syntax.ContainsDirectives)
        {
            return null;
        }

        ILocalSymbol? offset;
        IOperation data;
        string chunk;
        var rest = body.Operations.RemoveAt(0);
        switch (loop)
        {
            case IForLoopOperation forLoop
                when forLoop.Before is [IVariableDeclarationGroupOperation { Declarations: [{ Declarators: [var declarator] }] }]
                    && IsZero(declarator.Initializer?.Value)
                    && forLoop.AtLoopBottom is [IExpressionStatementOperation { Operation: ICompoundAssignmentOperation { OperatorKind: BinaryOperatorKind.Add } step }]
                    && IsLocal(step.Target, declarator.Symbol):
                offset = declarator.Symbol;
                chunk = step.Value.Syntax.ToString();
                if (!TryGetBound(forLoop.Condition, offset, out data) || !IsStableInt(step.Value))
                {
                    return null;
                }

                break;

            case IWhileLoopOperation { ConditionIsTop: true, ConditionIsUntil: false } whileLoop
                when rest is [.., IExpressionStatementOperation { Operation: ICompoundAssignmentOperation { OperatorKind: BinaryOperatorKind.Add } advance }]
                    && advance.Target is ILocalReferenceOperation advanced
                    && IsDeclaredAsZeroJustBefore(advanced.Local, loop)
                    && !IsReadAfter(loop, advanced.Local):
                offset = advanced.Local;
                rest = rest.RemoveAt(rest.Length - 1);
                if (!TryGetBound(whileLoop.Condition, offset, out data))
                {
                    return null;
                }

                chunk = string.Empty; // taken from the Math.Min below, which the advance must match
                break;

            default:
                return null;
        }

        // Optional `var length = Math.Min(chunk, data.Length - offset);`, then the send.
        ILocalSymbol? lengthLocal = null;
        IOperation? minimum = null;
        if (rest is [IVariableDeclarationGroupOperation { Declarations: [{ Declarators: [var lengthDeclarator] }] }, ..])
        {
            lengthLocal = lengthDeclarator.Symbol;
            minimum = lengthDeclarator.Initializer?.Value;
            rest = rest.RemoveAt(0);
        }

        if (rest is not [IExpressionStatementOperation { Operation: IInvocationOperation send }]
            || !send.TargetMethod.Name.StartsWith("send", StringComparison.OrdinalIgnoreCase)
            || !SameReceiver(send.Instance, comparison.Member)
            || !TryGetSentSlice(send, data, offset, out var sliceLength))
        {
            return null;
        }

        if (lengthLocal is not null)
        {
            if (!IsLocal(sliceLength, lengthLocal))
            {
                return null;
            }

            sliceLength = minimum;
        }

        if (!TryGetChunkFromMinimum(sliceLength, data, offset, out var chunkFromMinimum)
            || (chunk.Length > 0 && chunk != chunkFromMinimum.Syntax.ToString())
            || !IsStableInt(chunkFromMinimum))
        {
            return null;
        }

        // In the while shape the offset must advance by exactly the slice sent.
        if (loop is IWhileLoopOperation && (lengthLocal is null || body.Operations[body.Operations.Length - 1] is not IExpressionStatementOperation { Operation: ICompoundAssignmentOperation { Value: var by } } || !IsLocal(by, lengthLocal)))
        {
            return null;
        }

        var token = details.Token.Length > 0 ? ", cancellationToken: " + details.Token.Substring(2) : string.Empty;
        var options = $"new BackpressureOptions(chunkSize: {chunkFromMinimum.Syntax}, lowThreshold: {threshold}, highWatermark: {threshold})";
        return new SendLoopFix($"await {receiver}.SendAsync({data.Syntax}, {options}{token}){details.ConfigureAwait};", loop.Syntax);
    }

    /// <summary><c>offset &lt; data.Length</c> for a byte array <c>data</c> that is a local, parameter or field.</summary>
    private static bool TryGetBound(IOperation? condition, ILocalSymbol offset, out IOperation data)
    {
        data = null!;
        if (condition is IBinaryOperation { OperatorKind: BinaryOperatorKind.LessThan } less
            && IsLocal(less.LeftOperand, offset)
            && TryGetArrayLength(less.RightOperand, out var array))
        {
            data = array;
            return true;
        }

        return false;
    }

    private static bool TryGetArrayLength(IOperation operation, out IOperation array)
    {
        array = null!;
        if (Strip(operation) is IPropertyReferenceOperation { Property.Name: "Length", Instance: { Type: IArrayTypeSymbol { ElementType.SpecialType: SpecialType.System_Byte, Rank: 1 } } instance }
            && instance is ILocalReferenceOperation or IParameterReferenceOperation or IFieldReferenceOperation { Instance: null or IInstanceReferenceOperation })
        {
            array = instance;
            return true;
        }

        return false;
    }

    /// <summary>The length argument of a send of <c>data[offset..offset+length]</c>, in the spellings senders use.</summary>
    private static bool TryGetSentSlice(IInvocationOperation send, IOperation data, ILocalSymbol offset, out IOperation length)
    {
        length = null!;
        var arguments = send.Arguments.Where(a => a.ArgumentKind != ArgumentKind.DefaultValue).Select(a => a.Value).ToList();
        if (arguments.Count == 3 && SameValue(arguments[0], data) && IsLocal(arguments[1], offset))
        {
            length = arguments[2]; // send(data, offset, count)
            return true;
        }

        if (arguments.Count != 1)
        {
            return false;
        }

        switch (Strip(arguments[0]))
        {
            case IInvocationOperation { TargetMethod.Name: "AsMemory" or "AsSpan" } slice
                when slice.Arguments.Length == 3 && SameValue(slice.Arguments[0].Value, data) && IsLocal(slice.Arguments[1].Value, offset):
                length = slice.Arguments[2].Value; // data.AsMemory(offset, length)
                return true;
            case IObjectCreationOperation { Arguments.Length: 3 } creation
                when SameValue(creation.Arguments[0].Value, data) && IsLocal(creation.Arguments[1].Value, offset)
                    && creation.Type?.Name is "ReadOnlyMemory" or "Memory" or "ArraySegment":
                length = creation.Arguments[2].Value; // new ReadOnlyMemory<byte>(data, offset, length)
                return true;
            default:
                return false;
        }
    }

    /// <summary><c>Math.Min(chunk, data.Length - offset)</c>, either way round.</summary>
    private static bool TryGetChunkFromMinimum(IOperation? minimum, IOperation data, ILocalSymbol offset, out IOperation chunk)
    {
        chunk = null!;
        if (Strip(minimum) is not IInvocationOperation { TargetMethod: { Name: "Min", ContainingType.Name: "Math" }, Arguments: [var first, var second] })
        {
            return false;
        }

        bool IsRemaining(IOperation value) =>
            Strip(value) is IBinaryOperation { OperatorKind: BinaryOperatorKind.Subtract } remaining
            && TryGetArrayLength(remaining.LeftOperand, out var array) && SameValue(array, data)
            && IsLocal(remaining.RightOperand, offset);

        if (IsRemaining(second.Value))
        {
            chunk = StripImplicit(first.Value);
            return true;
        }

        if (IsRemaining(first.Value))
        {
            chunk = StripImplicit(second.Value);
            return true;
        }

        return false;
    }

    private static bool IsStableInt(IOperation value) =>
        value.Type?.SpecialType == SpecialType.System_Int32
        && (value.ConstantValue.HasValue || StripImplicit(value) is ILocalReferenceOperation or IParameterReferenceOperation or IFieldReferenceOperation);

    private static bool IsZero(IOperation? value) => value?.ConstantValue is { HasValue: true, Value: 0 };

    private static bool IsLocal(IOperation? operation, ILocalSymbol local) =>
        Strip(operation) is ILocalReferenceOperation reference && SymbolEqualityComparer.Default.Equals(reference.Local, local);

    private static bool SameValue(IOperation a, IOperation b)
    {
        var left = Strip(a);
        var right = Strip(b);
        return (left, right) switch
        {
            (ILocalReferenceOperation l, ILocalReferenceOperation r) => SymbolEqualityComparer.Default.Equals(l.Local, r.Local),
            (IParameterReferenceOperation l, IParameterReferenceOperation r) => SymbolEqualityComparer.Default.Equals(l.Parameter, r.Parameter),
            (IFieldReferenceOperation l, IFieldReferenceOperation r) => SymbolEqualityComparer.Default.Equals(l.Field, r.Field)
                && (l.Instance is null or IInstanceReferenceOperation ? r.Instance is null or IInstanceReferenceOperation : r.Instance is not null && SameValue(l.Instance, r.Instance)),
            _ => false,
        };
    }

    /// <summary>Two reads of the amount are of the same channel: static, both <c>this</c>, or the same local, parameter or field.</summary>
    private static bool SameInstance(IOperation? a, IOperation? b) =>
        (a is null && b is null)
        || (a is not null && b is not null
            && (SameValue(a, b) || (Strip(a) is IInstanceReferenceOperation && Strip(b) is IInstanceReferenceOperation)));

    /// <summary>The send goes to the very channel whose amount was polled.</summary>
    private static bool SameReceiver(IOperation? sendInstance, IOperation member) =>
        sendInstance is not null
        && member is IMemberReferenceOperation { Instance: { } polled }
        && (SameValue(sendInstance, polled) || (Strip(sendInstance) is IInstanceReferenceOperation && Strip(polled) is IInstanceReferenceOperation));

    /// <summary>
    /// The statement right before the loop is <c>var offset = 0;</c>: nothing can move the offset between its
    /// declaration and the loop (a resume point would make "send from 0" wrong).
    /// </summary>
    private static bool IsDeclaredAsZeroJustBefore(ILocalSymbol local, IOperation loop)
    {
        if (loop.Parent is not IBlockOperation block)
        {
            return false;
        }

        var index = block.Operations.IndexOf(loop);
        return index > 0
            && block.Operations[index - 1] is IVariableDeclarationGroupOperation { Declarations: [{ Declarators: [var declarator] }] }
            && SymbolEqualityComparer.Default.Equals(declarator.Symbol, local)
            && IsZero(declarator.Initializer?.Value);
    }

    private static bool IsReadAfter(IOperation loop, ILocalSymbol local)
    {
        var model = loop.SemanticModel;
        if (model is null || loop.Syntax is not StatementSyntax statement)
        {
            return true;
        }

        var flow = model.AnalyzeDataFlow(statement);
        return flow is null || !flow.Succeeded
            || flow.ReadOutside.Contains(local, SymbolEqualityComparer.Default)
            || flow.Captured.Contains(local, SymbolEqualityComparer.Default);
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

    /// <summary>
    /// Gets the receiver the fix calls the runtime on: the channel itself when it already implements the
    /// runtime's contract, else <c>channel.AsBufferedChannel()</c> when such an adapter is in scope.
    /// </summary>
    private string? ReceiverText(IOperation member, IOperation site)
    {
        if (_types.BufferedChannel is null || member is not IMemberReferenceOperation { Instance: { Type: { } type } instance })
        {
            return null;
        }

        // Evaluated once after the fix instead of on every check: only values that cannot change meanwhile.
        if (!IsStableReceiver(instance))
        {
            return null;
        }

        // The receiver as the comparison spells it: `_dc!.bufferedAmount` keeps its `!`, so a nullable project gets no new warning.
        var text = instance.IsImplicit ? "this" : member.Syntax is MemberAccessExpressionSyntax access ? access.Expression.ToString() : instance.Syntax.ToString();
        if (IsChannelContract(type))
        {
            return text;
        }

        return HasAdapter(type, site) ? text + ".AsBufferedChannel()" : null;
    }

    /// <summary>
    /// An <c>AsBufferedChannel()</c> for the type is usable after the fix when the generator can write it,
    /// when one is in scope already, or when one is declared in namespace <c>Backpressure</c>, which the fix imports.
    /// </summary>
    private bool HasAdapter(ITypeSymbol type, IOperation site)
    {
        // The compile-time generator (shipped beside this analyzer) writes the adapter once the call exists.
        if (type is INamedTypeSymbol named && Adapters.ChannelShapeBinder.Bind(named, _compilation).Shape is not null)
        {
            return true;
        }

        if (site.SemanticModel is { } model
            && model.LookupSymbols(site.Syntax.SpanStart, type, AdapterMethodName, includeReducedExtensionMethods: true)
                .OfType<IMethodSymbol>().Any(m => m.Parameters.Length == 0 && IsChannelContract(m.ReturnType)))
        {
            return true;
        }

        var runtimeNamespace = _compilation.GlobalNamespace.GetNamespaceMembers().FirstOrDefault(n => n.Name == "Backpressure");
        return runtimeNamespace is not null && runtimeNamespace.GetTypeMembers()
            .Where(t => t.IsStatic && t.MightContainExtensionMethods && _compilation.IsSymbolAccessibleWithin(t, _compilation.Assembly))
            .SelectMany(t => t.GetMembers(AdapterMethodName).OfType<IMethodSymbol>())
            .Any(m => m.IsExtensionMethod && m.Parameters.Length == 1 && IsChannelContract(m.ReturnType) && m.ReduceExtensionMethod(type) is not null);
    }

    private bool IsChannelContract(ITypeSymbol type) =>
        Is(type, _types.BufferedChannel)
        || type.AllInterfaces.Any(i => Is(i, _types.BufferedChannel))
        || (type is ITypeParameterSymbol parameter && parameter.ConstraintTypes.Any(IsChannelContract));

    private static bool IsStableReceiver(IOperation instance) => instance switch
    {
        ILocalReferenceOperation or IParameterReferenceOperation or IInstanceReferenceOperation => true,
        IFieldReferenceOperation { Instance: null } => true,
        IFieldReferenceOperation { Instance: { } outer } => IsStableReceiver(outer),
        _ => false,
    };

    /// <summary>
    /// The threshold argument for a wait that must end when the loop condition stops holding. The loop
    /// continues while <c>amount (relation) other</c>, with the amount on the left.
    /// </summary>
    private string? ThresholdText(Comparison comparison, BinaryOperatorKind continueWhile)
    {
        var other = StripImplicit(comparison.Other);
        if (!comparison.Exact || Descendants(other, includeSelf: true).Any(o => o is IInvocationOperation or IObjectCreationOperation or IAwaitOperation))
        {
            return null; // a narrowed amount, or a threshold computed by a call that the loop re-ran on every check
        }

        var text = other.Syntax.ToString();
        var constant = other.ConstantValue is { HasValue: true, Value: var value } && value is not null && IsIntegral(value)
            ? (decimal?)Convert.ToDecimal(value, CultureInfo.InvariantCulture)
            : null;

        switch (continueWhile)
        {
            case BinaryOperatorKind.NotEquals when constant == 0:
                return "0";
            case BinaryOperatorKind.GreaterThan:
                return constant is { } c ? (c is >= 0 and <= long.MaxValue ? text : null) : ConvertsToThreshold(other) ? text : null;
            case BinaryOperatorKind.GreaterThanOrEqual:
                if (constant is { } k)
                {
                    return k is < 1 or > long.MaxValue ? null
                        : other.Syntax is LiteralExpressionSyntax ? (k - 1).ToString(CultureInfo.InvariantCulture) : $"{Parenthesize(other.Syntax)} - 1";
                }

                return ConvertsToThreshold(other) ? $"{Parenthesize(other.Syntax)} - 1" : null;
            default:
                return null;
        }
    }

    /// <summary>The runtime takes a long threshold, and a ulong one through its own overload (clamped).</summary>
    private bool ConvertsToThreshold(IOperation other) =>
        ConvertsToLong(other) || other.Type?.SpecialType == SpecialType.System_UInt64;

    private bool ConvertsToLong(IOperation other) =>
        other.ConstantValue.HasValue
        || (other.Type is { } type && _compilation.ClassifyCommonConversion(type, _compilation.GetSpecialType(SpecialType.System_Int64)).IsImplicit);

    private static string Parenthesize(SyntaxNode syntax) => ParenthesizeText(syntax.ToString(), syntax);

    private static string ParenthesizeText(string text, SyntaxNode syntax) =>
        syntax is IdentifierNameSyntax or LiteralExpressionSyntax or MemberAccessExpressionSyntax or ElementAccessExpressionSyntax
            ? text
            : $"({text})";

    /// <summary>
    /// For a condition that is exactly the comparison (or its negation), the relation under which it holds,
    /// with the amount on the left.
    /// </summary>
    private static bool TryGetStopRelation(IOperation condition, Comparison comparison, out BinaryOperatorKind relation)
    {
        var negated = false;
        var current = Strip(condition);
        while (current is IUnaryOperation { OperatorKind: UnaryOperatorKind.Not } not)
        {
            negated = !negated;
            current = Strip(not.Operand);
        }

        relation = comparison.AmountOnLeft ? comparison.OperatorKind : Mirror(comparison.OperatorKind);
        if (negated)
        {
            relation = Negate(relation);
        }

        return ReferenceEquals(current, comparison.Test);
    }

    private static BinaryOperatorKind Mirror(BinaryOperatorKind kind) => kind switch
    {
        BinaryOperatorKind.GreaterThan => BinaryOperatorKind.LessThan,
        BinaryOperatorKind.GreaterThanOrEqual => BinaryOperatorKind.LessThanOrEqual,
        BinaryOperatorKind.LessThan => BinaryOperatorKind.GreaterThan,
        BinaryOperatorKind.LessThanOrEqual => BinaryOperatorKind.GreaterThanOrEqual,
        _ => kind,
    };

    private static BinaryOperatorKind Negate(BinaryOperatorKind kind) => kind switch
    {
        BinaryOperatorKind.GreaterThan => BinaryOperatorKind.LessThanOrEqual,
        BinaryOperatorKind.GreaterThanOrEqual => BinaryOperatorKind.LessThan,
        BinaryOperatorKind.LessThan => BinaryOperatorKind.GreaterThanOrEqual,
        BinaryOperatorKind.LessThanOrEqual => BinaryOperatorKind.GreaterThan,
        BinaryOperatorKind.Equals => BinaryOperatorKind.NotEquals,
        BinaryOperatorKind.NotEquals => BinaryOperatorKind.Equals,
        _ => kind,
    };

    /// <summary>
    /// Finds, inside <paramref name="condition"/>, a comparison of a buffered amount (directly or through a
    /// local copied from one) under which waiting goes on while the amount is high: a drain wait.
    /// <paramref name="until"/> says the condition is the one waiting stops at (SpinUntil), not the one it goes on under.
    /// </summary>
    private bool TryFindComparison(IOperation condition, BufferedAmountMatcher matcher, bool until, out Comparison comparison)
    {
        foreach (var operation in DescendantsAndSelf(condition))
        {
            if (operation is not IBinaryOperation binary || !IsComparison(binary.OperatorKind))
            {
                continue;
            }

            Comparison candidate;
            if (TryGetAmount(binary.LeftOperand, matcher, out var member, out var viaLocal, out var exact))
            {
                candidate = new Comparison(binary, binary.OperatorKind, member, binary.RightOperand, AmountOnLeft: true, viaLocal, exact);
            }
            else if (TryGetAmount(binary.RightOperand, matcher, out member, out viaLocal, out exact))
            {
                candidate = new Comparison(binary, binary.OperatorKind, member, binary.LeftOperand, AmountOnLeft: false, viaLocal, exact);
            }
            else
            {
                continue;
            }

            // Waiting while the amount is zero or small waits for the queue to fill, which is not this rule's business.
            var relation = candidate.AmountOnLeft ? binary.OperatorKind : Mirror(binary.OperatorKind);
            if (CountNegations(binary, condition) % 2 == 1 ^ until)
            {
                relation = Negate(relation);
            }

            if (relation is BinaryOperatorKind.GreaterThan or BinaryOperatorKind.GreaterThanOrEqual
                || (relation == BinaryOperatorKind.NotEquals && StripImplicit(candidate.Other).ConstantValue is { HasValue: true, Value: 0 or 0L or 0UL or 0U }))
            {
                comparison = candidate;
                return true;
            }
        }

        comparison = default;
        return false;
    }

    private static int CountNegations(IOperation operation, IOperation root)
    {
        var count = 0;
        for (var current = operation.Parent; current is not null && !ReferenceEquals(current, root.Parent); current = current.Parent)
        {
            if (current is IUnaryOperation { OperatorKind: UnaryOperatorKind.Not })
            {
                count++;
            }
        }

        return count;
    }

    private static bool IsComparison(BinaryOperatorKind kind) => kind is BinaryOperatorKind.GreaterThan
        or BinaryOperatorKind.GreaterThanOrEqual or BinaryOperatorKind.LessThan or BinaryOperatorKind.LessThanOrEqual
        or BinaryOperatorKind.Equals or BinaryOperatorKind.NotEquals;

    private bool TryGetAmount(IOperation operand, BufferedAmountMatcher matcher, out IOperation member, out ILocalSymbol? viaLocal, out bool exact)
    {
        viaLocal = null;
        exact = true;
        member = operand;
        while (member is IConversionOperation conversion)
        {
            // A narrowing cast changes the number compared: the site is reported, but no rewrite keeps it.
            if (!conversion.IsImplicit && conversion.Operand.Type is { } from && conversion.Type is { } to
                && !_compilation.ClassifyCommonConversion(from, to).IsImplicit)
            {
                exact = false;
            }

            member = conversion.Operand;
        }

        switch (member)
        {
            case IPropertyReferenceOperation property:
                return matcher.IsBufferedAmountMember(property.Property);
            case IFieldReferenceOperation field:
                return matcher.IsBufferedAmountMember(field.Field);
            case ISimpleAssignmentOperation { Value: var assigned } when Strip(assigned) is IMemberReferenceOperation source && matcher.IsBufferedAmountMember(source.Member):
                member = source; // `(q = ch.BufferedAmount) > x`: reported; the assignment would be lost, so no fix
                exact = false;
                return true;
            case ILocalReferenceOperation local when FindCopySource(local, matcher) is { } copied:
                // A local counts only when every value it ever holds is the member's: a parameter, or a local
                // that merely has the name or is reused for another number, is somebody else's.
                member = copied;
                viaLocal = local.Local;
                return true;
            default:
                return false;
        }
    }

    private IOperation? FindCopySource(ILocalReferenceOperation local, BufferedAmountMatcher matcher)
    {
        var root = FunctionRoot(local);
        var perLocal = _copySources.GetValue(root, static _ => new ConcurrentDictionary<ILocalSymbol, IOperation?>(SymbolEqualityComparer.Default));
        return perLocal.GetOrAdd(local.Local, l => ComputeCopySource(root, l, matcher));
    }

    private static IOperation? ComputeCopySource(IOperation root, ILocalSymbol local, BufferedAmountMatcher matcher)
    {
        IMemberReferenceOperation? source = null;
        foreach (var operation in Descendants(root, enterFunctions: true))
        {
            IOperation? value;
            switch (operation)
            {
                case IVariableDeclaratorOperation declarator when SymbolEqualityComparer.Default.Equals(declarator.Symbol, local):
                    value = declarator.Initializer?.Value;
                    if (value is null)
                    {
                        continue;
                    }

                    break;
                case ISimpleAssignmentOperation { Target: ILocalReferenceOperation target } assignment when SymbolEqualityComparer.Default.Equals(target.Local, local):
                    value = assignment.Value;
                    break;
                case ICompoundAssignmentOperation { Target: ILocalReferenceOperation target } when SymbolEqualityComparer.Default.Equals(target.Local, local):
                case IIncrementOrDecrementOperation { Target: ILocalReferenceOperation counter } when SymbolEqualityComparer.Default.Equals(counter.Local, local):
                case IArgumentOperation { Parameter.RefKind: RefKind.Out or RefKind.Ref, Value: ILocalReferenceOperation passed } when SymbolEqualityComparer.Default.Equals(passed.Local, local):
                    return null;
                default:
                    continue;
            }

            if (Strip(value) is not IMemberReferenceOperation copy || !matcher.IsBufferedAmountMember(copy.Member)
                || (source is not null && (!SymbolEqualityComparer.Default.Equals(source.Member, copy.Member) || !SameInstance(source.Instance, copy.Instance))))
            {
                return null;
            }

            source ??= copy;
        }

        return source;
    }

    private IEnumerable<IInvocationOperation> TimedWaits(IOperation root, ISymbol containingSymbol) =>
        Descendants(root, enterFunctions: false).OfType<IInvocationOperation>().Where(i => IsTimedWait(i, containingSymbol));

    private bool IsTimedWait(IInvocationOperation invocation, ISymbol containingSymbol)
    {
        var method = invocation.TargetMethod;
        var type = method.ContainingType;
        if (Is(type, _types.Task))
        {
            // A delay raced against another task is a timeout on an event-driven wait, not polling; a delay
            // whose continuation does something else (a watchdog) is not waiting for the queue either.
            return method.Name == "Yield"
                || (method.Name == "Delay" && !IsTimeoutRace(invocation) && (ContinuationOf(invocation) is not { } continuation || ReschedulesItsFunction(continuation, containingSymbol)));
        }

        return (Is(type, _types.Thread) && method.Name is "Sleep" or "SpinWait" or "Yield")
            || (Is(type, _types.SpinWait) && method.Name == "SpinOnce")
            || IsTimerReschedule(method);
    }

    private static IInvocationOperation? ContinuationOf(IInvocationOperation delay) =>
        delay.Parent is IInvocationOperation { TargetMethod.Name: "ContinueWith" } continuation && ReferenceEquals(continuation.Instance, delay) ? continuation : null;

    /// <summary>The setTimeout(sendChunk, 50) twin: the continuation calls the very function that scheduled it.</summary>
    private static bool ReschedulesItsFunction(IInvocationOperation continuation, ISymbol containingSymbol)
    {
        var function = FunctionRoot(continuation) switch
        {
            ILocalFunctionOperation local => local.Symbol,
            IAnonymousFunctionOperation => null,
            _ => containingSymbol as IMethodSymbol,
        };

        return function is not null
            && continuation.Arguments.Length > 0
            && Descendants(continuation.Arguments[0], enterFunctions: true).OfType<IInvocationOperation>()
                .Any(call => SymbolEqualityComparer.Default.Equals(call.TargetMethod.OriginalDefinition, function.OriginalDefinition));
    }

    private bool IsTimerReschedule(IMethodSymbol method) =>
        (Is(method.ContainingType, _types.ThreadingTimer) && method.Name == "Change")
        || (Is(method.ContainingType, _types.TimersTimer) && method.Name == "Start");

    private bool IsTimeoutRace(IInvocationOperation delay)
    {
        if (IsRaceArgument(delay))
        {
            return true;
        }

        // `var timeout = Task.Delay(...); await Task.WhenAny(signal, timeout);`
        return delay.Parent is IVariableInitializerOperation { Parent: IVariableDeclaratorOperation declarator }
            && Descendants(FunctionRoot(delay), enterFunctions: false).OfType<ILocalReferenceOperation>()
                .Any(use => SymbolEqualityComparer.Default.Equals(use.Local, declarator.Symbol) && IsRaceArgument(use));
    }

    private bool IsRaceArgument(IOperation task)
    {
        var parent = task.Parent;
        while (parent is IConversionOperation or IArrayInitializerOperation or IArrayCreationOperation or ICollectionExpressionOperation)
        {
            parent = parent.Parent;
        }

        return parent is IArgumentOperation { Parent: IInvocationOperation race }
            && race.TargetMethod.Name is "WhenAny" or "WaitAny"
            && Is(race.TargetMethod.ContainingType, _types.Task);
    }

    private IInvocationOperation? FindDelayContinuation(ImmutableArray<IOperation> statements, ISymbol containingSymbol)
    {
        foreach (var statement in statements)
        {
            var expression = statement is IExpressionStatementOperation { Operation: var e } ? e : null;
            if (expression is ISimpleAssignmentOperation { Target: IDiscardOperation } discard)
            {
                expression = discard.Value;
            }

            if (Strip(expression) is IInvocationOperation { TargetMethod.Name: "ContinueWith", Instance: IInvocationOperation delay }
                && Is(delay.TargetMethod.ContainingType, _types.Task)
                && delay.TargetMethod.Name == "Delay"
                && IsTimedWait(delay, containingSymbol))
            {
                return delay;
            }
        }

        return null;
    }

    private bool ContainsPeriodicTick(IOperation condition) =>
        _types.PeriodicTimer is not null
        && DescendantsAndSelf(condition).OfType<IInvocationOperation>()
            .Any(i => i.TargetMethod.Name == "WaitForNextTickAsync" && Is(i.TargetMethod.ContainingType, _types.PeriodicTimer));

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
            fixes.Count > 0 ? string.Empty : " (no automatic fix: " + properties[PollingSite.NoFixKey] + ")"));
    }

    private static Location HeaderLocation(SyntaxNode construct)
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

    private bool TryGetTree(IOperation operation, CancellationToken cancellationToken, out TreeState state)
    {
        var tree = operation.Syntax.SyntaxTree;
        state = _trees.GetOrAdd(tree, t => CreateTreeState(t, cancellationToken));
        return state.MentionsCandidate;
    }

    /// <summary>
    /// Reads the tree's options once, and scans it once: a tree that never names a candidate member cannot
    /// poll one, so every callback in it returns before touching the semantic model. The text is searched
    /// first, which costs no syntax nodes; only a file whose text contains a name has its tokens scanned.
    /// </summary>
    private TreeState CreateTreeState(SyntaxTree tree, CancellationToken cancellationToken)
    {
        _options.GetOptions(tree).TryGetValue(BufferedAmountMatcher.MemberNamesOption, out var names);
        var matcher = new BufferedAmountMatcher(BufferedAmountMatcher.ParseMemberNames(names), _types.BufferedChannel, _canSend);
        var mentions = TextMayName(tree.GetText(cancellationToken), matcher)
            && tree.GetRoot(cancellationToken).DescendantTokens()
                .Any(token => token.IsKind(SyntaxKind.IdentifierToken) && matcher.IsCandidateName(token.ValueText));
        return new TreeState(matcher, mentions);
    }

    /// <summary>
    /// Whether the text contains a candidate name, ignoring case as the matcher does. An identifier may be
    /// spelled with Unicode escapes (<c>Buffered\u0041mount</c>), which a text search cannot see: a file with
    /// any such escape goes on to the token scan.
    /// </summary>
    private static bool TextMayName(SourceText text, BufferedAmountMatcher matcher)
    {
        var source = text.ToString();
        if (source.IndexOf("\\u", StringComparison.OrdinalIgnoreCase) >= 0)
        {
            return true;
        }

        foreach (var name in matcher.MemberNames)
        {
            if (source.IndexOf(name, StringComparison.OrdinalIgnoreCase) >= 0)
            {
                return true;
            }
        }

        return false;
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


    private readonly record struct WaitDetails(string Token, string ConfigureAwait);

    private sealed record Fix(string Replacement, SyntaxNode Target, ImmutableArray<SyntaxNode> Kept)
    {
        public SendLoopFix? SendLoop { get; init; }
    }

    private sealed record SendLoopFix(string Replacement, SyntaxNode Target)
    {
        public ImmutableArray<SyntaxNode> Removed { get; init; } = ImmutableArray<SyntaxNode>.Empty;
    }

    private sealed record TreeState(BufferedAmountMatcher Matcher, bool MentionsCandidate);
}
