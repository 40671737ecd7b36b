using System.Collections.Immutable;
using Backpressure.Cli;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Text;
using Xunit;

namespace Backpressure.Cli.Tests;

/// <summary>
/// The re-analysis after a fix compiles again only what the fix can have changed. What it reports must be what a
/// whole new analysis reports: these tests edit in-memory projects and compare the two.
/// </summary>
public sealed class ReanalysisTests
{
    private static readonly ImmutableArray<MetadataReference> Framework =
        [.. ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!).Split(Path.PathSeparator)
            .Where(p => Path.GetFileName(p) is "System.Runtime.dll" or "System.Private.CoreLib.dll" or "System.Console.dll" or "System.Threading.dll" or "System.Threading.Tasks.dll")
            .Select(p => MetadataReference.CreateFromFile(p))];

    private const string Library = """
        namespace Lib;

        public class Channel
        {
            public long BufferedAmount { get; set; }

            public void Send(byte[] data) { }

            public int Count() { return 1; }
        }
        """;

    private const string Caller = """
        namespace App;

        public class Caller
        {
            public int Use(Lib.Channel channel) => channel.Count();
        }
        """;

    [Fact]
    public async Task A_body_edit_is_checked_in_its_file_alone_and_finds_the_error_a_whole_analysis_finds()
    {
        // Enough files that one of them is a small share: checked on its own, not in a whole pass.
        var (solution, library, app) = Create([
            ("Lib/Channel.cs", Library, true),
            ("Lib/Other.cs", "namespace Lib; public class Other { public void M() { int unused = 0; } }", true),
            ("App/Caller.cs", Caller, false),
            .. Enumerable.Range(0, 20).Select(i => ($"Lib/Filler{i}.cs", $"namespace Lib; public class Filler{i} {{ public int M() => {i}; }}", true))]);
        var before = await Analysis.AnalyzeAsync(solution, Rule.All, withCompiler: true, CancellationToken.None);

        // A new error in a method body of one file; the other file keeps its old warning (CS0219).
        var after = Edit(solution, library, "Lib/Channel.cs", Library.Replace("return 1;", "return \"one\";"));
        var (scoped, whole) = await RecheckAsync(solution, after, before);

        Assert.Contains(scoped[library].Errors, d => d.Id == "CS0029");
        Assert.Contains(scoped[library].Warnings, d => d.Id == "CS0219");
        AssertSame(whole, scoped);

        // The dependent project saw no declaration change: it keeps its analysis, the very same one.
        Assert.Same(before[app], scoped[app]);
    }

    [Fact]
    public async Task A_changed_declaration_reanalyses_the_dependents_and_finds_what_it_broke_there()
    {
        var (solution, library, app) = Create(("Lib/Channel.cs", Library, true), ("App/Caller.cs", Caller, false));
        var before = await Analysis.AnalyzeAsync(solution, Rule.All, withCompiler: true, CancellationToken.None);

        var after = Edit(solution, library, "Lib/Channel.cs", Library.Replace("public int Count()", "public long Count()"));
        var (scoped, whole) = await RecheckAsync(solution, after, before);

        Assert.Contains(scoped[app].Errors, d => d.Id == "CS0266");
        AssertSame(whole, scoped);
    }

    [Fact]
    public async Task A_dependent_that_changed_a_little_is_checked_whole_when_a_much_changed_dependency_may_have_changed_its_declarations()
    {
        // The library changes most of its files (one whole pass there); the app changes one file of many, which alone
        // would be checked on its own, while its unchanged Caller.cs is what the library's new signature breaks.
        var (solution, library, app) = Create([
            ("Lib/Channel.cs", Library, true),
            ("App/Caller.cs", Caller, false),
            ("App/Changed.cs", "namespace App; public class Changed { public int M() => 1; }", false),
            .. Enumerable.Range(0, 20).Select(i => ($"App/Filler{i}.cs", $"namespace App; public class Filler{i} {{ public int M() => {i}; }}", false))]);
        var before = await Analysis.AnalyzeAsync(solution, Rule.All, withCompiler: true, CancellationToken.None);

        var after = Edit(solution, library, "Lib/Channel.cs", Library.Replace("public int Count()", "public long Count()"));
        after = Edit(after, app, "App/Changed.cs", "namespace App; public class Changed { public int M() => 2; }");
        var (scoped, whole) = await RecheckAsync(solution, after, before);

        Assert.Contains(scoped[app].Errors, d => d.Id == "CS0266");
        AssertSame(whole, scoped);
    }

    [Fact]
    public async Task A_new_member_in_one_file_is_checked_against_the_other_files_of_its_project()
    {
        // Other.cs calls an extension method; the edit adds an instance method of the same name, which wins there.
        var (solution, library, _) = Create(
            ("Lib/Channel.cs", Library, true),
            ("Lib/Other.cs", "namespace Lib; public static class Ext { public static int Drain(this Channel c) => 0; } public class Other { public int M(Channel c) => c.Drain(); }", true),
            ("App/Caller.cs", Caller, false));
        var before = await Analysis.AnalyzeAsync(solution, Rule.All, withCompiler: true, CancellationToken.None);

        var after = Edit(solution, library, "Lib/Channel.cs", Library.Replace("public int Count()", "public string Drain() => \"\";\n\n    public int Count()"));
        var (scoped, whole) = await RecheckAsync(solution, after, before);

        Assert.Contains(scoped[library].Errors, d => d.Id == "CS0029" && d.Location.SourceTree!.FilePath.EndsWith("Other.cs", StringComparison.Ordinal));
        AssertSame(whole, scoped);
    }

    [Fact]
    public async Task Changed_generator_output_reaches_a_project_that_sees_the_internals()
    {
        // The generator's class is internal, so another project sees it only through InternalsVisibleTo; a body edit
        // (declarations unchanged) that changes the generated type must still send that project to be analysed again.
        var (solution, library, app) = Create(
            new KindGenerator(),
            [
                ("Lib/Channel.cs", Library, true),
                ("Lib/Friends.cs", "[assembly: System.Runtime.CompilerServices.InternalsVisibleTo(\"App\")]", true),
                ("App/Caller.cs", "namespace App; public class Caller { public int Kind() { int kind = Lib.Generated.Kind; return kind; } }", false),
                .. Enumerable.Range(0, 20).Select(i => ($"Lib/Filler{i}.cs", $"namespace Lib; public class Filler{i} {{ public int M() => {i}; }}", true)),
            ]);
        var before = await Analysis.AnalyzeAsync(solution, Rule.All, withCompiler: true, CancellationToken.None);
        Assert.Empty(before[app].Errors);

        var after = Edit(solution, library, "Lib/Channel.cs", Library.Replace("return 1;", $"return 1; {KindGenerator.StringMarker}"));
        var (scoped, whole) = await RecheckAsync(solution, after, before);

        Assert.Contains(scoped[app].Errors, d => d.Id == "CS0029");
        AssertSame(whole, scoped);
    }

    [Theory]
    [InlineData("public void M() { Send(); } void Send() { }", "public void M() { } void Send() { }", true)]
    [InlineData("public void M() { }", "public void M() { } private int _added;", false)]
    [InlineData("public void M(Stream s) { }", "public void M(Stream s) { }", false)]
    [InlineData("public const int Limit = 1;", "public const int Limit = 2;", false)]
    public void Declarations_differ_exactly_when_what_other_files_can_see_differs(string before, string after, bool same)
    {
        // The third case adds a using that makes the parameter's type another type of the same name.
        var usingsAfter = before.Contains("Stream", StringComparison.Ordinal) ? "using System.IO;\nusing Other;\n" : "using System.IO;\n";
        var old = CSharpCompilation.Create("a", [Parse("using System.IO;\n", before)], Framework);
        var @new = CSharpCompilation.Create("a", [Parse(usingsAfter, after)], Framework);

        var equal = Reanalysis.Declarations(old, old.SyntaxTrees.First(), CancellationToken.None) == Reanalysis.Declarations(@new, @new.SyntaxTrees.First(), CancellationToken.None);

        Assert.Equal(same, equal);

        static SyntaxTree Parse(string usings, string members) => CSharpSyntaxTree.ParseText(
            $"{usings}namespace Other {{ public class Stream {{ }} }}\nnamespace N {{ public class C {{ {members} }} }}", path: "C.cs");
    }

    /// <summary>The scoped re-check of <paramref name="after"/>, and a whole analysis of it to hold it against.</summary>
    private static async Task<(ImmutableDictionary<ProjectId, ProjectAnalysis> Scoped, ImmutableDictionary<ProjectId, ProjectAnalysis> Whole)> RecheckAsync(
        Solution solution, Solution after, ImmutableDictionary<ProjectId, ProjectAnalysis> before) =>
        (await Reanalysis.AnalyzeAsync(solution, after, before, Rule.All, CancellationToken.None),
         await Analysis.AnalyzeAsync(after, Rule.All, withCompiler: true, CancellationToken.None));

    private static void AssertSame(ImmutableDictionary<ProjectId, ProjectAnalysis> expected, ImmutableDictionary<ProjectId, ProjectAnalysis> actual)
    {
        Assert.Equal(expected.Keys.OrderBy(k => k.Id), actual.Keys.OrderBy(k => k.Id));
        foreach (var (id, analysis) in expected)
        {
            Assert.Equal(Keys(analysis.Errors), Keys(actual[id].Errors));
            Assert.Equal(Keys(analysis.Warnings), Keys(actual[id].Warnings));
            Assert.Equal(Keys(analysis.Findings), Keys(actual[id].Findings));
        }

        static List<string> Keys(ImmutableArray<Diagnostic> diagnostics) =>
            [.. diagnostics.Select(d => $"{d.Id} {d.Location.GetLineSpan()} {d.GetMessage()}").OrderBy(k => k, StringComparer.Ordinal)];
    }

    private static (Solution Solution, ProjectId Library, ProjectId App) Create(params (string Path, string Text, bool InLibrary)[] files) =>
        Create(libraryGenerator: null, files);

    private static (Solution Solution, ProjectId Library, ProjectId App) Create(IIncrementalGenerator? libraryGenerator, (string Path, string Text, bool InLibrary)[] files)
    {
        var workspace = new AdhocWorkspace();
        var library = ProjectId.CreateNewId("Lib");
        var app = ProjectId.CreateNewId("App");
        var options = new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary);
        var solution = workspace.CurrentSolution
            .AddProject(ProjectInfo.Create(library, VersionStamp.Default, "Lib", "Lib", LanguageNames.CSharp, compilationOptions: options, metadataReferences: Framework,
                analyzerReferences: libraryGenerator is null ? [] : [new GeneratorReference(libraryGenerator)]))
            .AddProject(ProjectInfo.Create(app, VersionStamp.Default, "App", "App", LanguageNames.CSharp, compilationOptions: options, metadataReferences: Framework, projectReferences: [new ProjectReference(library)]));
        foreach (var (path, text, inLibrary) in files)
        {
            solution = solution.AddDocument(DocumentId.CreateNewId(inLibrary ? library : app), Path.GetFileName(path), SourceText.From(text), filePath: "/src/" + path);
        }

        return (solution, library, app);
    }

    private static Solution Edit(Solution solution, ProjectId project, string path, string text) =>
        solution.WithDocumentText(solution.GetProject(project)!.Documents.Single(d => d.FilePath == "/src/" + path).Id, SourceText.From(text), PreservationMode.PreserveIdentity);

    /// <summary>
    /// Declares <c>internal static class Lib.Generated</c> with a <c>Kind</c> property: an <c>int</c>, or a
    /// <c>string</c> once any file of the project contains <see cref="StringMarker"/> (in a method body, say).
    /// </summary>
    private sealed class KindGenerator : IIncrementalGenerator
    {
        public const string StringMarker = "/* kind: string */";

        public void Initialize(IncrementalGeneratorInitializationContext context) =>
            context.RegisterSourceOutput(context.CompilationProvider, static (output, compilation) =>
            {
                var type = compilation.SyntaxTrees.Any(t => t.GetText().ToString().Contains(StringMarker, StringComparison.Ordinal)) ? "string" : "int";
                output.AddSource("Generated.g.cs", $"namespace Lib; internal static class Generated {{ public static {type} Kind => default; }}");
            });
    }

    /// <summary>Hands an in-memory generator to a workspace project, as a package's analyzer assembly would.</summary>
    private sealed class GeneratorReference(IIncrementalGenerator generator) : AnalyzerReference
    {
        // One wrapper for every call: the generator driver knows a generator by its instance.
        private readonly ImmutableArray<ISourceGenerator> _generators = [generator.AsSourceGenerator()];

        public override string? FullPath => null;

        public override object Id => generator;

        public override ImmutableArray<DiagnosticAnalyzer> GetAnalyzers(string language) => [];

        public override ImmutableArray<DiagnosticAnalyzer> GetAnalyzersForAllLanguages() => [];

        public override ImmutableArray<ISourceGenerator> GetGenerators(string language) => _generators;
    }
}
