using System;
using System.Collections.Concurrent;
using System.Collections.Immutable;
using System.Linq;
using Microsoft.CodeAnalysis;

namespace Backpressure.Analyzers;

/// <summary>
/// Decides what counts as a buffered-amount member: a property or field with one of the configured
/// names (case-insensitive; <c>BufferedAmount</c> by default), of an integral type, declared on a type
/// that can send (has a method whose name starts with "Send") or on the runtime's channel contract.
/// </summary>
internal sealed class BufferedAmountMatcher
{
    /// <summary>The <c>.editorconfig</c> key that replaces the list of member names.</summary>
    public const string MemberNamesOption = "BP0001.member_names";

    public static readonly ImmutableArray<string> DefaultMemberNames = ImmutableArray.Create("BufferedAmount");

    private readonly ConcurrentDictionary<INamedTypeSymbol, bool> _canSend;
    private readonly INamedTypeSymbol? _channelContract;

    public BufferedAmountMatcher(
        ImmutableArray<string> memberNames, INamedTypeSymbol? channelContract, ConcurrentDictionary<INamedTypeSymbol, bool> canSendCache)
    {
        MemberNames = memberNames;
        _channelContract = channelContract;
        _canSend = canSendCache;
    }

    public ImmutableArray<string> MemberNames { get; }

    /// <summary>Parses the option's value: names separated by commas or spaces; none given keeps the default.</summary>
    public static ImmutableArray<string> ParseMemberNames(string? value)
    {
        if (value is null)
        {
            return DefaultMemberNames;
        }

        var names = value.Split(new[] { ',', ' ', '\t' }, StringSplitOptions.RemoveEmptyEntries)
            .Select(n => n.Trim())
            .Where(n => n.Length > 0)
            .Distinct(StringComparer.OrdinalIgnoreCase)
            .ToImmutableArray();
        return names.IsEmpty ? DefaultMemberNames : names;
    }

    public bool IsCandidateName(string name)
    {
        foreach (var candidate in MemberNames)
        {
            if (string.Equals(candidate, name, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }

    public bool IsBufferedAmountMember(ISymbol? member)
    {
        var type = member switch
        {
            IPropertySymbol property => property.Type,
            IFieldSymbol field => field.Type,
            _ => null,
        };

        return type is not null
            && IsIntegral(type)
            && IsCandidateName(member!.Name)
            && member.ContainingType is { } container
            && IsChannelLike(container);
    }

    private static bool IsIntegral(ITypeSymbol type) => type.SpecialType is >= SpecialType.System_SByte and <= SpecialType.System_UInt64;

    private bool IsChannelLike(INamedTypeSymbol type) =>
        _canSend.GetOrAdd(type, t => IsChannelContract(t) || HasSendMethod(t));

    private bool IsChannelContract(INamedTypeSymbol type) =>
        _channelContract is not null
        && (SymbolEqualityComparer.Default.Equals(type.OriginalDefinition, _channelContract)
            || type.AllInterfaces.Any(i => SymbolEqualityComparer.Default.Equals(i, _channelContract)));

    private static bool HasSendMethod(INamedTypeSymbol type)
    {
        for (var current = type; current is not null; current = current.BaseType)
        {
            if (DeclaresSend(current))
            {
                return true;
            }
        }

        return type.AllInterfaces.Any(DeclaresSend);
    }

    private static bool DeclaresSend(INamedTypeSymbol type) =>
        type.MemberNames.Any(n => n.StartsWith("send", StringComparison.OrdinalIgnoreCase))
        && type.GetMembers().Any(m => m is IMethodSymbol { MethodKind: MethodKind.Ordinary } && m.Name.StartsWith("send", StringComparison.OrdinalIgnoreCase));
}
