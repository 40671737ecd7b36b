using System.Collections.Concurrent;
using System.Collections.Immutable;
using Backpressure.Analyzers.Adapters;
using Backpressure.CodeFixes;
using CsCheck;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CodeActions;
using Microsoft.CodeAnalysis.CodeFixes;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Text;
using Xunit.Abstractions;

namespace Backpressure.Analyzers.Tests;

/// <summary>
/// The analyzer, its fix and the adapter generator on broken code: every shape, mutated by token deletions,
/// duplications, swaps, truncation and junk. Nothing may throw (AD0001), the analyzer reports the same with and
/// without concurrent execution, and no fix, single or fix-all for any equivalence key, may leave a document
/// that parses worse than the one it was given. BP0001_ROBUSTNESS_CASES raises the count.
/// </summary>
public sealed class RobustnessTests(ITestOutputHelper output)
{
    private static readonly string[] Seeds =
    [
        """
        using System.Threading; using System.Threading.Tasks; using SIPSorcery.Net; using Acme.Transport;
        class A
        {
            async Task F(RTCDataChannel dc, MessageChannel ch, CancellationToken t)
            {
                while (dc.bufferedAmount > 65536) { await Task.Delay(50, t).ConfigureAwait(false); }
                do { Thread.Sleep(1); } while (ch.BufferedAmount >= 10);
                var q = ch.BufferedAmount;
                while (q > 8) { await Task.Yield(); q = ch.BufferedAmount; }
                SpinWait.SpinUntil(() => ch.BufferedAmount < 4096);
            }
        }
        """,
        """
        using System; using System.Threading.Tasks; using SIPSorcery.Net;
        class B
        {
            RTCDataChannel dc = new(); byte[] buffer = new byte[100]; int offset;
            void SendChunk()
            {
                while (offset < buffer.Length)
                {
                    if (dc.bufferedAmount > dc.bufferedAmountLowThreshold) { Task.Delay(50).ContinueWith(_ => SendChunk()); return; }
                    dc.send(buffer, offset, 10); offset += 10;
                }
            }
        }
        """,
        """
        using System; using System.Threading; using System.Threading.Tasks; using Acme.Transport;
        class C
        {
            async Task G(MessageChannel channel, byte[] data, CancellationToken ct)
            {
                var offset = 0;
                while (offset < data.Length)
                {
                    if (channel.BufferedAmount > 65536) { await Task.Delay(50); continue; }
                    channel.Send(data.AsMemory(offset, 10)); offset += 10;
                }
                using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(10));
                while (await timer.WaitForNextTickAsync(ct)) { if (channel.BufferedAmount > 1) continue; break; }
            }
        }
        """,
        """
        using System.Threading; using System.Threading.Tasks; using Backpressure; using Acme.Transport;
        class D
        {
            Timer timer; FieldChannel f = new();
            async Task H(IBufferedChannel channel) { while (!(channel.BufferedAmount <= 100)) await Task.Delay(1); }
            void I() { if (f.BufferedAmount > 5) { timer.Change(50, Timeout.Infinite); return; } }
            async Task J(MessageChannel m, TaskCompletionSource s) { while (m.BufferedAmount > 1) await Task.WhenAny(s.Task, Task.Delay(5)); }
        }
        """,
        """
        using System.Threading; using System.Threading.Tasks; using Backpressure; using SIPSorcery.Net; using Acme.Transport;
        class E
        {
            async Task K(RTCDataChannel dc, MessageChannel m, object o)
            {
                var a = dc.AsBufferedChannel(); var b = m.AsBufferedChannel(); var c = o.AsBufferedChannel();
                while (a.BufferedAmount > 1024) await Task.Delay(10);
                while (m.BufferedAmount > 8) { await Task.Delay(1); }
                await b.SendAsync(new byte[10]);
            }
        }
        """,
    ];

    private static readonly string[] EquivalenceKeys =
    [
        BP0001BufferedAmountPollingCodeFix.ReplaceWaitEquivalenceKey,
        BP0001BufferedAmountPollingCodeFix.ReplaceSendLoopEquivalenceKey,
        BP0001BufferedAmountPollingCodeFix.BoundedWaitEquivalenceKey,
    ];

    private static readonly string[] QueueSeeds =
    [
        """
        using System; using System.Collections.Concurrent; using System.Collections.Generic; using System.Threading; using System.Threading.Tasks;
        class Q
        {
            private readonly ConcurrentQueue<byte[]> _incoming = new(); private static readonly ConcurrentStack<int> s_stack = new();
            private readonly Queue<int> _locked = new(); private readonly object _gate = new();
            public void On(byte[] d) { _incoming.Enqueue(d); lock (_gate) _locked.Enqueue(d.Length); }
            public static void Push(int i) => s_stack.Push(i);
            int Receive(int timeoutMs)
            {
                var waited = 0;
                while (true) { if (_incoming.TryDequeue(out var d)) return d.Length; Thread.Sleep(25); waited += 25; if (waited > timeoutMs) return -1; }
            }
            async Task Drain(CancellationToken ct) { while (!ct.IsCancellationRequested) { while (s_stack.TryPop(out _)) { } await Task.Delay(10, ct).ConfigureAwait(false); } }
            void L() { for (;;) { lock (_gate) { if (_locked.Count > 0) return; } Thread.Yield(); } }
        }
        """,
        """
        using System.Collections.Concurrent; using System.Net.Sockets; using System.Threading; using System.Threading.Channels; using System.Threading.Tasks;
        class R
        {
            int Take(BlockingCollection<int> jobs) { int j; while (!jobs.TryTake(out j)) Thread.Sleep(20); return j; }
            async Task<int> Read(ChannelReader<int> r) { int v; while (!r.TryRead(out v)) await Task.Delay(5); return v; }
            void S(Socket s) { while (s.Available == 0) Thread.Sleep(1); }
        }
        """,
    ];

    private static readonly string[] Junk = ["{", "}", "(", ")", ";", "await", "while", "if", "=>", ">", "<", "!", ".", "continue", "return", "ch", "Task.Delay(1)"];

    private static int s_generatorRuns;
    private static int s_sourcesGenerated;
    private static int s_fixesOnParsingSources;

    private static int Cases =>
        int.TryParse(Environment.GetEnvironmentVariable("BP0001_ROBUSTNESS_CASES"), out var n) && n > 0 ? n : 300;

    [Fact]
    public async Task Seeds_AreReportedIntact_AndEveryFixOfThemParses()
    {
        foreach (var seed in Seeds)
        {
            var (diagnostics, exceptions) = await AnalyzeAsync(seed, applyFixes: true);
            Assert.Empty(exceptions);
            Assert.Contains(diagnostics, d => d.Id == DiagnosticIds.BufferedAmountPolling);
            Assert.DoesNotContain(CSharpSyntaxTree.ParseText(seed).GetDiagnostics(), d => d.Severity == DiagnosticSeverity.Error);
        }
    }

    [Fact]
    public async Task TheNameSearch_FindsNothingForAnEmptyName_InsteadOfSearchingForever()
    {
        // Found by the mutation test below: a member whose name was still missing, reading an amount, made the name
        // search look for the empty string, which is found at every position, and the analysis never finished.
        var tree = CSharpSyntaxTree.ParseText("class A { long F => ch.BufferedAmount; }");
        var index = NameIndex.Create(tree, CancellationToken.None);
        var search = Task.Run(() => index.Positions(string.Empty));
        Assert.Same(search, await Task.WhenAny(search, Task.Delay(TimeSpan.FromSeconds(30))));
        Assert.Empty(await search);
        Assert.NotEmpty(index.Positions("BufferedAmount"));
    }

    [Fact]
    public async Task MutatedSources_NeverMakeTheAnalyzerGeneratorOrFixesThrow_NorFixesBreakParsing()
    {
        var mutations = Gen.Select(Gen.Int[0, 5], Gen.Int[0, 10_000], Gen.Int[0, Junk.Length - 1]).Array[1, 4];
        var cases = Gen.Select(Gen.Int[0, Seeds.Length - 1], mutations);
        var fixesApplied = 0;
        var fixAllsApplied = 0;
        var diagnosticsSeen = 0;

        await cases.SampleAsync(
            async (seed, edits) =>
            {
                var source = Mutate(Seeds[seed], edits);
                var (diagnostics, exceptions) = await AnalyzeAsync(
                    source, applyFixes: true, onFix: () => Interlocked.Increment(ref fixesApplied), onFixAll: () => Interlocked.Increment(ref fixAllsApplied));
                Interlocked.Add(ref diagnosticsSeen, diagnostics.Length);
                Assert.True(exceptions.IsEmpty, $"threw on:\n{source}\n{string.Join("\n", exceptions)}");
                Assert.DoesNotContain(diagnostics, d => d.Id == "AD0001");
            },
            iter: Cases,
            threads: 1);

        output.WriteLine(
            $"{Cases} mutated sources, {diagnosticsSeen} BP0001 reports, {fixesApplied} fixes and {fixAllsApplied} fix-alls applied, " +
            $"{Volatile.Read(ref s_fixesOnParsingSources)} fixes on sources that parse, " +
            $"{Volatile.Read(ref s_generatorRuns)} generator runs writing {Volatile.Read(ref s_sourcesGenerated)} sources, no exception.");
    }

    [Fact]
    public async Task QueueSeeds_AreReportedIntact_ByBP0003()
    {
        foreach (var seed in QueueSeeds)
        {
            var (diagnostics, exceptions) = await AnalyzeAsync(seed, QueuePolling);
            Assert.Empty(exceptions);
            Assert.Contains(diagnostics, d => d.Id == DiagnosticIds.QueuePolling);
        }
    }

    [Fact]
    public async Task MutatedQueueSources_NeverMakeBP0003OrItsFixThrow()
    {
        var mutations = Gen.Select(Gen.Int[0, 5], Gen.Int[0, 10_000], Gen.Int[0, Junk.Length - 1]).Array[1, 4];
        var cases = Gen.Select(Gen.Int[0, QueueSeeds.Length - 1], mutations);
        await cases.SampleAsync(
            async (seed, edits) =>
            {
                var source = Mutate(QueueSeeds[seed], edits);
                var (diagnostics, exceptions) = await AnalyzeAsync(source, QueuePolling, applyFixes: true);
                Assert.True(exceptions.IsEmpty, $"threw on:\n{source}\n{string.Join("\n", exceptions)}");
                Assert.DoesNotContain(diagnostics, d => d.Id == "AD0001");
            },
            iter: Cases / 2,
            threads: 1);
    }

    private static readonly (DiagnosticAnalyzer Analyzer, CodeFixProvider Fix, string Id) BufferedAmount =
        (new BP0001BufferedAmountPollingAnalyzer(), new BP0001BufferedAmountPollingCodeFix(), DiagnosticIds.BufferedAmountPolling);

    private static readonly (DiagnosticAnalyzer Analyzer, CodeFixProvider Fix, string Id) QueuePolling =
        (new BP0003QueuePollingAnalyzer(), new BP0003QueuePollingCodeFix(), DiagnosticIds.QueuePolling);

    private static string Mutate(string seed, (int Kind, int Position, int Junk)[] edits)
    {
        var tokens = CSharpSyntaxTree.ParseText(seed).GetRoot().DescendantTokens().Select(t => t.ToFullString()).ToList();
        foreach (var (kind, position, junk) in edits)
        {
            if (tokens.Count == 0)
            {
                break;
            }

            var i = position % tokens.Count;
            switch (kind)
            {
                case 0: tokens.RemoveAt(i); break;
                case 1: tokens.Insert(i, tokens[i]); break;
                case 2 when i + 1 < tokens.Count: (tokens[i], tokens[i + 1]) = (tokens[i + 1], tokens[i]); break;
                case 3: tokens.RemoveRange(i, tokens.Count - i); break;
                default: tokens.Insert(i, " " + Junk[junk] + " "); break;
            }
        }

        return string.Concat(tokens);
    }

    private static Task<(ImmutableArray<Diagnostic> Diagnostics, ConcurrentQueue<Exception> Exceptions)> AnalyzeAsync(
        string source, bool applyFixes = false, Action? onFix = null, Action? onFixAll = null) => AnalyzeAsync(source, BufferedAmount, applyFixes, onFix, onFixAll);

    private static async Task<(ImmutableArray<Diagnostic> Diagnostics, ConcurrentQueue<Exception> Exceptions)> AnalyzeAsync(
        string source, (DiagnosticAnalyzer Analyzer, CodeFixProvider Fix, string Id) rule, bool applyFixes = false, Action? onFix = null, Action? onFixAll = null)
    {
        using var workspace = new AdhocWorkspace();
        var project = workspace.AddProject(ProjectInfo.Create(
            ProjectId.CreateNewId(), VersionStamp.Default, "Mutant", "Mutant", LanguageNames.CSharp,
            compilationOptions: new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary),
            parseOptions: new CSharpParseOptions(LanguageVersion.Latest),
            metadataReferences: TestReferences.All));
        var document = workspace.AddDocument(project.Id, "Mutant.cs", SourceText.From(source));
        var compilation = (await document.Project.GetCompilationAsync())!;

        var exceptions = new ConcurrentQueue<Exception>();
        var diagnostics = await RunAnalyzerAsync(compilation, rule.Analyzer, exceptions, concurrent: false);

        if (applyFixes)
        {
            // The analyzer enables concurrent execution: with it on, it must neither throw nor report differently.
            var concurrent = await RunAnalyzerAsync(compilation, rule.Analyzer, exceptions, concurrent: true);
            Assert.True(
                Describe(diagnostics).SequenceEqual(Describe(concurrent)),
                $"concurrent analysis reported differently on:\n{source}\nsequential: {string.Join("; ", Describe(diagnostics))}\nconcurrent: {string.Join("; ", Describe(concurrent))}");
            RunGenerator(compilation, exceptions, source);
        }

        if (applyFixes)
        {
            var fix = rule.Fix;
            foreach (var diagnostic in diagnostics.Where(d => d.Id == rule.Id))
            {
                try
                {
                    var actions = new List<CodeAction>();
                    await fix.RegisterCodeFixesAsync(new CodeFixContext(document, diagnostic, (a, _) => actions.Add(a), CancellationToken.None));
                    foreach (var action in actions)
                    {
                        foreach (var operation in await action.GetOperationsAsync(CancellationToken.None))
                        {
                            if (operation is ApplyChangesOperation apply)
                            {
                                await AssertParsesAsync(apply.ChangedSolution.GetDocument(document.Id)!, source, action.EquivalenceKey, exceptions);
                                onFix?.Invoke();
                            }
                        }
                    }
                }
                catch (Exception ex)
                {
                    exceptions.Enqueue(ex);
                }
            }
        }

        if (applyFixes && rule.Id == DiagnosticIds.BufferedAmountPolling)
        {
            await FixAllAsync(document, diagnostics, source, exceptions, onFixAll);
        }

        return (diagnostics, exceptions);
    }

    private static async Task<ImmutableArray<Diagnostic>> RunAnalyzerAsync(Compilation compilation, DiagnosticAnalyzer analyzer, ConcurrentQueue<Exception> exceptions, bool concurrent)
    {
        var options = new CompilationWithAnalyzersOptions(
            new AnalyzerOptions(ImmutableArray<AdditionalText>.Empty), (ex, _, _) => exceptions.Enqueue(ex), concurrentAnalysis: concurrent, logAnalyzerExecutionTime: false);
        return await compilation
            .WithAnalyzers(ImmutableArray.Create(analyzer), options)
            .GetAnalyzerDiagnosticsAsync();
    }

    private static IEnumerable<string> Describe(ImmutableArray<Diagnostic> diagnostics) =>
        diagnostics.Select(d => $"{d.Id} {d.Location.SourceSpan} {d.GetMessage()}").OrderBy(d => d, StringComparer.Ordinal);

    /// <summary>Runs the adapter generator; it must not throw, and what it writes must parse.</summary>
    private static void RunGenerator(Compilation compilation, ConcurrentQueue<Exception> exceptions, string source)
    {
        var driver = CSharpGeneratorDriver.Create(new ChannelAdapterGenerator())
            .RunGeneratorsAndUpdateCompilation(compilation, out _, out var generatorDiagnostics);
        Interlocked.Increment(ref s_generatorRuns);
        foreach (var result in driver.GetRunResult().Results)
        {
            if (result.Exception is { } ex)
            {
                exceptions.Enqueue(ex);
            }

            foreach (var generated in result.GeneratedSources)
            {
                Interlocked.Increment(ref s_sourcesGenerated);
                var errors = generated.SyntaxTree.GetDiagnostics().Where(d => d.Severity == DiagnosticSeverity.Error).ToList();
                Assert.True(errors.Count == 0, $"generated {generated.HintName} does not parse ({string.Join("; ", errors)}) for:\n{source}\n{generated.SourceText}");
            }
        }

        // CS8784/CS8785: the compiler's report of a generator that threw.
        Assert.DoesNotContain(generatorDiagnostics, d => d.Id is "CS8784" or "CS8785" or "AD0001");
    }

    /// <summary>Fix-all at document scope for every equivalence key, through the fix's own provider.</summary>
    private static async Task FixAllAsync(
        Document document, ImmutableArray<Diagnostic> diagnostics, string source, ConcurrentQueue<Exception> exceptions, Action? onFixAll)
    {
        var fix = new BP0001BufferedAmountPollingCodeFix();
        var reported = diagnostics.Where(d => d.Id == DiagnosticIds.BufferedAmountPolling).ToImmutableArray();
        if (reported.IsEmpty)
        {
            return;
        }

        foreach (var key in EquivalenceKeys)
        {
            try
            {
                var context = new FixAllContext(
                    document, fix, FixAllScope.Document, key, [DiagnosticIds.BufferedAmountPolling], new FixedDiagnostics(reported), CancellationToken.None);
                if (await fix.GetFixAllProvider().GetFixAsync(context) is not { } action)
                {
                    continue;
                }

                foreach (var operation in await action.GetOperationsAsync(CancellationToken.None))
                {
                    if (operation is ApplyChangesOperation apply)
                    {
                        await AssertParsesAsync(apply.ChangedSolution.GetDocument(document.Id)!, source, $"fix-all {key}", exceptions);
                        onFixAll?.Invoke();
                    }
                }
            }
            catch (Exception ex) when (ex is not Xunit.Sdk.XunitException)
            {
                exceptions.Enqueue(ex);
            }
        }
    }

    /// <summary>
    /// A fix applied to a source that parses leaves a document that parses. A source already broken is only required
    /// to stay parseable text: a rewritten statement may glue to a broken neighbour (junk "ch" before a replaced
    /// <c>while</c> reads as "ch await ..." afterwards), as any IDE fix does there. The generator then runs on the fixed
    /// project, whose new calls it may adapt.
    /// </summary>
    private static async Task AssertParsesAsync(Document fixedDocument, string source, string? fix, ConcurrentQueue<Exception> exceptions)
    {
        var text = (await fixedDocument.GetTextAsync()).ToString();
        static int Errors(string code) => CSharpSyntaxTree.ParseText(code, new CSharpParseOptions(LanguageVersion.Latest))
            .GetDiagnostics().Count(d => d.Severity == DiagnosticSeverity.Error);
        var before = Errors(source);
        var after = Errors(text);
        if (before == 0)
        {
            Interlocked.Increment(ref s_fixesOnParsingSources);
            Assert.True(after == 0, $"{fix} left {after} syntax errors in a source that parsed:\n--- source\n{source}\n--- fixed\n{text}");
        }

        if (await fixedDocument.Project.GetCompilationAsync() is { } compilation)
        {
            RunGenerator(compilation, exceptions, text);
        }
    }

    private sealed class FixedDiagnostics(ImmutableArray<Diagnostic> diagnostics) : FixAllContext.DiagnosticProvider
    {
        public override Task<IEnumerable<Diagnostic>> GetAllDiagnosticsAsync(Project project, CancellationToken cancellationToken) =>
            Task.FromResult<IEnumerable<Diagnostic>>(diagnostics);

        public override Task<IEnumerable<Diagnostic>> GetDocumentDiagnosticsAsync(Document document, CancellationToken cancellationToken) =>
            Task.FromResult<IEnumerable<Diagnostic>>(diagnostics);

        public override Task<IEnumerable<Diagnostic>> GetProjectDiagnosticsAsync(Project project, CancellationToken cancellationToken) =>
            Task.FromResult<IEnumerable<Diagnostic>>([]);
    }
}
