using System;
using System.Collections.Generic;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Text;

namespace Backpressure.Analyzers;

/// <summary>
/// Where a file names things, from one pass over its tokens: every identifier's positions (case-insensitive, as
/// member names are matched) and every token that may start a timed wait. The rule's syntax filters then ask
/// about a member's span with two binary searches instead of walking the member's tokens again for each question.
/// </summary>
internal sealed class TokenIndex
{
    private readonly Dictionary<string, List<int>> _identifiers = new(StringComparer.OrdinalIgnoreCase);
    private readonly List<int> _waits = new();

    private TokenIndex()
    {
    }

    public static TokenIndex Create(SyntaxNode root)
    {
        var index = new TokenIndex();
        foreach (var token in root.DescendantTokens())
        {
            if (IsWait(token))
            {
                index._waits.Add(token.SpanStart);
            }

            if (token.IsKind(SyntaxKind.IdentifierToken))
            {
                if (!index._identifiers.TryGetValue(token.ValueText, out var positions))
                {
                    index._identifiers[token.ValueText] = positions = new List<int>();
                }

                positions.Add(token.SpanStart);
            }
        }

        return index;
    }

    /// <summary>A token that may start a timed wait: the waits' method names, and <c>yield</c> (a coroutine's wait).</summary>
    public static bool IsWait(SyntaxToken token) =>
        token.IsKind(SyntaxKind.YieldKeyword)
        || (token.IsKind(SyntaxKind.IdentifierToken) && token.ValueText is "Delay" or "Yield" or "Sleep" or "SpinWait" or "SpinOnce" or "Change" or "Start");

    public bool NamesAny(TextSpan span, IEnumerable<string> names)
    {
        foreach (var name in names)
        {
            if (_identifiers.TryGetValue(name, out var positions) && AnyIn(positions, span))
            {
                return true;
            }
        }

        return false;
    }

    public bool MayWait(TextSpan span) => AnyIn(_waits, span);

    /// <summary>Whether a sorted list of positions has one inside <paramref name="span"/>.</summary>
    private static bool AnyIn(List<int> positions, TextSpan span)
    {
        var index = positions.BinarySearch(span.Start);
        if (index < 0)
        {
            index = ~index;
        }

        return index < positions.Count && positions[index] < span.End;
    }
}
