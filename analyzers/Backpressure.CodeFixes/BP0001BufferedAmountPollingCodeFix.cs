using System.Collections.Generic;
using System.Collections.Immutable;
using System.Composition;
using System.Globalization;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Backpressure.Analyzers;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CodeActions;
using Microsoft.CodeAnalysis.CodeFixes;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Text;

namespace Backpressure.CodeFixes;

/// <summary>
/// Rewrites a BP0001 polling site into one awaited call of the runtime's event-driven wait. Offered
/// only where the analyzer found that the rewrite keeps the program's meaning.
/// </summary>
[ExportCodeFixProvider(LanguageNames.CSharp, Name = nameof(BP0001BufferedAmountPollingCodeFix))]
[Shared]
public sealed class BP0001BufferedAmountPollingCodeFix : CodeFixProvider
{
    /// <summary>The equivalence key of "replace the wait"; stable, so fix-all and tooling can ask for it.</summary>
    public const string ReplaceWaitEquivalenceKey = PollingSite.ReplaceWaitEquivalenceKey;

    /// <summary>The equivalence key of "replace the send loop"; stable, so fix-all and tooling can ask for it.</summary>
    public const string ReplaceSendLoopEquivalenceKey = PollingSite.ReplaceSendLoopEquivalenceKey;

    /// <summary>
    /// The equivalence key of "bound the wait": only the timer call changes, into a wait that ends when the queue is
    /// low, the same time has passed, or the channel closes or fails. Stable, so fix-all and tooling can ask for it.
    /// </summary>
    public const string BoundedWaitEquivalenceKey = PollingSite.BoundedWaitEquivalenceKey;

    private const string RuntimeNamespace = "Backpressure";

    /// <inheritdoc/>
    public override ImmutableArray<string> FixableDiagnosticIds { get; } = ImmutableArray.Create(DiagnosticIds.BufferedAmountPolling);

    /// <inheritdoc/>
    public override FixAllProvider GetFixAllProvider() => FixAll.Instance;

    /// <summary>The fixes, in the order the lightbulb lists them: the whole-loop rewrites where they apply, then the one that fits every loop.</summary>
    private static readonly (string Key, string Title)[] Fixes =
    [
        (ReplaceWaitEquivalenceKey, "Wait for the low-buffer event instead of polling"),
        (ReplaceSendLoopEquivalenceKey, "Replace the send loop with Backpressure's SendAsync"),
        (BoundedWaitEquivalenceKey, "Wake on the low-buffer event instead of sleeping (keeps the loop)"),
    ];

    /// <inheritdoc/>
    public override Task RegisterCodeFixesAsync(CodeFixContext context)
    {
        foreach (var diagnostic in context.Diagnostics)
        {
            foreach (var (key, title) in Fixes)
            {
                if (Edit.For(diagnostic, key).Count > 0)
                {
                    context.RegisterCodeFix(
                        CodeAction.Create(title, cancellationToken => ApplyAsync(context.Document, ImmutableArray.Create(diagnostic), key, cancellationToken), key),
                        diagnostic);
                }
            }
        }

        return Task.CompletedTask;
    }

    private static async Task<Document> ApplyAsync(Document document, ImmutableArray<Diagnostic> diagnostics, string equivalenceKey, CancellationToken cancellationToken)
    {
        var root = await document.GetSyntaxRootAsync(cancellationToken).ConfigureAwait(false);
        if (root is null)
        {
            return document;
        }

        var edits = new List<(SyntaxNode Target, Edit Edit)>();
        foreach (var edit in diagnostics.SelectMany(d => Edit.For(d, equivalenceKey)))
        {
            var target = root.FindNode(edit.Target, getInnermostNodeForTie: true);
            while (target.Span != edit.Target && target.Parent is { } parent)
            {
                target = parent;
            }

            if (target.Span == edit.Target)
            {
                edits.Add((target, edit));
            }
        }

        if (edits.Count == 0)
        {
            return document;
        }

        var newline = DetectNewline(root);
        var removals = edits.SelectMany(e => e.Edit.Removed)
            .Select(span => root.FindNode(span, getInnermostNodeForTie: true).AncestorsAndSelf().OfType<StatementSyntax>().FirstOrDefault(n => n.Span == span))
            .Where(n => n is not null)
            .Select(n => n!)
            .ToList();
        var tracked = root.TrackNodes(edits.Select(e => e.Target).Concat(removals));
        foreach (var (target, edit) in edits)
        {
            // A site nested in one already rewritten is gone with it.
            if (tracked.GetCurrentNode(target) is not { } current)
            {
                continue;
            }

            tracked = target is StatementSyntax statement
                ? ReplaceStatement(tracked, (StatementSyntax)current, statement, edit.Replacement, KeptStatements(root, edit.Kept), newline)
                : tracked.ReplaceNode(current, SyntaxFactory.ParseExpression(edit.Replacement).WithTriviaFrom(current));
        }

        // Statements the rewrite made dead go, with their comments: what they did is now SendAsync's job.
        foreach (var removal in removals)
        {
            if (tracked.GetCurrentNode(removal) is { } current)
            {
                tracked = tracked.RemoveNode(current, SyntaxRemoveOptions.KeepNoTrivia)!;
            }
        }

        if (tracked is CompilationUnitSyntax unit && !await ImportsRuntimeAsync(document, unit, edits[0].Edit.Target.Start, cancellationToken).ConfigureAwait(false))
        {
            tracked = await WouldMakeNamesAmbiguousAsync(document, cancellationToken).ConfigureAwait(false)
                ? AddStaticUsings(unit, newline, edits.Any(e => e.Edit.Replacement.Contains(".AsBufferedChannel()")))
                : AddRuntimeUsing(unit, newline);
        }

        return document.WithSyntaxRoot(tracked);
    }

    private static IEnumerable<StatementSyntax> KeptStatements(SyntaxNode root, IEnumerable<TextSpan> kept) =>
        kept.Select(span => root.FindNode(span, getInnermostNodeForTie: true).FirstAncestorOrSelf<StatementSyntax>())
            .Where(statement => statement is not null)!;

    private static SyntaxNode ReplaceStatement(
        SyntaxNode root, StatementSyntax current, StatementSyntax original, string replacement, IEnumerable<StatementSyntax> kept, string newline)
    {
        var indentation = Indentation(original);
        var eol = SyntaxFactory.EndOfLine(newline);

        // Comments inside the removed construct move above the new statement instead of vanishing.
        var keptList = kept.ToList();
        var movedComments = original.DescendantTrivia(descendIntoTrivia: false)
            .Where(t => t.IsKind(SyntaxKind.SingleLineCommentTrivia) || t.IsKind(SyntaxKind.MultiLineCommentTrivia))
            .Where(t => !original.GetLeadingTrivia().Contains(t) && !original.GetTrailingTrivia().Contains(t))
            .Where(t => !keptList.Any(k => k.FullSpan.Contains(t.Span)))
            .SelectMany(t => new[] { indentation, t, eol });

        // They go between the statement's own leading trivia and its indentation.
        var leading = original.GetLeadingTrivia();
        if (leading.Count > 0 && leading[leading.Count - 1].IsKind(SyntaxKind.WhitespaceTrivia))
        {
            leading = leading.RemoveAt(leading.Count - 1);
        }

        var wait = SyntaxFactory.ParseStatement(replacement)
            .WithLeadingTrivia(leading.AddRange(movedComments).Add(indentation))
            .WithTrailingTrivia(eol);

        var statements = new List<StatementSyntax> { wait };
        statements.AddRange(keptList.Select(k => k.WithoutTrivia().WithLeadingTrivia(indentation).WithTrailingTrivia(eol)));
        statements[statements.Count - 1] = statements[statements.Count - 1].WithTrailingTrivia(original.GetTrailingTrivia());

        if (statements.Count == 1)
        {
            return root.ReplaceNode(current, statements[0]);
        }

        if (current.Parent is BlockSyntax or SwitchSectionSyntax)
        {
            return root.ReplaceNode(current, statements);
        }

        // Top-level statements: each statement is its own member of the compilation unit.
        if (current.Parent is GlobalStatementSyntax global)
        {
            return root.ReplaceNode(global, statements.Select(SyntaxFactory.GlobalStatement));
        }

        // An embedded statement (`if (x) while (...) ...;`) can only be one statement: wrap them in a block.
        return root.ReplaceNode(current, SyntaxFactory.Block(statements).WithTriviaFrom(current));
    }

    private static SyntaxTrivia Indentation(StatementSyntax statement)
    {
        var whitespace = statement.GetLeadingTrivia().LastOrDefault();
        return whitespace.IsKind(SyntaxKind.WhitespaceTrivia) ? whitespace : SyntaxFactory.Whitespace(string.Empty);
    }

    private static string DetectNewline(SyntaxNode root)
    {
        var endOfLine = root.DescendantTrivia().FirstOrDefault(t => t.IsKind(SyntaxKind.EndOfLineTrivia));
        return endOfLine.IsKind(SyntaxKind.EndOfLineTrivia) ? endOfLine.ToString() : "\n";
    }

    /// <summary>Whether the runtime's extension methods are already in scope: a using in this file, a global using anywhere, or code inside the namespace.</summary>
    private static async Task<bool> ImportsRuntimeAsync(Document document, CompilationUnitSyntax unit, int position, CancellationToken cancellationToken)
    {
        static bool IsRuntime(UsingDirectiveSyntax u) => u.Alias is null && u.StaticKeyword == default && u.Name?.ToString() == RuntimeNamespace;

        if (unit.Usings.Any(IsRuntime)
            || unit.DescendantNodes(n => n is CompilationUnitSyntax or BaseNamespaceDeclarationSyntax).OfType<BaseNamespaceDeclarationSyntax>()
                .Any(n => n.Usings.Any(IsRuntime) || n.Name.ToString() == RuntimeNamespace || n.Name.ToString().StartsWith(RuntimeNamespace + ".", System.StringComparison.Ordinal)))
        {
            return true;
        }

        // A global using anywhere in the project: the compilation knows them all, where a walk of every other
        // file for each fixed file made a project's fix grow with its files times its sites.
        var model = await document.GetSemanticModelAsync(cancellationToken).ConfigureAwait(false);
        return model is not null && model.GetImportScopes(position, cancellationToken)
            .Any(scope => scope.Imports.Any(i => i.NamespaceOrType is INamespaceSymbol { Name: RuntimeNamespace, ContainingNamespace.IsGlobalNamespace: true }));
    }

    /// <summary>
    /// Whether importing the runtime's namespace would make a name this file uses ambiguous: the file names
    /// a type that the namespace also declares (ChannelClosedException is in System.Threading.Channels too).
    /// </summary>
    private static async Task<bool> WouldMakeNamesAmbiguousAsync(Document document, CancellationToken cancellationToken)
    {
        var model = await document.GetSemanticModelAsync(cancellationToken).ConfigureAwait(false);
        var root = await document.GetSyntaxRootAsync(cancellationToken).ConfigureAwait(false);
        var runtime = model?.Compilation.GlobalNamespace.GetNamespaceMembers().FirstOrDefault(n => n.Name == RuntimeNamespace);
        if (model is null || root is null || runtime is null)
        {
            return false;
        }

        var runtimeTypes = new HashSet<string>(runtime.GetTypeMembers().Where(t => t.DeclaredAccessibility == Accessibility.Public).Select(t => t.Name), System.StringComparer.Ordinal);
        return root.DescendantNodes().OfType<SimpleNameSyntax>()
            .Any(name => runtimeTypes.Contains(name.Identifier.ValueText)
                && model.GetSymbolInfo(name, cancellationToken).Symbol is INamedTypeSymbol bound
                && bound.ContainingNamespace?.ToDisplayString() != RuntimeNamespace);
    }

    /// <summary>Imports only the extension methods, which brings no type name into scope.</summary>
    private static CompilationUnitSyntax AddStaticUsings(CompilationUnitSyntax unit, string newline, bool needsAdapters)
    {
        var classes = needsAdapters
            ? new[] { "Backpressure.BufferedChannelExtensions", "Backpressure.GeneratedChannelAdapters" }
            : new[] { "Backpressure.BufferedChannelExtensions" };
        var directives = classes.Select(c => SyntaxFactory.UsingDirective(SyntaxFactory.Token(SyntaxKind.StaticKeyword).WithTrailingTrivia(SyntaxFactory.Space), null, SyntaxFactory.ParseName(c))
            .WithUsingKeyword(SyntaxFactory.Token(SyntaxKind.UsingKeyword).WithTrailingTrivia(SyntaxFactory.Space))
            .WithTrailingTrivia(SyntaxFactory.EndOfLine(newline)));
        return unit.WithUsings(unit.Usings.AddRange(directives));
    }

    /// <summary>Adds <c>using Backpressure;</c> in order: after System directives, before the first one that sorts after it.</summary>
    private static CompilationUnitSyntax AddRuntimeUsing(CompilationUnitSyntax unit, string newline)
    {
        var directive = SyntaxFactory.UsingDirective(SyntaxFactory.ParseName(RuntimeNamespace))
            .WithUsingKeyword(SyntaxFactory.Token(SyntaxKind.UsingKeyword).WithTrailingTrivia(SyntaxFactory.Space))
            .WithTrailingTrivia(SyntaxFactory.EndOfLine(newline));

        var usings = unit.Usings;
        if (usings.Count == 0)
        {
            // Keep a file header above the new directive, and a blank line below it.
            var first = unit.GetLeadingTrivia();
            var body = unit.WithoutLeadingTrivia();
            return body.WithUsings(SyntaxFactory.SingletonList(directive.WithLeadingTrivia(first).WithTrailingTrivia(SyntaxFactory.EndOfLine(newline), SyntaxFactory.EndOfLine(newline))));
        }

        var index = usings.Count;
        for (var i = 0; i < usings.Count; i++)
        {
            var name = usings[i].Name?.ToString() ?? string.Empty;
            var isSystem = name == "System" || name.StartsWith("System.", System.StringComparison.Ordinal);
            if (usings[i].GlobalKeyword == default && usings[i].Alias is null && !isSystem && string.CompareOrdinal(name, RuntimeNamespace) > 0)
            {
                index = i;
                break;
            }
        }

        if (index == 0)
        {
            // Taking the first place: take over the file header too.
            var header = usings[0].GetLeadingTrivia();
            usings = usings.Replace(usings[0], usings[0].WithoutLeadingTrivia());
            directive = directive.WithLeadingTrivia(header);
        }

        return unit.WithUsings(usings.Insert(index, directive));
    }

    /// <summary>Fixes every fixable site of a document in one pass, so the using is added once.</summary>
    private sealed class FixAll : DocumentBasedFixAllProvider
    {
        public static readonly FixAll Instance = new();

        protected override string GetFixAllTitle(FixAllContext fixAllContext) => fixAllContext.CodeActionEquivalenceKey switch
        {
            ReplaceSendLoopEquivalenceKey => "Replace every recognised send loop with Backpressure's SendAsync",
            BoundedWaitEquivalenceKey => "Wake on the low-buffer event instead of sleeping, in every polling loop",
            _ => "Wait for the low-buffer event instead of polling, everywhere it keeps the meaning",
        };

        protected override async Task<Document?> FixAllAsync(FixAllContext fixAllContext, Document document, ImmutableArray<Diagnostic> diagnostics) =>
            await ApplyAsync(document, diagnostics, fixAllContext.CodeActionEquivalenceKey ?? ReplaceWaitEquivalenceKey, fixAllContext.CancellationToken).ConfigureAwait(false);
    }

    /// <summary>One rewrite read from a diagnostic: what to replace, with what, and which statements to keep after it.</summary>
    private sealed record Edit(TextSpan Target, string Replacement, ImmutableArray<TextSpan> Kept)
    {
        /// <summary>Gets statements removed besides the replaced one (the scaffolding a whole send loop no longer needs).</summary>
        public ImmutableArray<TextSpan> Removed { get; init; } = ImmutableArray<TextSpan>.Empty;

        /// <summary>The edits a diagnostic's fix of this kind makes: none when it does not offer that fix.</summary>
        public static IReadOnlyList<Edit> For(Diagnostic diagnostic, string equivalenceKey)
        {
            var properties = diagnostic.Properties;
            if (equivalenceKey == ReplaceWaitEquivalenceKey)
            {
                return properties.TryGetValue(PollingSite.FixKey, out var fix) && fix == PollingSite.ReplaceWaitFix
                    && properties.TryGetValue(PollingSite.ReplacementKey, out var replacement) && replacement is not null
                    && diagnostic.AdditionalLocations.Count > 0
                    ? [new Edit(diagnostic.AdditionalLocations[0].SourceSpan, replacement, diagnostic.AdditionalLocations.Skip(1).Select(l => l.SourceSpan).ToImmutableArray())]
                    : [];
            }

            if (equivalenceKey == ReplaceSendLoopEquivalenceKey
                && properties.TryGetValue(PollingSite.SendLoopReplacementKey, out var loop) && loop is not null
                && properties.TryGetValue(PollingSite.SendLoopSpanKey, out var span) && span is not null && ParseSpan(span) is { } loopSpan)
            {
                var removed = properties.TryGetValue(PollingSite.SendLoopRemoveKey, out var remove) && remove is not null
                    ? remove.Split(';').Select(ParseSpan).Where(r => r is not null).Select(r => r!.Value).ToImmutableArray()
                    : ImmutableArray<TextSpan>.Empty;
                return [new Edit(loopSpan, loop, ImmutableArray<TextSpan>.Empty) { Removed = removed }];
            }

            if (equivalenceKey == BoundedWaitEquivalenceKey
                && properties.TryGetValue(PollingSite.BoundedWaitCountKey, out var countText)
                && int.TryParse(countText, NumberStyles.None, CultureInfo.InvariantCulture, out var count))
            {
                var edits = new List<Edit>(count);
                for (var i = 0; i < count; i++)
                {
                    if (!properties.TryGetValue(PollingSite.BoundedWaitSpanKey(i), out var waitSpan) || waitSpan is null || ParseSpan(waitSpan) is not { } target
                        || !properties.TryGetValue(PollingSite.BoundedWaitReplacementKey(i), out var call) || call is null)
                    {
                        return [];
                    }

                    edits.Add(new Edit(target, call, ImmutableArray<TextSpan>.Empty));
                }

                return edits;
            }

            return [];
        }

        private static TextSpan? ParseSpan(string text) =>
            text.Split(',') is [var start, var length]
            && int.TryParse(start, NumberStyles.None, CultureInfo.InvariantCulture, out var s)
            && int.TryParse(length, NumberStyles.None, CultureInfo.InvariantCulture, out var l)
                ? new TextSpan(s, l)
                : null;
    }
}
