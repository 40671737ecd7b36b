using System;
using System.Linq;
using Microsoft.CodeAnalysis;

namespace Backpressure.Analyzers.Adapters;

/// <summary>How a send method takes its payload, best first: the adapter uses the best one the type has.</summary>
internal enum SendKind
{
    Memory,
    ArrayOffsetCount,
    Segment,
    Span,
    Array,
}

/// <summary>How the adapter reads the channel's state.</summary>
internal enum StateKind
{
    None,
    Enum,
    IsOpen,
}

/// <summary>One event the adapter subscribes to: its name, its delegate type, and how many parameters the delegate takes.</summary>
internal sealed record EventShape(string Name, string DelegateType, int ParameterCount, int MessageParameter, bool MessageIsException);

/// <summary>
/// Everything the generator needs to write an adapter for one channel type, as plain values so the
/// incremental pipeline can compare it between runs without holding on to symbols or the compilation.
/// </summary>
internal sealed record ChannelShape(
    string TypeName,
    string AdapterName,
    string AmountMember,
    string? ThresholdMember,
    string? ThresholdType,
    EventShape? LowEvent,
    EventShape? CloseEvent,
    EventShape? ErrorEvent,
    StateKind StateKind,
    string? StateMember,
    string? StateType,
    string? OpenName,
    string? ClosingName,
    string? ClosedName,
    string? ConnectingName,
    string? MaxMessageSizeMember,
    string SendMethod,
    SendKind SendKind,
    string? CloseMethod);

/// <summary>The result of binding a type: a shape, or the reason no adapter can be written.</summary>
internal sealed record BindingResult(ChannelShape? Shape, string TypeName, string? Missing)
{
    public static BindingResult Bound(ChannelShape shape) => new(shape, shape.TypeName, null);

    public static BindingResult Unbound(string typeName, string missing) => new(null, typeName, missing);
}

/// <summary>
/// Maps a channel-shaped type's public surface onto the runtime's contract: the buffered amount, low
/// threshold, low/close/error events of any delegate shape, the state, the maximum message size, the
/// best send overload and close. Shared by the generator (which writes the adapter) and BP0001 (which
/// offers its fix only for types the generator can adapt).
/// </summary>
internal static class ChannelShapeBinder
{
    /// <summary>The maximum message size an adapter reports when the type does not say: SCTP's 256 KiB.</summary>
    public const int DefaultMaxMessageSize = 256 * 1024;

    private static readonly SymbolDisplayFormat FullyQualified = SymbolDisplayFormat.FullyQualifiedFormat
        .WithMiscellaneousOptions(SymbolDisplayMiscellaneousOptions.EscapeKeywordIdentifiers | SymbolDisplayMiscellaneousOptions.UseSpecialTypes);

    public static BindingResult Bind(INamedTypeSymbol type, Compilation compilation)
    {
        var typeName = type.ToDisplayString(FullyQualified);
        if (!type.IsReferenceType || type.TypeKind == TypeKind.Interface)
        {
            return BindingResult.Unbound(typeName, "it is not a class (an adapter is kept per channel object, which needs a reference type)");
        }

        if (!IsAccessible(type, compilation))
        {
            return BindingResult.Unbound(typeName, "it is not accessible from generated code (make it internal or public)");
        }

        var members = AllMembers(type).Where(m => m.DeclaredAccessibility == Accessibility.Public && !m.IsStatic).ToList();

        var amount = members.FirstOrDefault(m => Named(m, "BufferedAmount") && IsIntegralValue(m, needsSetter: false));
        if (amount is null)
        {
            return BindingResult.Unbound(typeName, "it has no public integral BufferedAmount property or field");
        }

        var send = members.OfType<IMethodSymbol>()
            .Where(m => m.MethodKind == MethodKind.Ordinary && m.Name.StartsWith("send", StringComparison.OrdinalIgnoreCase) && !ReturnsAwaitable(m))
            .Select(m => (Method: m, Kind: SendKindOf(m)))
            .Where(x => x.Kind is not null)
            .OrderBy(x => x.Kind)
            .ThenBy(x => string.Equals(x.Method.Name, "send", StringComparison.OrdinalIgnoreCase) ? 0 : 1)
            .FirstOrDefault();
        if (send.Method is null)
        {
            return BindingResult.Unbound(typeName, "it has no public synchronous Send method taking bytes (ReadOnlyMemory<byte>, byte[] with offset and count, ArraySegment<byte>, ReadOnlySpan<byte> or byte[])");
        }

        var threshold = members.FirstOrDefault(m => Named(m, "BufferedAmountLowThreshold") && IsIntegralValue(m, needsSetter: true));
        var (stateKind, stateMember, stateType, names) = BindState(members);
        var maxMessageSize = members.FirstOrDefault(m => (Named(m, "MaxMessageSize") || Named(m, "maxMessageSize")) && IsIntegralValue(m, needsSetter: false));
        var close = members.OfType<IMethodSymbol>().FirstOrDefault(m => m.MethodKind == MethodKind.Ordinary && Named(m, "Close") && m.Parameters.Length == 0);

        var shape = new ChannelShape(
            typeName,
            AdapterName(type),
            amount.Name,
            threshold?.Name,
            threshold is null ? null : ValueType(threshold).ToDisplayString(FullyQualified),
            BindEvent(members, "onbufferedamountlow", "BufferedAmountLow", "OnBufferedAmountLow"),
            BindEvent(members, "onclose", "Closed", "OnClose", "OnClosed", "Close"),
            BindEvent(members, "onerror", "Error", "OnError"),
            stateKind,
            stateMember,
            stateType,
            names.Open,
            names.Closing,
            names.Closed,
            names.Connecting,
            maxMessageSize?.Name,
            send.Method.Name,
            send.Kind!.Value,
            close?.Name);
        return BindingResult.Bound(shape);
    }

    private static (StateKind, string?, string?, (string? Open, string? Closing, string? Closed, string? Connecting)) BindState(System.Collections.Generic.List<ISymbol> members)
    {
        foreach (var member in members)
        {
            if ((Named(member, "readyState") || Named(member, "State")) && ValueTypeOrNull(member) is INamedTypeSymbol { TypeKind: TypeKind.Enum } enumType)
            {
                var fields = enumType.GetMembers().OfType<IFieldSymbol>().Where(f => f.HasConstantValue).Select(f => f.Name).ToList();
                string? Find(string name) => fields.FirstOrDefault(f => string.Equals(f, name, StringComparison.OrdinalIgnoreCase));
                if (Find("open") is { } open)
                {
                    return (StateKind.Enum, member.Name, enumType.ToDisplayString(FullyQualified), (open, Find("closing"), Find("closed"), Find("connecting")));
                }
            }
        }

        var isOpen = members.FirstOrDefault(m => Named(m, "IsOpen") && ValueTypeOrNull(m)?.SpecialType == SpecialType.System_Boolean);
        return isOpen is null ? (StateKind.None, null, null, default) : (StateKind.IsOpen, isOpen.Name, null, default);
    }

    private static EventShape? BindEvent(System.Collections.Generic.List<ISymbol> members, params string[] names)
    {
        foreach (var name in names)
        {
            if (members.OfType<IEventSymbol>().FirstOrDefault(e => Named(e, name)) is { Type: INamedTypeSymbol { DelegateInvokeMethod: { ReturnsVoid: true } invoke } delegateType } found)
            {
                var parameters = invoke.Parameters;
                var message = -1;
                var isException = false;
                for (var i = parameters.Length - 1; i >= 0; i--)
                {
                    if (parameters[i].Type.SpecialType == SpecialType.System_String)
                    {
                        message = i;
                        break;
                    }

                    if (InheritsFrom(parameters[i].Type, "System.Exception"))
                    {
                        message = i;
                        isException = true;
                        break;
                    }
                }

                return new EventShape(found.Name, delegateType.ToDisplayString(FullyQualified), parameters.Length, message, isException);
            }
        }

        return null;
    }

    private static SendKind? SendKindOf(IMethodSymbol method)
    {
        var required = method.Parameters.Where(p => !p.IsOptional).ToList();
        var parameters = method.Parameters;
        if (parameters.Length == 0 || parameters.Any(p => p.RefKind != RefKind.None))
        {
            return null;
        }

        var first = parameters[0].Type;
        if (required.Count <= 1 && IsGeneric(first, "System.ReadOnlyMemory`1") && parameters.Skip(1).All(p => p.IsOptional))
        {
            return SendKind.Memory;
        }

        if (IsByteArray(first) && parameters.Length >= 3 && parameters[1].Type.SpecialType == SpecialType.System_Int32
            && parameters[2].Type.SpecialType == SpecialType.System_Int32 && parameters.Skip(3).All(p => p.IsOptional))
        {
            return SendKind.ArrayOffsetCount;
        }

        if (required.Count <= 1 && parameters.Skip(1).All(p => p.IsOptional))
        {
            if (IsGeneric(first, "System.ArraySegment`1"))
            {
                return SendKind.Segment;
            }

            if (IsGeneric(first, "System.ReadOnlySpan`1"))
            {
                return SendKind.Span;
            }

            if (IsByteArray(first))
            {
                return SendKind.Array;
            }
        }

        return null;
    }

    private static bool IsGeneric(ITypeSymbol type, string metadataName) =>
        type is INamedTypeSymbol { IsGenericType: true } named
        && named.OriginalDefinition.ToDisplayString() == metadataName.Replace("`1", "<T>")
        && named.TypeArguments[0].SpecialType == SpecialType.System_Byte;

    private static bool IsByteArray(ITypeSymbol type) => type is IArrayTypeSymbol { Rank: 1, ElementType.SpecialType: SpecialType.System_Byte };

    private static bool ReturnsAwaitable(IMethodSymbol method) =>
        method.ReturnType.Name is "Task" or "ValueTask" && method.ReturnType.ContainingNamespace?.ToDisplayString() == "System.Threading.Tasks";

    private static bool Named(ISymbol symbol, string name) => string.Equals(symbol.Name, name, StringComparison.OrdinalIgnoreCase);

    private static ITypeSymbol ValueType(ISymbol member) => ValueTypeOrNull(member)!;

    private static ITypeSymbol? ValueTypeOrNull(ISymbol member) => member switch
    {
        IPropertySymbol { IsIndexer: false, GetMethod: not null } property => property.Type,
        IFieldSymbol field => field.Type,
        _ => null,
    };

    private static bool IsIntegralValue(ISymbol member, bool needsSetter) =>
        ValueTypeOrNull(member) is { SpecialType: >= SpecialType.System_SByte and <= SpecialType.System_UInt64 }
        && (!needsSetter || member is IFieldSymbol { IsReadOnly: false, IsConst: false } || member is IPropertySymbol { SetMethod.DeclaredAccessibility: Accessibility.Public });

    private static bool InheritsFrom(ITypeSymbol type, string fullName)
    {
        for (var current = type; current is not null; current = current.BaseType)
        {
            if (current.ToDisplayString() == fullName)
            {
                return true;
            }
        }

        return false;
    }

    private static System.Collections.Generic.IEnumerable<ISymbol> AllMembers(INamedTypeSymbol type)
    {
        var seen = new System.Collections.Generic.HashSet<string>(StringComparer.Ordinal);
        for (var current = type; current is not null && current.SpecialType != SpecialType.System_Object; current = current.BaseType)
        {
            foreach (var member in current.GetMembers())
            {
                // A member hidden by a derived one is not what callers see.
                if (member is IMethodSymbol || seen.Add(member.Name))
                {
                    yield return member;
                }
            }
        }
    }

    private static bool IsAccessible(INamedTypeSymbol type, Compilation compilation) =>
        compilation.IsSymbolAccessibleWithin(type, compilation.Assembly);

    private static string AdapterName(INamedTypeSymbol type)
    {
        var name = type.ToDisplayString(SymbolDisplayFormat.FullyQualifiedFormat).Replace("global::", string.Empty);
        var safe = new string(name.Select(c => char.IsLetterOrDigit(c) ? c : '_').ToArray());
        return safe + "_BufferedChannelAdapter";
    }
}
