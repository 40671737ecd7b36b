using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.Globalization;
using System.Linq;
using System.Threading;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Operations;
using Microsoft.CodeAnalysis.Text;

namespace Backpressure.Analyzers;

/// <summary>BP0001's analysis of one compilation: finds polling sites and works out whether a fix keeps their meaning.</summary>
internal sealed class PollingAnalysis
{
    public const string AdapterMethodName = "AsBufferedChannel";

    private readonly Compilation _compilation;
    private readonly WellKnownTypes _types;
    private readonly AnalyzerConfigOptionsProvider _options;
    private readonly ConcurrentDictionary<SyntaxTree, TreeState> _trees = new();
    private readonly ConcurrentDictionary<INamedTypeSymbol, bool> _canSend = new(SymbolEqualityComparer.Default);

    public PollingAnalysis(Compilation compilation, WellKnownTypes types, AnalyzerConfigOptionsProvider options)
    {
        _compilation = compilation;
        _types = types;
        _options = options;
    }

    public void AnalyzeLoop(OperationAnalysisContext context)
    {
        var loop = (ILoopOperation)context.Operation;
        var condition = loop switch
        {
            IWhileLoopOperation whileLoop => whileLoop.Condition,
            IForLoopOperation forLoop => forLoop.Condition,
            _ => null,
        };

        if (condition is null || !TryGetTree(loop, context.CancellationToken, out var tree))
        {
            return;
        }

        if (ContainsPeriodicTick(condition))
        {
            AnalyzePeriodicLoop(context, loop, tree);
            return;
        }

        if (!TryFindComparison(condition, tree.Matcher, out var comparison) || !TimedWaits(loop.Body).Any())
        {
            return;
        }

        var fix = loop is IWhileLoopOperation w ? TryFixWaitLoop(w, comparison, context.ContainingSymbol) : null;
        Report(context, loop.Syntax, "loop", comparison, PollingSite.WaitLoop, fix);
    }

    public void AnalyzeConditional(OperationAnalysisContext context)
    {
        var conditional = (IConditionalOperation)context.Operation;

        // Only if statements: a conditional expression cannot hold a wait statement.
        if (conditional.Syntax is not IfStatementSyntax
            || !TryGetTree(conditional, context.CancellationToken, out var tree)
            || !TryFindComparison(conditional.Condition, tree.Matcher, out var comparison))
        {
            return;
        }

        var waits = TimedWaits(conditional.WhenTrue).ToList();
        if (waits.Count == 0 || IsInsidePollingLoop(conditional, tree))
        {
            return;
        }

        var statements = Statements(conditional.WhenTrue);
        var last = statements.LastOrDefault();
        string shape;
        Fix? fix = null;
        if (last is IBranchOperation { BranchKind: BranchKind.Continue })
        {
            shape = PollingSite.IfContinue;
            fix = TryFixIfContinue(conditional, statements, comparison, context.ContainingSymbol);
        }
        else if (last is IReturnOperation && FindDelayContinuation(statements) is { } delay)
        {
            shape = PollingSite.SetTimeoutTwin;
            fix = conditional.WhenFalse is null ? TryFixSetTimeoutTwin(conditional, delay, comparison) : null;
        }
        else if (waits.Any(w => IsTimerReschedule(w.TargetMethod)))
        {
            shape = PollingSite.TimerReschedule;
        }
        else
        {
            shape = PollingSite.ConditionalWait;
        }

        Report(context, conditional.Syntax, "if statement", comparison, shape, fix);
    }

    public void AnalyzeInvocation(OperationAnalysisContext context)
    {
        var invocation = (IInvocationOperation)context.Operation;
        if (invocation.TargetMethod.Name != "SpinUntil"
            || !Is(invocation.TargetMethod.ContainingType, _types.SpinWait)
            || invocation.Arguments.Length == 0
            || Strip(invocation.Arguments[0].Value) is not IDelegateCreationOperation { Target: IAnonymousFunctionOperation lambda }
            || !TryGetTree(invocation, context.CancellationToken, out var tree)
            || !TryFindComparison(lambda.Body, tree.Matcher, out var comparison))
        {
            return;
        }

        Fix? fix = null;
        if (invocation.Arguments.Length == 1
            && invocation.Parent is IExpressionStatementOperation statement
            && IsAsyncContext(invocation, context.ContainingSymbol)
            && lambda.Body.Operations is [IReturnOperation { ReturnedValue: { } until }]
            && TryGetStopRelation(until, comparison, out var untilRelation)
            && ThresholdText(comparison, Negate(untilRelation)) is { } threshold
            && ReceiverText(comparison.Member, invocation) is { } receiver)
        {
            fix = new Fix($"await {receiver}.WaitForBufferedAmountLowAsync({threshold});", statement.Syntax, ImmutableArray<SyntaxNode>.Empty);
        }

        Report(context, invocation.Syntax, "SpinUntil call", comparison, PollingSite.SpinUntil, fix);
    }

    private void AnalyzePeriodicLoop(OperationAnalysisContext context, ILoopOperation loop, TreeState tree)
    {
        // A tick loop that skips ticks while the queue is full: `if (amount > x) continue;`.
        foreach (var gate in Descendants(loop.Body).OfType<IConditionalOperation>())
        {
            if (Statements(gate.WhenTrue).LastOrDefault() is IBranchOperation { BranchKind: BranchKind.Continue }
                && TryFindComparison(gate.Condition, tree.Matcher, out var comparison))
            {
                Report(context, loop.Syntax, "timer loop", comparison, PollingSite.PeriodicTimer, fix: null);
                return;
            }
        }
    }

    private Fix? TryFixWaitLoop(IWhileLoopOperation loop, Comparison comparison, ISymbol containingSymbol)
    {
        if (!TryGetStopRelation(loop.Condition!, comparison, out var relation)
            || ThresholdText(comparison, relation) is not { } threshold
            || !TryGetWaitOnlyStatements(Statements(loop.Body), comparison.ViaLocal, out var wait, out var kept)
            || !IsAsyncContext(loop, containingSymbol)
            || ReceiverText(comparison.Member, loop) is not { } receiver)
        {
            return null;
        }

        return new Fix(WaitStatement(receiver, threshold, wait), loop.Syntax, kept)
        {
            SendLoop = kept.IsEmpty ? TryFixSendLoop(loop, comparison, receiver, threshold, wait) : null,
        };
    }

    private Fix? TryFixIfContinue(IConditionalOperation conditional, ImmutableArray<IOperation> statements, Comparison comparison, ISymbol containingSymbol)
    {
        // `continue` re-runs whatever the loop does before the if: rewrite only when nothing does, in a
        // plain while loop (a for loop's incrementor or a foreach's next element would be skipped).
        if (conditional.WhenFalse is not null
            || conditional.Parent is not IBlockOperation { Parent: IWhileLoopOperation { ConditionIsTop: true } } block
            || !ReferenceEquals(block.Operations[0], conditional)
            || !TryGetStopRelation(conditional.Condition, comparison, out var relation)
            || ThresholdText(comparison, relation) is not { } threshold
            || !TryGetWaitOnlyStatements(statements.RemoveAt(statements.Length - 1), viaLocal: null, out var wait, out _)
            || !IsAsyncContext(conditional, containingSymbol)
            || ReceiverText(comparison.Member, conditional) is not { } receiver)
        {
            return null;
        }

        return new Fix(WaitStatement(receiver, threshold, wait), conditional.Syntax, ImmutableArray<SyntaxNode>.Empty)
        {
            SendLoop = TryFixSendLoop(conditional, comparison, receiver, threshold, wait),
        };
    }

    private Fix? TryFixSetTimeoutTwin(IConditionalOperation conditional, IInvocationOperation delay, Comparison comparison)
    {
        // The continuation stays; only its trigger changes from "50 ms later" to "when the queue is low".
        if (!TryGetStopRelation(conditional.Condition, comparison, out var relation)
            || ThresholdText(comparison, relation) is not { } threshold
            || ReceiverText(comparison.Member, delay) is not { } receiver)
        {
            return null;
        }

        var token = CancellationTokenArgument(delay);
        return new Fix($"{receiver}.WaitForBufferedAmountLowAsync({threshold}{token}).AsTask()", delay.Syntax, ImmutableArray<SyntaxNode>.Empty);
    }

    /// <summary>
    /// Recognises the chunked-send loop around a fixable wait, with confidence, and rewrites the whole of
    /// it into one <c>SendAsync</c>: the payload is a byte array sent from offset 0 in chunks of
    /// <c>Math.Min(chunk, data.Length - offset)</c>, each handed to the same channel's send, and nothing
    /// else happens in the loop. High watermark = low threshold = the polled threshold, so the pacing is
    /// the original's.
    /// </summary>
    private SendLoopFix? TryFixSendLoop(IOperation wait, Comparison comparison, string receiver, string threshold, WaitDetails details)
    {
        if (wait.Parent is not IBlockOperation { Parent: ILoopOperation loop } body || body.Operations.Length < 2 || !ReferenceEquals(body.Operations[0], wait))
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
                    && IsLocalDeclaredAsZero(advanced.Local, loop)
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

    /// <summary>The send goes to the very channel whose amount was polled.</summary>
    private static bool SameReceiver(IOperation? sendInstance, IOperation member) =>
        sendInstance is not null
        && member is IMemberReferenceOperation { Instance: { } polled }
        && (SameValue(sendInstance, polled) || (Strip(sendInstance) is IInstanceReferenceOperation && Strip(polled) is IInstanceReferenceOperation));

    private static bool IsLocalDeclaredAsZero(ILocalSymbol local, IOperation loop) =>
        Descendants(FunctionRoot(loop)).OfType<IVariableDeclaratorOperation>()
            .Any(d => SymbolEqualityComparer.Default.Equals(d.Symbol, local) && IsZero(d.Initializer?.Value));

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
        ImmutableArray<IOperation> statements, ILocalSymbol? viaLocal, out WaitDetails wait, out ImmutableArray<SyntaxNode> kept)
    {
        wait = default;
        var keep = ImmutableArray.CreateBuilder<SyntaxNode>();
        var sawWait = false;
        foreach (var statement in statements)
        {
            if (statement is not IExpressionStatementOperation { Operation: var expression })
            {
                kept = default;
                return false;
            }

            if (viaLocal is not null
                && expression is ISimpleAssignmentOperation { Target: ILocalReferenceOperation target }
                && SymbolEqualityComparer.Default.Equals(target.Local, viaLocal))
            {
                keep.Add(statement.Syntax);
                continue;
            }

            if (!TryParseWait(expression, out var details))
            {
                kept = default;
                return false;
            }

            if (!sawWait)
            {
                wait = details;
                sawWait = true;
            }
        }

        kept = keep.ToImmutable();
        return sawWait;
    }

    private bool TryParseWait(IOperation expression, out WaitDetails details)
    {
        details = default;
        if (expression is IAwaitOperation { Operation: var awaited })
        {
            var configureAwait = string.Empty;
            if (awaited is IInvocationOperation { TargetMethod.Name: "ConfigureAwait", Instance: { } configured, Arguments: [var argument] })
            {
                configureAwait = $".ConfigureAwait({argument.Value.Syntax})";
                awaited = configured;
            }

            if (awaited is IInvocationOperation task && Is(task.TargetMethod.ContainingType, _types.Task) && task.TargetMethod.Name is "Delay" or "Yield" && IsTimedWait(task))
            {
                details = new WaitDetails(CancellationTokenArgument(task), configureAwait);
                return true;
            }

            return false;
        }

        // Blocking waits: the fix turns them into an await, so it is offered only in async code.
        return expression is IInvocationOperation invocation
            && IsTimedWait(invocation)
            && !IsTimerReschedule(invocation.TargetMethod)
            && !Is(invocation.TargetMethod.ContainingType, _types.Task);
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
    /// Gets the receiver the fix calls the runtime on: the channel itself when it already implements the
    /// runtime's contract, else <c>channel.AsBufferedChannel()</c> when such an adapter is in scope.
    /// </summary>
    private string? ReceiverText(IOperation member, IOperation site)
    {
        if (_types.BufferedChannel is null || member is not IMemberReferenceOperation { Instance: { Type: { } type } instance })
        {
            return null;
        }

        string text;
        if (instance.IsImplicit)
        {
            text = "this";
        }
        else if (IsStableReceiver(instance.Syntax))
        {
            text = instance.Syntax.ToString();
        }
        else
        {
            return null; // evaluating it once instead of on every check could change what it returns
        }

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
        Is(type, _types.BufferedChannel) || type.AllInterfaces.Any(i => Is(i, _types.BufferedChannel));

    private static bool IsStableReceiver(SyntaxNode syntax) => syntax switch
    {
        IdentifierNameSyntax or ThisExpressionSyntax => true,
        MemberAccessExpressionSyntax { Name: IdentifierNameSyntax } access => IsStableReceiver(access.Expression),
        _ => false,
    };

    /// <summary>
    /// The threshold argument for a wait that must end when the loop condition stops holding. The loop
    /// continues while <c>amount (relation) other</c>, with the amount on the left.
    /// </summary>
    private string? ThresholdText(Comparison comparison, BinaryOperatorKind continueWhile)
    {
        var other = StripImplicit(comparison.Other);
        var text = other.Syntax.ToString();
        var constant = other.ConstantValue is { HasValue: true, Value: var value } && value is not null && IsIntegral(value)
            ? (decimal?)Convert.ToDecimal(value, CultureInfo.InvariantCulture)
            : null;

        switch (continueWhile)
        {
            case BinaryOperatorKind.NotEquals when constant == 0:
                return "0";
            case BinaryOperatorKind.GreaterThan:
                return constant is { } c ? (c <= long.MaxValue ? text : null) : AsLong(other, text);
            case BinaryOperatorKind.GreaterThanOrEqual:
                if (constant is { } k)
                {
                    return k is < 1 or > long.MaxValue ? null
                        : other.Syntax is LiteralExpressionSyntax ? (k - 1).ToString(CultureInfo.InvariantCulture) : $"{Parenthesize(other.Syntax)} - 1";
                }

                return AsLong(other, text) is { } converted ? $"{ParenthesizeText(converted, other.Syntax)} - 1" : null;
            default:
                return null;
        }
    }

    private string? AsLong(IOperation other, string text)
    {
        var longType = _compilation.GetSpecialType(SpecialType.System_Int64);
        if (other.Type is null)
        {
            return null;
        }

        var conversion = _compilation.ClassifyCommonConversion(other.Type, longType);
        if (conversion.IsImplicit)
        {
            return text;
        }

        return conversion.Exists && conversion.IsNumeric ? $"(long){Parenthesize(other.Syntax)}" : null;
    }

    private static string Parenthesize(SyntaxNode syntax) => ParenthesizeText(syntax.ToString(), syntax);

    private static string ParenthesizeText(string text, SyntaxNode syntax) =>
        text.StartsWith("(long)", StringComparison.Ordinal) || syntax is IdentifierNameSyntax or LiteralExpressionSyntax or MemberAccessExpressionSyntax or InvocationExpressionSyntax or ElementAccessExpressionSyntax
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

        relation = comparison.AmountOnLeft ? comparison.Binary.OperatorKind : Mirror(comparison.Binary.OperatorKind);
        if (negated)
        {
            relation = Negate(relation);
        }

        return ReferenceEquals(current, comparison.Binary);
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

    /// <summary>Finds, inside <paramref name="condition"/>, a comparison of a buffered amount (directly or through a local copied from one).</summary>
    private static bool TryFindComparison(IOperation condition, BufferedAmountMatcher matcher, out Comparison comparison)
    {
        foreach (var operation in DescendantsAndSelf(condition))
        {
            if (operation is not IBinaryOperation binary || !IsComparison(binary.OperatorKind))
            {
                continue;
            }

            if (TryGetAmount(binary.LeftOperand, matcher, out var member, out var viaLocal))
            {
                comparison = new Comparison(binary, member, binary.RightOperand, AmountOnLeft: true, viaLocal);
                return true;
            }

            if (TryGetAmount(binary.RightOperand, matcher, out member, out viaLocal))
            {
                comparison = new Comparison(binary, member, binary.LeftOperand, AmountOnLeft: false, viaLocal);
                return true;
            }
        }

        comparison = default;
        return false;
    }

    private static bool IsComparison(BinaryOperatorKind kind) => kind is BinaryOperatorKind.GreaterThan
        or BinaryOperatorKind.GreaterThanOrEqual or BinaryOperatorKind.LessThan or BinaryOperatorKind.LessThanOrEqual
        or BinaryOperatorKind.Equals or BinaryOperatorKind.NotEquals;

    private static bool TryGetAmount(IOperation operand, BufferedAmountMatcher matcher, out IOperation member, out ILocalSymbol? viaLocal)
    {
        viaLocal = null;
        member = Strip(operand);
        switch (member)
        {
            case IPropertyReferenceOperation property:
                return matcher.IsBufferedAmountMember(property.Property);
            case IFieldReferenceOperation field:
                return matcher.IsBufferedAmountMember(field.Field);
            case ILocalReferenceOperation local when FindCopySource(local, matcher) is { } source:
                // A local only counts when it holds the member's value: a parameter or a local that merely
                // has the name is somebody else's number.
                member = source;
                viaLocal = local.Local;
                return true;
            default:
                return false;
        }
    }

    private static IOperation? FindCopySource(ILocalReferenceOperation local, BufferedAmountMatcher matcher)
    {
        foreach (var operation in Descendants(FunctionRoot(local), enterFunctions: false))
        {
            var value = operation switch
            {
                IVariableDeclaratorOperation declarator when SymbolEqualityComparer.Default.Equals(declarator.Symbol, local.Local) => declarator.Initializer?.Value,
                ISimpleAssignmentOperation { Target: ILocalReferenceOperation target } assignment when SymbolEqualityComparer.Default.Equals(target.Local, local.Local) => assignment.Value,
                _ => null,
            };

            if (value is not null && Strip(value) is IMemberReferenceOperation source && matcher.IsBufferedAmountMember(source.Member))
            {
                return source;
            }
        }

        return null;
    }

    private IEnumerable<IInvocationOperation> TimedWaits(IOperation root) =>
        Descendants(root, enterFunctions: false).OfType<IInvocationOperation>().Where(IsTimedWait);

    private bool IsTimedWait(IInvocationOperation invocation)
    {
        var method = invocation.TargetMethod;
        var type = method.ContainingType;
        if (Is(type, _types.Task))
        {
            // A delay raced against another task is a timeout on an event-driven wait, not polling.
            return method.Name == "Yield" || (method.Name == "Delay" && !IsTimeoutRace(invocation));
        }

        return (Is(type, _types.Thread) && method.Name is "Sleep" or "SpinWait" or "Yield")
            || (Is(type, _types.SpinWait) && method.Name == "SpinOnce")
            || IsTimerReschedule(method);
    }

    private bool IsTimerReschedule(IMethodSymbol method) =>
        (Is(method.ContainingType, _types.ThreadingTimer) && method.Name == "Change")
        || (Is(method.ContainingType, _types.TimersTimer) && method.Name == "Start");

    private bool IsTimeoutRace(IInvocationOperation delay)
    {
        var parent = delay.Parent;
        while (parent is IConversionOperation or IArrayInitializerOperation or IArrayCreationOperation)
        {
            parent = parent.Parent;
        }

        return parent is IArgumentOperation { Parent: IInvocationOperation race }
            && race.TargetMethod.Name is "WhenAny" or "WaitAny"
            && Is(race.TargetMethod.ContainingType, _types.Task);
    }

    private IInvocationOperation? FindDelayContinuation(ImmutableArray<IOperation> statements)
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
                && delay.TargetMethod.Name == "Delay")
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

    /// <summary>An if inside a loop whose own condition already polls the amount is part of that loop's report.</summary>
    private bool IsInsidePollingLoop(IOperation operation, TreeState tree)
    {
        for (var parent = operation.Parent; parent is not null and not IAnonymousFunctionOperation and not ILocalFunctionOperation; parent = parent.Parent)
        {
            var condition = parent switch
            {
                IWhileLoopOperation w => w.Condition,
                IForLoopOperation f => f.Condition,
                _ => null,
            };

            if (condition is not null && TryFindComparison(condition, tree.Matcher, out _))
            {
                return true;
            }
        }

        return false;
    }

    private static bool IsAsyncContext(IOperation operation, ISymbol containingSymbol) => FunctionRoot(operation) switch
    {
        IAnonymousFunctionOperation lambda => lambda.Symbol.IsAsync,
        ILocalFunctionOperation local => local.Symbol.IsAsync,
        _ => containingSymbol is IMethodSymbol { IsAsync: true },
    };

    private void Report(OperationAnalysisContext context, SyntaxNode construct, string kind, Comparison comparison, string shape, Fix? fix)
    {
        var properties = ImmutableDictionary.CreateBuilder<string, string?>();
        properties[PollingSite.ShapeKey] = shape;
        var additional = new List<Location>();
        if (fix is { } f)
        {
            properties[PollingSite.FixKey] = PollingSite.ReplaceWaitFix;
            properties[PollingSite.ReplacementKey] = f.Replacement;
            additional.Add(f.Target.GetLocation());
            additional.AddRange(f.Kept.Select(k => k.GetLocation()));
            if (f.SendLoop is { } sendLoop)
            {
                properties[PollingSite.SendLoopReplacementKey] = sendLoop.Replacement;
                properties[PollingSite.SendLoopSpanKey] = FormattableString.Invariant($"{sendLoop.Target.Span.Start},{sendLoop.Target.Span.Length}");
            }
        }

        context.ReportDiagnostic(Diagnostic.Create(
            DiagnosticDescriptors.BufferedAmountPolling,
            HeaderLocation(construct),
            additional,
            properties.ToImmutable(),
            kind,
            comparison.Member.Syntax.ToString()));
    }

    private static Location HeaderLocation(SyntaxNode construct)
    {
        var span = construct switch
        {
            WhileStatementSyntax w => TextSpan.FromBounds(w.WhileKeyword.SpanStart, w.CloseParenToken.Span.End),
            DoStatementSyntax d => TextSpan.FromBounds(d.WhileKeyword.SpanStart, d.CloseParenToken.Span.End),
            ForStatementSyntax f => TextSpan.FromBounds(f.ForKeyword.SpanStart, f.CloseParenToken.Span.End),
            IfStatementSyntax i => TextSpan.FromBounds(i.IfKeyword.SpanStart, i.CloseParenToken.Span.End),
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
    /// Reads the tree's options once, and scans its tokens once: a tree that never names a candidate
    /// member cannot poll one, so every callback in it returns before touching the semantic model.
    /// </summary>
    private TreeState CreateTreeState(SyntaxTree tree, CancellationToken cancellationToken)
    {
        _options.GetOptions(tree).TryGetValue(BufferedAmountMatcher.MemberNamesOption, out var names);
        var matcher = new BufferedAmountMatcher(BufferedAmountMatcher.ParseMemberNames(names), _types.BufferedChannel, _canSend);
        var mentions = tree.GetRoot(cancellationToken).DescendantTokens()
            .Any(token => token.IsKind(SyntaxKind.IdentifierToken) && matcher.IsCandidateName(token.ValueText));
        return new TreeState(matcher, mentions);
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

    private readonly record struct Comparison(IBinaryOperation Binary, IOperation Member, IOperation Other, bool AmountOnLeft, ILocalSymbol? ViaLocal);

    private readonly record struct WaitDetails(string Token, string ConfigureAwait);

    private sealed record Fix(string Replacement, SyntaxNode Target, ImmutableArray<SyntaxNode> Kept)
    {
        public SendLoopFix? SendLoop { get; init; }
    }

    private sealed record SendLoopFix(string Replacement, SyntaxNode Target);

    private sealed record TreeState(BufferedAmountMatcher Matcher, bool MentionsCandidate);
}
