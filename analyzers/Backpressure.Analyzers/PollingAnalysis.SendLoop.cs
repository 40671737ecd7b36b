using System;
using System.Collections.Immutable;
using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Operations;

namespace Backpressure.Analyzers;

/// <summary>The send-loop rewrite (<c>BP0001.ReplaceSendLoop</c>): a recognised chunked-send loop, or the seed's setTimeout port, becomes one <c>SendAsync</c>.</summary>
internal sealed partial class PollingAnalysis
{
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

    private sealed record SendLoopFix(string Replacement, SyntaxNode Target)
    {
        public ImmutableArray<SyntaxNode> Removed { get; init; } = ImmutableArray<SyntaxNode>.Empty;
    }
}
