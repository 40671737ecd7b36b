using System.Collections.Concurrent;
using System.Collections.Immutable;
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
/// The analyzer and its fix on broken code: every shape, mutated by token deletions, duplications,
/// swaps, truncation and junk. Neither may throw (AD0001). BP0001_ROBUSTNESS_CASES raises the count.
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

    private static int Cases =>
        int.TryParse(Environment.GetEnvironmentVariable("BP0001_ROBUSTNESS_CASES"), out var n) && n > 0 ? n : 300;

    [Fact]
    public async Task Seeds_AreReportedIntact_SoTheMutationsStartFromRealSites()
    {
        foreach (var seed in Seeds)
        {
            var (diagnostics, exceptions) = await AnalyzeAsync(seed);
            Assert.Empty(exceptions);
            Assert.Contains(diagnostics, d => d.Id == DiagnosticIds.BufferedAmountPolling);
        }
    }

    [Fact]
    public async Task MutatedSources_NeverMakeTheAnalyzerOrTheFixThrow()
    {
        var mutations = Gen.Select(Gen.Int[0, 5], Gen.Int[0, 10_000], Gen.Int[0, Junk.Length - 1]).Array[1, 4];
        var cases = Gen.Select(Gen.Int[0, Seeds.Length - 1], mutations);
        var fixesApplied = 0;
        var diagnosticsSeen = 0;

        await cases.SampleAsync(
            async (seed, edits) =>
            {
                var source = Mutate(Seeds[seed], edits);
                var (diagnostics, exceptions) = await AnalyzeAsync(source, applyFixes: true, onFix: () => Interlocked.Increment(ref fixesApplied));
                Interlocked.Add(ref diagnosticsSeen, diagnostics.Length);
                Assert.True(exceptions.IsEmpty, $"threw on:\n{source}\n{string.Join("\n", exceptions)}");
                Assert.DoesNotContain(diagnostics, d => d.Id == "AD0001");
            },
            iter: Cases,
            threads: 1);

        output.WriteLine($"{Cases} mutated sources, {diagnosticsSeen} BP0001 reports, {fixesApplied} fixes applied, no exception.");
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
        string source, bool applyFixes = false, Action? onFix = null) => AnalyzeAsync(source, BufferedAmount, applyFixes, onFix);

    private static async Task<(ImmutableArray<Diagnostic> Diagnostics, ConcurrentQueue<Exception> Exceptions)> AnalyzeAsync(
        string source, (DiagnosticAnalyzer Analyzer, CodeFixProvider Fix, string Id) rule, bool applyFixes = false, Action? onFix = null)
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
        var options = new CompilationWithAnalyzersOptions(
            new AnalyzerOptions(ImmutableArray<AdditionalText>.Empty), (ex, _, _) => exceptions.Enqueue(ex), concurrentAnalysis: false, logAnalyzerExecutionTime: false);
        var diagnostics = await compilation
            .WithAnalyzers(ImmutableArray.Create(rule.Analyzer), options)
            .GetAnalyzerDiagnosticsAsync();

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
                                _ = await apply.ChangedSolution.GetDocument(document.Id)!.GetTextAsync();
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

        return (diagnostics, exceptions);
    }
}
