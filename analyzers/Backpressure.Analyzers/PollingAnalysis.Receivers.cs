using System;
using System.Globalization;
using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Operations;

namespace Backpressure.Analyzers;

/// <summary>What every rewrite needs: the channel to call the runtime on (itself or its generated adapter) and the threshold to wait for.</summary>
internal sealed partial class PollingAnalysis
{
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
}
