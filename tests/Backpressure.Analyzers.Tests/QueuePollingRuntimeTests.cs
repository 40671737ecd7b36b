using System.Collections.Concurrent;
using System.Collections.Immutable;
using System.Diagnostics;
using System.Reflection;
using System.Runtime.Loader;
using Backpressure.CodeFixes;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CodeActions;
using Microsoft.CodeAnalysis.CodeFixes;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Text;
using Xunit.Abstractions;

namespace Backpressure.Analyzers.Tests;

/// <summary>
/// The point of BP0003 at run time: the receive loop, and the same source after BP0003's own code fix,
/// compiled here and run against a producer thread enqueuing at a steady rate. Both must deliver the same data in
/// the same order; how long each took is printed, never asserted (docs/benchmarks.md has the measurements).
/// </summary>
public sealed class QueuePollingRuntimeTests(ITestOutputHelper output)
{
    private const string Receiver = """
        using System;
        using System.Collections.Concurrent;
        using System.Threading;

        public sealed class DatagramReceiver
        {
            private readonly ConcurrentQueue<byte[]> _incoming = new();

            public void OnDatagram(byte[] datagram)
            {
                _incoming.Enqueue(datagram);
            }

            public int Receive(byte[] buffer, int timeoutMs)
            {
                var waited = 0;
                while (true)
                {
                    if (_incoming.TryDequeue(out var datagram))
                    {
                        Array.Copy(datagram, buffer, datagram.Length);
                        return datagram.Length;
                    }

                    Thread.Sleep(25);
                    waited += 25; if (waited > timeoutMs) return -1;
                }
            }
        }
        """;

    [Fact]
    public async Task TheFixedReceiver_MovesTheSameData_AsThePollingOne()
    {
        var fixedSource = await ApplyBP0003FixAsync(Receiver);
        Assert.Contains("_incomingSignal.Wait(25);", fixedSource, StringComparison.Ordinal);
        Assert.Contains("_incomingSignal.Release();", fixedSource, StringComparison.Ordinal);

        var before = Run(Receiver, count: 200);
        var after = Run(fixedSource, count: 200);

        Assert.Equal(before.Received, after.Received);
        Assert.Equal(Enumerable.Range(0, 200), before.Received);
        output.WriteLine($"polling: {before.Elapsed.TotalMilliseconds:F0} ms, median latency {before.MedianLatency.TotalMilliseconds:F2} ms");
        output.WriteLine($"fixed:   {after.Elapsed.TotalMilliseconds:F0} ms, median latency {after.MedianLatency.TotalMilliseconds:F2} ms");
    }

    [Fact]
    public async Task TheFixedReceiver_StillTimesOut_WhenNothingArrives()
    {
        var fixedSource = await ApplyBP0003FixAsync(Receiver);
        var (receiver, _, receive) = Load(fixedSource);

        Assert.Equal(-1, receive(new byte[16], 50));
        GC.KeepAlive(receiver);
    }

    private static async Task<string> ApplyBP0003FixAsync(string source)
    {
        using var workspace = new AdhocWorkspace();
        var project = workspace.AddProject(ProjectInfo.Create(
            ProjectId.CreateNewId(), VersionStamp.Default, "Receiver", "Receiver", LanguageNames.CSharp,
            compilationOptions: new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, nullableContextOptions: NullableContextOptions.Enable),
            parseOptions: new CSharpParseOptions(LanguageVersion.Latest),
            metadataReferences: TestReferences.FrameworkAndRuntime));
        var document = workspace.AddDocument(project.Id, "Receiver.cs", SourceText.From(source));
        var compilation = (await document.Project.GetCompilationAsync())!;
        var diagnostic = Assert.Single(await compilation
            .WithAnalyzers(ImmutableArray.Create<DiagnosticAnalyzer>(new BP0003QueuePollingAnalyzer()))
            .GetAnalyzerDiagnosticsAsync());

        var actions = new List<CodeAction>();
        await new BP0003QueuePollingCodeFix().RegisterCodeFixesAsync(new CodeFixContext(document, diagnostic, (a, _) => actions.Add(a), CancellationToken.None));
        var apply = Assert.Single((await Assert.Single(actions).GetOperationsAsync(CancellationToken.None)).OfType<ApplyChangesOperation>());
        return (await apply.ChangedSolution.GetDocument(document.Id)!.GetTextAsync()).ToString();
    }

    /// <summary>A producer thread enqueues <paramref name="count"/> numbered datagrams about a millisecond apart; this thread receives them.</summary>
    private static (List<int> Received, TimeSpan Elapsed, TimeSpan MedianLatency) Run(string source, int count)
    {
        var (receiver, onDatagram, receive) = Load(source);
        var sentAt = new long[count];
        var producer = new Thread(() =>
        {
            for (var i = 0; i < count; i++)
            {
                var datagram = new byte[64];
                BitConverter.TryWriteBytes(datagram, i);
                sentAt[i] = Stopwatch.GetTimestamp();
                onDatagram(datagram);
                Thread.Sleep(1);
            }
        }) { IsBackground = true };

        var received = new List<int>(count);
        var latencies = new List<TimeSpan>(count);
        var buffer = new byte[64];
        var clock = Stopwatch.StartNew();
        producer.Start();
        while (received.Count < count)
        {
            // A generous timeout: a datagram lost by the fix would show as -1 here, not as a hang.
            var length = receive(buffer, 10_000);
            Assert.Equal(64, length);
            var index = BitConverter.ToInt32(buffer);
            latencies.Add(Stopwatch.GetElapsedTime(Volatile.Read(ref sentAt[index])));
            received.Add(index);
        }

        producer.Join();
        GC.KeepAlive(receiver);
        latencies.Sort();
        return (received, clock.Elapsed, latencies[latencies.Count / 2]);
    }

    private static (object Receiver, Action<byte[]> OnDatagram, Func<byte[], int, int> Receive) Load(string source)
    {
        var compilation = CSharpCompilation.Create(
            "Receiver" + Guid.NewGuid().ToString("N"),
            [CSharpSyntaxTree.ParseText(source, new CSharpParseOptions(LanguageVersion.Latest))],
            TestReferences.FrameworkAndRuntime,
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, nullableContextOptions: NullableContextOptions.Enable));
        using var image = new MemoryStream();
        var emitted = compilation.Emit(image);
        Assert.True(emitted.Success, string.Join(Environment.NewLine, emitted.Diagnostics));

        image.Position = 0;
        var assembly = new AssemblyLoadContext(compilation.AssemblyName, isCollectible: true).LoadFromStream(image);
        var type = assembly.GetType("DatagramReceiver", throwOnError: true)!;
        var receiver = Activator.CreateInstance(type)!;
        return (
            receiver,
            type.GetMethod("OnDatagram")!.CreateDelegate<Action<byte[]>>(receiver),
            type.GetMethod("Receive")!.CreateDelegate<Func<byte[], int, int>>(receiver));
    }
}
