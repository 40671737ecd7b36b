using System.Collections.Generic;
using System.Collections.Immutable;
using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Operations;

namespace Backpressure.Analyzers;

/// <summary>What counts as a timed wait: a delay, sleep, yield or spin, a timer re-schedule; not a timeout raced against an event, nor a watchdog's continuation.</summary>
internal sealed partial class PollingAnalysis
{
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
}
