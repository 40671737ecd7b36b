using System.Collections.Immutable;
using System.Text;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Text;

namespace Backpressure.Cli;

/// <summary>
/// Re-analyses a solution after a fix, compiling again only what the fix can have changed. A rewrite edits
/// method bodies and using directives; as long as the declarations a file makes (its types, their members and
/// signatures, global usings, assembly attributes) are what they were, code in other files binds as before, and
/// so do other projects. Then only the changed files are compiled and analysed again, with the generator's changed
/// output and any other file that names what that output declares; every other file keeps its diagnostics.
/// Where declarations did change, the project and every project that depends on it are analysed whole.
/// </summary>
public static class Reanalysis
{
    /// <summary>
    /// Above this share of a project's files, one whole pass is cheaper. A pass per file compiles each file twice (once
    /// for the analyzers, once for the errors) and pays the analyzer driver's set-up each time: measured at about 20 ms
    /// a file against about 3 ms a file in a whole pass (200 projects of 25 files, 2 cores).
    /// </summary>
    private const double WholeProjectShare = 0.1;

    public static async Task<ImmutableDictionary<ProjectId, ProjectAnalysis>> AnalyzeAsync(
        Solution before, Solution after, ImmutableDictionary<ProjectId, ProjectAnalysis> previous, ImmutableArray<Rule> rules, CancellationToken cancellationToken)
    {
        var changed = after.GetChanges(before).GetProjectChanges().Select(p => p.ProjectId).ToHashSet();
        var graph = after.GetProjectDependencyGraph();
        var surfaceChanged = new HashSet<ProjectId>();
        var result = ImmutableDictionary.CreateBuilder<ProjectId, ProjectAnalysis>();

        // In dependency order: whether a project's declarations changed is known before its dependents are visited.
        foreach (var id in graph.GetTopologicallySortedProjects(cancellationToken))
        {
            if (after.GetProject(id) is not { Language: LanguageNames.CSharp } project)
            {
                continue;
            }

            var seesChange = graph.GetProjectsThatThisProjectTransitivelyDependsOn(id).Any(surfaceChanged.Contains);
            if (!changed.Contains(id) && !seesChange && previous.TryGetValue(id, out var kept))
            {
                result[id] = kept;
                continue;
            }

            if (seesChange || !previous.TryGetValue(id, out var old) || before.GetProject(id) is not { } was)
            {
                result[id] = await Analysis.AnalyzeAsync(project, rules, withCompiler: true, cancellationToken);
                surfaceChanged.Add(id);
                continue;
            }

            var hasDependents = graph.GetProjectsThatDirectlyDependOnThisProject(id).Count > 0;
            var (analysis, declarationsChanged) = await ProjectAsync(was, project, old, rules, hasDependents, cancellationToken);
            result[id] = analysis;
            if (declarationsChanged)
            {
                surfaceChanged.Add(id);
            }
        }

        return result.ToImmutable();
    }

    private static async Task<(ProjectAnalysis Analysis, bool DeclarationsChanged)> ProjectAsync(
        Project before, Project after, ProjectAnalysis previous, ImmutableArray<Rule> rules, bool hasDependents, CancellationToken cancellationToken)
    {
        var changes = after.GetChanges(before);
        if (changes.GetAddedDocuments().Any() || changes.GetRemovedDocuments().Any())
        {
            return (await Analysis.AnalyzeAsync(after, rules, withCompiler: true, cancellationToken), true);
        }

        var changedTrees = new List<(SyntaxTree Old, SyntaxTree New)>();
        foreach (var id in changes.GetChangedDocuments(onlyGetDocumentsWithTextChanges: true))
        {
            changedTrees.Add(((await before.GetDocument(id)!.GetSyntaxTreeAsync(cancellationToken))!, (await after.GetDocument(id)!.GetSyntaxTreeAsync(cancellationToken))!));
        }

        // Much of the project changed: one whole pass. Whether its declarations changed is then not worked out (that
        // would build the original compilation again), so the projects that depend on it are analysed whole too.
        if (changedTrees.Count > WholeProjectShare * after.DocumentIds.Count)
        {
            return (await Analysis.AnalyzeAsync(after, rules, withCompiler: true, cancellationToken), hasDependents);
        }

        var oldCompilation = (await before.GetCompilationAsync(cancellationToken))!;
        var newCompilation = (await after.GetCompilationAsync(cancellationToken))!;

        // The generator's output: what changed in it, and the names it declares that other files could bind to.
        var oldGenerated = await GeneratedAsync(before, cancellationToken);
        var newGenerated = await GeneratedAsync(after, cancellationToken);
        var generatedChanged = oldGenerated.Keys.Union(newGenerated.Keys, StringComparer.Ordinal)
            .Where(path => !oldGenerated.TryGetValue(path, out var o) || !newGenerated.TryGetValue(path, out var n) || !o.GetText(cancellationToken).ContentEquals(n.GetText(cancellationToken)))
            .ToList();
        var names = generatedChanged
            .SelectMany(path => new[] { oldGenerated.GetValueOrDefault(path), newGenerated.GetValueOrDefault(path) })
            .OfType<SyntaxTree>()
            .SelectMany(tree => BindableNames(tree.GetRoot(cancellationToken)))
            .ToHashSet(StringComparer.Ordinal);

        var recheck = changedTrees.Select(t => t.New)
            .Concat(generatedChanged.Select(path => newGenerated.GetValueOrDefault(path)).OfType<SyntaxTree>())
            .ToHashSet();
        if (names.Count > 0)
        {
            recheck.UnionWith(newCompilation.SyntaxTrees.Where(tree => !recheck.Contains(tree) && Mentions(tree.GetText(cancellationToken), names)));
        }

        var whole = recheck.Count > WholeProjectShare * newCompilation.SyntaxTrees.Count();
        var declarationsChanged = false;
        if (hasDependents || !whole)
        {
            // Generated code is internal: it is part of what other projects see only when they see internals.
            var declarationsDiffer = changedTrees.Any(t => Declarations(oldCompilation, t.Old, cancellationToken) != Declarations(newCompilation, t.New, cancellationToken));
            declarationsChanged = declarationsDiffer
                || (generatedChanged.Count > 0 && newCompilation.Assembly.GetAttributes().Any(a => a.AttributeClass?.Name == "InternalsVisibleToAttribute"));
            whole |= declarationsDiffer;
        }

        if (whole)
        {
            return (await Analysis.AnalyzeAsync(after, rules, withCompiler: true, cancellationToken), declarationsChanged);
        }

        var gone = generatedChanged.Where(path => !newGenerated.ContainsKey(path)).ToHashSet(StringComparer.Ordinal);
        var fresh = await Analysis.AnalyzeTreesAsync(after, newCompilation, [.. recheck], rules, cancellationToken);
        var replaced = recheck.Select(t => t.FilePath).Concat(gone).ToHashSet(StringComparer.Ordinal);
        bool Kept(Diagnostic d) => !d.Location.IsInSource || !replaced.Contains(d.Location.SourceTree!.FilePath);
        return (new ProjectAnalysis(
            [.. previous.Findings.Where(Kept), .. fresh.Findings],
            [.. previous.Errors.Where(Kept), .. fresh.Errors],
            [.. previous.Warnings.Where(Kept), .. fresh.Warnings],
            fresh.HasRuntime), declarationsChanged);
    }

    private static async Task<Dictionary<string, SyntaxTree>> GeneratedAsync(Project project, CancellationToken cancellationToken)
    {
        var trees = new Dictionary<string, SyntaxTree>(StringComparer.Ordinal);
        foreach (var document in await project.GetSourceGeneratedDocumentsAsync(cancellationToken))
        {
            if (await document.GetSyntaxTreeAsync(cancellationToken) is { } tree)
            {
                trees[tree.FilePath] = tree;
            }
        }

        return trees;
    }

    /// <summary>
    /// The names by which code elsewhere can reach what a file declares: its types, and the methods of its
    /// static classes (extension methods are found by name, without naming their class).
    /// </summary>
    private static IEnumerable<string> BindableNames(SyntaxNode root)
    {
        foreach (var node in root.DescendantNodes(n => n is CompilationUnitSyntax or BaseNamespaceDeclarationSyntax or TypeDeclarationSyntax))
        {
            switch (node)
            {
                case BaseTypeDeclarationSyntax type:
                    yield return type.Identifier.ValueText;
                    break;
                case DelegateDeclarationSyntax @delegate:
                    yield return @delegate.Identifier.ValueText;
                    break;
                case MethodDeclarationSyntax method when method.Parent is ClassDeclarationSyntax { Modifiers: var modifiers } && modifiers.Any(SyntaxKind.StaticKeyword):
                    yield return method.Identifier.ValueText;
                    break;
            }
        }
    }

    /// <summary>Whether a text has one of <paramref name="names"/> as a whole word (in code, a comment or a string: more than needed, never less).</summary>
    private static bool Mentions(SourceText text, HashSet<string> names)
    {
        var content = text.ToString();
        for (var start = 0; start < content.Length;)
        {
            if (!IsWordCharacter(content[start]))
            {
                start++;
                continue;
            }

            var end = start;
            while (end < content.Length && IsWordCharacter(content[end]))
            {
                end++;
            }

            if (names.Contains(content[start..end]))
            {
                return true;
            }

            start = end;
        }

        return false;

        static bool IsWordCharacter(char c) => char.IsLetterOrDigit(c) || c == '_';
    }

    private static readonly SymbolDisplayFormat Signature = new(
        globalNamespaceStyle: SymbolDisplayGlobalNamespaceStyle.Included,
        typeQualificationStyle: SymbolDisplayTypeQualificationStyle.NameAndContainingTypesAndNamespaces,
        genericsOptions: SymbolDisplayGenericsOptions.IncludeTypeParameters | SymbolDisplayGenericsOptions.IncludeTypeConstraints | SymbolDisplayGenericsOptions.IncludeVariance,
        memberOptions: SymbolDisplayMemberOptions.IncludeAccessibility | SymbolDisplayMemberOptions.IncludeContainingType | SymbolDisplayMemberOptions.IncludeExplicitInterface
            | SymbolDisplayMemberOptions.IncludeModifiers | SymbolDisplayMemberOptions.IncludeParameters | SymbolDisplayMemberOptions.IncludeRef
            | SymbolDisplayMemberOptions.IncludeType | SymbolDisplayMemberOptions.IncludeConstantValue,
        delegateStyle: SymbolDisplayDelegateStyle.NameAndSignature,
        parameterOptions: SymbolDisplayParameterOptions.IncludeType | SymbolDisplayParameterOptions.IncludeName | SymbolDisplayParameterOptions.IncludeDefaultValue
            | SymbolDisplayParameterOptions.IncludeParamsRefOut | SymbolDisplayParameterOptions.IncludeExtensionThis | SymbolDisplayParameterOptions.IncludeOptionalBrackets,
        propertyStyle: SymbolDisplayPropertyStyle.ShowReadWriteDescriptor,
        kindOptions: SymbolDisplayKindOptions.IncludeMemberKeyword | SymbolDisplayKindOptions.IncludeTypeKeyword | SymbolDisplayKindOptions.IncludeNamespaceKeyword,
        miscellaneousOptions: SymbolDisplayMiscellaneousOptions.EscapeKeywordIdentifiers | SymbolDisplayMiscellaneousOptions.IncludeNullableReferenceTypeModifier);

    /// <summary>
    /// What a file declares for the rest of the compilation, as text: global usings, assembly and module attributes,
    /// and every type it declares with its base types, attributes and all its members' signatures (a partial type's
    /// members in other files included, which is more than needed and never less).
    /// </summary>
    public static string Declarations(Compilation compilation, SyntaxTree tree, CancellationToken cancellationToken)
    {
        var root = (CompilationUnitSyntax)tree.GetRoot(cancellationToken);
        var model = compilation.GetSemanticModel(tree);
        var text = new StringBuilder();
        foreach (var directive in root.Usings.Where(u => u.GlobalKeyword != default))
        {
            text.AppendLine(directive.WithoutTrivia().ToString());
        }

        foreach (var attributes in root.AttributeLists)
        {
            text.AppendLine(attributes.WithoutTrivia().ToString());
        }

        foreach (var node in root.DescendantNodes(n => n is CompilationUnitSyntax or BaseNamespaceDeclarationSyntax or TypeDeclarationSyntax))
        {
            if (node is not (BaseTypeDeclarationSyntax or DelegateDeclarationSyntax) || model.GetDeclaredSymbol(node, cancellationToken) is not INamedTypeSymbol type)
            {
                continue;
            }

            text.Append(type.ToDisplayString(Signature)).Append(" : ").Append(type.BaseType?.ToDisplayString(Signature))
                .Append(string.Join(", ", type.Interfaces.Select(i => i.ToDisplayString(Signature)))).AppendLine(Attributes(type));
            foreach (var member in type.GetMembers().Where(m => m is not INamedTypeSymbol))
            {
                text.Append("  ").Append(member.ToDisplayString(Signature)).AppendLine(Attributes(member));
            }
        }

        return text.ToString();

        static string Attributes(ISymbol symbol) => string.Concat(symbol.GetAttributes().Select(a => " [" + a + "]"));
    }
}
