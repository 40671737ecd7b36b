using System.Collections.Generic;
using System.Collections.Immutable;
using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Operations;

namespace Backpressure.Analyzers;

/// <summary>
/// The bounded wait: the fix that fits every loop. Only the timer call changes; it becomes a wait that ends when
/// the amount is at or below the threshold the loop tests, when the same time has passed, or when the channel
/// closes or fails. The loop, its condition, deadlines, counters, null tests and exceptions stay as they were.
/// </summary>
internal sealed partial class PollingAnalysis
{
    /// <summary>What the bounded wait replaces (each timer call and its new code), or why it cannot.</summary>
    internal readonly record struct BoundedWaitPlan(ImmutableArray<(SyntaxNode Target, string Replacement)> Replacements, string? WhyNot)
    {
        public static BoundedWaitPlan None(string? whyNot) => new(ImmutableArray<(SyntaxNode, string)>.Empty, whyNot);
    }

    private BoundedWaitPlan PlanBoundedWaits(IReadOnlyList<IOperation> waits, AmountTest test, SemanticModel model)
    {
        var comparison = test.Comparison;
        if (comparison.WhyNotPlain is { } whyNotPlain)
        {
            return BoundedWaitPlan.None(whyNotPlain);
        }

        if (!comparison.Exact)
        {
            return BoundedWaitPlan.None("the amount is narrowed or assigned inside the comparison, so its threshold is not a plain number");
        }

        var replacements = ImmutableArray.CreateBuilder<(SyntaxNode, string)>();
        foreach (var wait in waits)
        {
            var position = wait.Syntax.SpanStart;
            if (ThresholdText(comparison, test.HighRelation) is not { } threshold || !BindsAt(StripImplicit(comparison.Other), position, model))
            {
                return BoundedWaitPlan.None($"the comparison '{comparison.Test.Syntax}' is not against a plain threshold that can be read where the wait is");
            }

            if (BoundedReceiverText(comparison, position, model, out var whyNotReceiver) is not { } receiver)
            {
                return BoundedWaitPlan.None(whyNotReceiver);
            }

            if (BoundedCall(wait, receiver, threshold, out var whyNot) is not { } call)
            {
                return BoundedWaitPlan.None(whyNot);
            }

            replacements.Add((wait.Syntax, call));
        }

        return new BoundedWaitPlan(replacements.ToImmutable(), null);
    }

    /// <summary>The call that replaces one timer call, keeping its own arguments (time, token) in place.</summary>
    private string? BoundedCall(IOperation wait, string receiver, string threshold, out string? whyNot)
    {
        whyNot = null;
        if (wait is IReturnOperation)
        {
            whyNot = "a coroutine resumes only on the engine's frame loop, which no channel event can drive; move the send into an async method to fix it";
            return null;
        }

        if (wait is not IInvocationOperation { TargetMethod: var method } invocation || invocation.Syntax is not InvocationExpressionSyntax syntax)
        {
            whyNot = "this wait has no event-driven equivalent";
            return null;
        }

        if (syntax.ContainsDirectives)
        {
            whyNot = "a preprocessor directive inside the wait would be lost";
            return null;
        }

        var arguments = string.Join(", ", syntax.ArgumentList.Arguments.Select(a => a.ToString()));
        if (Is(method.ContainingType, _types.Task))
        {
            if (method.Name == "Delay")
            {
                if (method.Parameters.Any(p => p.Type.Name == "TimeProvider"))
                {
                    whyNot = "the delay runs on a TimeProvider, which the runtime's bounded wait does not take";
                    return null;
                }

                // Awaited as it is, a ValueTask<bool> stands in; stored, continued or configured with options it must be a Task.
                var call = $"{receiver}.DelayUntilBufferedAmountLowAsync({threshold}, {arguments})";
                return IsAwaitedDirectly(invocation) ? call : call + ".AsTask()";
            }

            if (invocation.Parent is IAwaitOperation)
            {
                return $"{receiver}.DelayUntilBufferedAmountLowAsync({threshold}, 1)"; // await Task.Yield(): the shortest wait
            }
        }
        else if (Is(method.ContainingType, _types.Thread) && method.Name == "Sleep")
        {
            return $"{receiver}.SleepUntilBufferedAmountLow({threshold}, {arguments})";
        }
        else if (invocation.Parent is IExpressionStatementOperation
            && ((Is(method.ContainingType, _types.Thread) && method.Name is "Yield" or "SpinWait") || (Is(method.ContainingType, _types.SpinWait) && method.Name == "SpinOnce")))
        {
            // A spin gives the time slice away for about a millisecond at most: block for as long, or until low.
            return $"{receiver}.SleepUntilBufferedAmountLow({threshold}, 1)";
        }

        whyNot = IsTimerReschedule(method)
            ? "a timer re-schedule runs its callback on the timer's own schedule, so there is no wait to end early; rewrite the callback as an async loop"
            : "the result of this wait is used as a value, which the bounded wait cannot stand in for";
        return null;
    }

    private static bool IsAwaitedDirectly(IInvocationOperation delay) =>
        delay.Parent is IAwaitOperation
        || (delay.Parent is IInvocationOperation { TargetMethod.Name: "ConfigureAwait", Arguments: [{ Value.Type.SpecialType: SpecialType.System_Boolean }] } configure
            && ReferenceEquals(configure.Instance, delay)
            && configure.Parent is IAwaitOperation);

    /// <summary>
    /// The channel the wait is made on, as the comparison reads it: its null-forgiving operator kept, a
    /// conditional access (<c>_dc?.bufferedAmount</c>) made definite, since the wait is only reached when the
    /// channel was there. Only values that read the same where the wait is: no calls, nothing out of scope.
    /// </summary>
    private string? BoundedReceiverText(Comparison comparison, int position, SemanticModel model, out string? whyNot)
    {
        whyNot = null;
        if (_types.BufferedChannel is null)
        {
            whyNot = PollingSite.MissingRuntimeReason;
            return null;
        }

        if (comparison.Member is not IMemberReferenceOperation { Instance: { Type: { } type } instance })
        {
            whyNot = $"'{comparison.Member.Syntax}' is not read from a channel object the wait could be made on";
            return null;
        }

        // In `_dc?.bufferedAmount` the receiver is the conditional access's own operand.
        if (instance is IConditionalAccessInstanceOperation)
        {
            for (var parent = instance.Parent; parent is not null; parent = parent.Parent)
            {
                if (parent is IConditionalAccessOperation access)
                {
                    instance = access.Operation;
                    break;
                }
            }
        }

        if (Descendants(instance, includeSelf: true).Any(o => o is IInvocationOperation or IObjectCreationOperation or IAwaitOperation))
        {
            whyNot = $"the channel of '{comparison.Member.Syntax}' comes from a call, which the rewrite would have to make again";
            return null;
        }

        string text;
        switch (comparison.Member.Syntax)
        {
            case MemberAccessExpressionSyntax access:
                text = access.Expression.ToString();
                break;
            case MemberBindingExpressionSyntax binding when binding.Parent is ConditionalAccessExpressionSyntax conditional:
                text = conditional.Expression.ToString() + "!";
                break;
            case IdentifierNameSyntax when instance is IInstanceReferenceOperation:
                text = "this";
                break;
            default:
                whyNot = $"the channel of '{comparison.Member.Syntax}' cannot be named where the wait is";
                return null;
        }

        if (instance is not IInstanceReferenceOperation && !BindsAt(instance, position, model))
        {
            whyNot = $"'{text}', the channel the loop tests, means something else (or nothing) where the wait is";
            return null;
        }

        if (!IsPrimary(text))
        {
            text = $"({text})";
        }

        if (IsChannelContract(type))
        {
            return text;
        }

        if (HasAdapter(type, comparison.Member))
        {
            return text + ".AsBufferedChannel()";
        }

        whyNot = $"no IBufferedChannel adapter can be generated for '{type.ToDisplayString()}' (see BP0002)";
        return null;
    }

    private static bool IsPrimary(string text) =>
        SyntaxFactory.ParseExpression(text) is IdentifierNameSyntax or MemberAccessExpressionSyntax or ThisExpressionSyntax or ElementAccessExpressionSyntax
            or PostfixUnaryExpressionSyntax { RawKind: (int)SyntaxKind.SuppressNullableWarningExpression } or ParenthesizedExpressionSyntax;

    /// <summary>
    /// Whether every local, parameter, field and property <paramref name="value"/> reads means the same thing at
    /// <paramref name="position"/>: the comparison may sit in a predicate of the type, or in a scope the wait is not in.
    /// </summary>
    internal static bool BindsAt(IOperation value, int position, SemanticModel model)
    {
        foreach (var reference in Descendants(value, includeSelf: true))
        {
            ISymbol? symbol = reference switch
            {
                ILocalReferenceOperation local => local.Local,
                IParameterReferenceOperation parameter => parameter.Parameter,
                IFieldReferenceOperation field => field.Field,
                IPropertyReferenceOperation property => property.Property,
                _ => null,
            };

            if (symbol is null)
            {
                continue;
            }

            var text = SyntaxFactory.ParseExpression(reference.Syntax.ToString());
            var bound = model.GetSpeculativeSymbolInfo(position, text, SpeculativeBindingOption.BindAsExpression).Symbol;
            if (!SymbolEqualityComparer.Default.Equals(bound?.OriginalDefinition, symbol.OriginalDefinition))
            {
                return false;
            }
        }

        return true;
    }
}
