using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Threading;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Text;

namespace Backpressure.Analyzers;

/// <summary>
/// Where a file may name something, for the rule's syntax filters: each name's positions, found by searching the
/// text (whole words, ignoring case) the first time the name is asked for. A comment or a string that holds the
/// name counts too, so the filters may let a member through that cannot poll (the graph then finds nothing), never
/// the reverse. An identifier spelled with a Unicode escape (<c>Buffered\u0041mount</c>) hides from a text search:
/// such a file is indexed from its tokens instead. Either way no syntax node is built for a file that is not asked
/// about, and a member's question is a binary search.
/// </summary>
internal sealed class NameIndex
{
    /// <summary>Names that may start a timed wait: the waits' methods, and <c>yield</c> (a coroutine's wait).</summary>
    public static readonly string[] WaitNames = ["Delay", "Yield", "Sleep", "SpinWait", "SpinOnce", "Change", "Start"];

    private readonly string _text;
    private readonly ConcurrentDictionary<string, List<int>> _positions = new(StringComparer.OrdinalIgnoreCase);
    private readonly bool _fromTokens;

    private NameIndex(string text, SyntaxNode? escapedRoot)
    {
        _text = text;
        if (escapedRoot is null)
        {
            return;
        }

        _fromTokens = true;
        foreach (var token in escapedRoot.DescendantTokens())
        {
            if (token.IsKind(SyntaxKind.IdentifierToken) || token.IsKind(SyntaxKind.YieldKeyword))
            {
                _positions.GetOrAdd(token.ValueText, static _ => new List<int>()).Add(token.SpanStart);
            }
        }
    }

    public static NameIndex Create(SyntaxTree tree, CancellationToken cancellationToken)
    {
        var text = tree.GetText(cancellationToken).ToString();
        return new NameIndex(text, HasUnicodeEscape(text) ? tree.GetRoot(cancellationToken) : null);
    }

    private static bool HasUnicodeEscape(string text)
    {
        for (var at = text.IndexOf('\\'); at >= 0 && at + 1 < text.Length; at = text.IndexOf('\\', at + 1))
        {
            if (text[at + 1] is 'u' or 'U')
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>A token that may start a timed wait.</summary>
    public static bool IsWait(SyntaxToken token) =>
        token.IsKind(SyntaxKind.YieldKeyword) || (token.IsKind(SyntaxKind.IdentifierToken) && Array.IndexOf(WaitNames, token.ValueText) >= 0);

    public bool NamesAny(TextSpan span, IEnumerable<string> names)
    {
        foreach (var name in names)
        {
            if (AnyIn(PositionList(name), span))
            {
                return true;
            }
        }

        return false;
    }

    public bool MayWait(TextSpan span) => NamesAny(span, WaitNames);

    /// <summary>Where the file may name <paramref name="name"/>, in order.</summary>
    public IReadOnlyList<int> Positions(string name) => PositionList(name);

    private List<int> PositionList(string name) =>
        _fromTokens
            ? (_positions.TryGetValue(name, out var positions) ? positions : [])
            : _positions.GetOrAdd(name, Search);

    private List<int> Search(string name)
    {
        var positions = new List<int>();
        if (name.Length == 0)
        {
            return positions; // an empty string is found everywhere and the search would never move on
        }

        for (var at = _text.IndexOf(name, StringComparison.OrdinalIgnoreCase); at >= 0; at = _text.IndexOf(name, at + name.Length, StringComparison.OrdinalIgnoreCase))
        {
            if ((at == 0 || !IsIdentifierPart(_text[at - 1])) && (at + name.Length == _text.Length || !IsIdentifierPart(_text[at + name.Length])))
            {
                positions.Add(at);
            }
        }

        return positions;
    }

    private static bool IsIdentifierPart(char c) => char.IsLetterOrDigit(c) || c == '_';

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
