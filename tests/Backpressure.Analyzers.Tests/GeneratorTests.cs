using System.Collections.Immutable;
using System.Reflection;
using System.Runtime.Loader;
using Backpressure.Analyzers.Adapters;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

namespace Backpressure.Analyzers.Tests;

/// <summary>
/// The generated adapters, compiled and run: behaving fakes with SIPSorcery's public surface (no low
/// event), a W3C-shaped channel with the event, and a PascalCase custom transport, each driven through
/// <c>AsBufferedChannel()</c> and the runtime's sender.
/// </summary>
public sealed class GeneratorTests
{
    private const string Channels = """
        using System;
        using System.Collections.Generic;
        using System.Threading;

        namespace SIPSorcery.Net
        {
            public enum RTCDataChannelState { connecting, open, closing, closed }
            public enum DataChannelPayloadProtocols { WebRTC_String = 51, WebRTC_Binary = 53 }
            public delegate void OnDataChannelMessageDelegate(RTCDataChannel dc, DataChannelPayloadProtocols protocol, byte[] data);

            /// <summary>SIPSorcery's public surface, with test behaviour: no low event, drops data sent while not open.</summary>
            public class RTCDataChannel
            {
                private readonly object _lock = new();
                private readonly List<byte> _sent = new();
                private ulong _buffered;
                private ulong _peak;

                public RTCDataChannelState readyState { get; set; } = RTCDataChannelState.open;
                public ulong bufferedAmount { get { lock (_lock) { return _buffered; } } }
                public ulong bufferedAmountLowThreshold { get; set; }
                public string label => "test";
                public ushort? id => 1;
                public event Action? onopen;
                public event Action? onclose;
                public event Action<string>? onerror;
                public event OnDataChannelMessageDelegate? onmessage;

                public void send(string message) { }

                public void send(byte[] data, int offset = 0, int count = -1)
                {
                    if (readyState != RTCDataChannelState.open) { return; } // SIPSorcery only logs
                    lock (_lock)
                    {
                        for (var i = 0; i < count; i++) { _sent.Add(data[offset + i]); }
                        _buffered += (ulong)count;
                        _peak = Math.Max(_peak, _buffered);
                    }
                }

                public void close() { readyState = RTCDataChannelState.closed; onclose?.Invoke(); }

                public void Drain(ulong bytes) { lock (_lock) { _buffered -= Math.Min(bytes, _buffered); } }
                public void RaiseError(string message) => onerror?.Invoke(message);
                public byte[] Sent() { lock (_lock) { return _sent.ToArray(); } }
                public ulong Peak { get { lock (_lock) { return _peak; } } }
                public int Subscribers => (onclose?.GetInvocationList().Length ?? 0) + (onerror?.GetInvocationList().Length ?? 0) + (onopen?.GetInvocationList().Length ?? 0) + (onmessage?.GetInvocationList().Length ?? 0);
            }
        }

        namespace W3C
        {
            /// <summary>A W3C-shaped wrapper that has the low event (camelCase, Action delegates).</summary>
            public sealed class DataChannel
            {
                private readonly object _lock = new();
                private long _buffered;
                public long bufferedAmount { get { lock (_lock) { return _buffered; } } }
                public long bufferedAmountLowThreshold { get; set; }
                public string readyState => "open"; // a string, not an enum: the adapter falls back to the close event
                public event Action? onbufferedamountlow;
                public event Action? onclose;
                public int LowSubscribers => onbufferedamountlow?.GetInvocationList().Length ?? 0;
                public int LowEventsRaised;
                public long Received;

                public void send(byte[] data) { lock (_lock) { _buffered += data.Length; Received += data.Length; } }

                public void Drain(long bytes)
                {
                    bool crossed;
                    lock (_lock)
                    {
                        var before = _buffered;
                        _buffered = Math.Max(0, before - bytes);
                        crossed = before > bufferedAmountLowThreshold && _buffered <= bufferedAmountLowThreshold;
                    }

                    if (crossed) { Interlocked.Increment(ref LowEventsRaised); onbufferedamountlow?.Invoke(); }
                }
            }
        }

        namespace Acme
        {
            public enum LinkState { Connecting, Open, Closing, Closed }

            /// <summary>A .NET-style custom transport.</summary>
            public sealed class Link
            {
                private readonly object _lock = new();
                private long _buffered;
                public long BufferedAmount { get { lock (_lock) { return _buffered; } } }
                public long BufferedAmountLowThreshold { get; set; }
                public LinkState State { get; set; } = LinkState.Open;
                public int MaxMessageSize => 1000;
                public event EventHandler? BufferedAmountLow;
                public event EventHandler? Closed;
                public event EventHandler<Exception>? Error;
                public int LargestMessage;
                public long Received;

                public void Send(ReadOnlyMemory<byte> message)
                {
                    lock (_lock) { _buffered += message.Length; Received += message.Length; LargestMessage = Math.Max(LargestMessage, message.Length); }
                }

                public void Drain(long bytes)
                {
                    bool crossed;
                    lock (_lock)
                    {
                        var before = _buffered;
                        _buffered = Math.Max(0, before - bytes);
                        crossed = before > BufferedAmountLowThreshold && _buffered <= BufferedAmountLowThreshold;
                    }

                    if (crossed) { BufferedAmountLow?.Invoke(this, EventArgs.Empty); }
                }

                public void Fail(Exception error) { Error?.Invoke(this, error); State = LinkState.Closed; Closed?.Invoke(this, EventArgs.Empty); }
            }
        }
        """;

    private const string Scenarios = """
        using System;
        using System.Linq;
        using System.Threading;
        using System.Threading.Tasks;
        using Backpressure;

        public static class Scenario
        {
            private static readonly BackpressureOptions Small = new(chunkSize: 4096, lowThreshold: 16384, highWatermark: 32768);

            private static byte[] Payload(int length) { var bytes = new byte[length]; new Random(7).NextBytes(bytes); return bytes; }

            /// <summary>Drains in the background, as a transport's own thread would, until the token fires.</summary>
            private static Task Pump(Action<int> drain, CancellationToken stop) => Task.Run(async () =>
            {
                while (!stop.IsCancellationRequested) { drain(8192); await Task.Delay(1); }
            });

            public static async Task<string> SipsorcerySendCompletes_OnTheFallback()
            {
                var dc = new SIPSorcery.Net.RTCDataChannel();
                var channel = dc.AsBufferedChannel();
                var payload = Payload(512 * 1024);
                using var stop = new CancellationTokenSource();
                var pump = Pump(n => dc.Drain((ulong)n), stop.Token);
                await channel.SendAsync(payload, Small);
                stop.Cancel();
                await pump;
                return $"event:{channel.SupportsBufferedAmountLowEvent} same:{dc.Sent().SequenceEqual(payload)} peakOk:{dc.Peak <= 32768 + 4096} threshold:{dc.bufferedAmountLowThreshold}";
            }

            public static async Task<string> SipsorceryCloseFaults()
            {
                var dc = new SIPSorcery.Net.RTCDataChannel();
                var send = dc.AsBufferedChannel().SendAsync(Payload(512 * 1024), Small); // nothing drains: it parks
                await Task.Delay(20);
                dc.close();
                try { await send; return "completed"; }
                catch (ChannelClosedException ex) { return $"closed:{ex.BytesSent} subscribers:{dc.Subscribers}"; }
            }

            public static async Task<string> SipsorceryErrorFaults()
            {
                var dc = new SIPSorcery.Net.RTCDataChannel();
                var send = dc.AsBufferedChannel().SendAsync(Payload(512 * 1024), Small);
                await Task.Delay(20);
                dc.RaiseError("DTLS alert");
                try { await send; return "completed"; }
                catch (ChannelErrorException ex) { return $"error:{ex.ChannelError}"; }
            }

            public static async Task<string> SipsorceryClosingIsAFailure_NotASilentDrop()
            {
                var dc = new SIPSorcery.Net.RTCDataChannel { readyState = SIPSorcery.Net.RTCDataChannelState.closing };
                try { await dc.AsBufferedChannel().SendAsync(Payload(1000)); return "completed"; }
                catch (ChannelClosedException ex) { return $"closed:{ex.BytesSent} sent:{dc.Sent().Length}"; }
            }

            public static Task<string> OneAdapterPerChannel_AndDetachedOnClose()
            {
                var dc = new SIPSorcery.Net.RTCDataChannel();
                var first = dc.AsBufferedChannel();
                var second = dc.AsBufferedChannel();
                var before = dc.Subscribers;
                dc.close();
                return Task.FromResult($"same:{ReferenceEquals(first, second)} before:{before} after:{dc.Subscribers} state:{first.State}");
            }

            public static async Task<string> W3CChannel_UsesItsLowEvent()
            {
                var dc = new W3C.DataChannel();
                var channel = dc.AsBufferedChannel();
                using var stop = new CancellationTokenSource();
                var send = channel.SendAsync(Payload(256 * 1024), Small);
                await Task.Delay(20);
                var subscribedDuring = dc.LowSubscribers;
                var pump = Pump(n => dc.Drain(n), stop.Token);
                await send;
                stop.Cancel();
                await pump;
                return $"event:{channel.SupportsBufferedAmountLowEvent} subscribed:{subscribedDuring} raised:{dc.LowEventsRaised > 0} received:{dc.Received} state:{channel.State}";
            }

            public static async Task<string> PascalCaseTransport_SendsWithinItsMaxMessageSize_AndReportsErrors()
            {
                var link = new Acme.Link();
                var channel = link.AsBufferedChannel();
                using var stop = new CancellationTokenSource();
                var pump = Pump(n => link.Drain(n), stop.Token);
                await channel.SendAsync(Payload(200_000), Small);
                stop.Cancel();
                await pump;
                var sent = link.Received;

                var failing = channel.SendAsync(Payload(200_000), Small);
                await Task.Delay(20);
                link.Fail(new InvalidOperationException("link down"));
                try { await failing; return "completed"; }
                catch (ChannelErrorException ex) { return $"received:{sent} largest:{link.LargestMessage} max:{channel.MaxMessageSize} error:{ex.ChannelError}"; }
            }
        }
        """;

    [Fact]
    public async Task Sipsorcery_SendCompletes_ThroughTheGeneratedAdapter_PacedByTheFallback() =>
        Assert.Equal("event:False same:True peakOk:True threshold:16384", await RunScenario("SipsorcerySendCompletes_OnTheFallback"));

    [Fact]
    public async Task Sipsorcery_CloseFaultsTheSend_AndTheAdapterLetsGoOfTheChannel() =>
        Assert.Equal("closed:36864 subscribers:0", await RunScenario("SipsorceryCloseFaults"));

    [Fact]
    public async Task Sipsorcery_ErrorFaultsTheSend_WithTheChannelsMessage() =>
        Assert.Equal("error:DTLS alert", await RunScenario("SipsorceryErrorFaults"));

    [Fact]
    public async Task Sipsorcery_ClosingState_IsATypedFailure_NotASilentDrop() =>
        Assert.Equal("closed:0 sent:0", await RunScenario("SipsorceryClosingIsAFailure_NotASilentDrop"));

    [Fact]
    public async Task OneAdapterPerChannelObject_SubscribingOnce_AndDetachingOnClose() =>
        Assert.Equal("same:True before:2 after:0 state:Closed", await RunScenario("OneAdapterPerChannel_AndDetachedOnClose"));

    [Fact]
    public async Task W3CShapedChannel_WithALowEvent_IsPacedByThatEvent() =>
        Assert.Equal("event:True subscribed:1 raised:True received:262144 state:Open", await RunScenario("W3CChannel_UsesItsLowEvent"));

    [Fact]
    public async Task PascalCaseTransport_ChunksWithinItsMaxMessageSize_AndReportsItsErrors() =>
        Assert.Equal("received:200000 largest:1000 max:1000 error:link down", await RunScenario("PascalCaseTransport_SendsWithinItsMaxMessageSize_AndReportsErrors"));

    [Fact]
    public void UnadaptableType_GetsBP0002_SayingWhatIsMissing_AndNoAdapter()
    {
        const string Source = """
            namespace Acme
            {
                public sealed class AsyncOnly
                {
                    public long BufferedAmount { get; }
                    public System.Threading.Tasks.Task SendAsync(byte[] data) => System.Threading.Tasks.Task.CompletedTask;
                }

                public sealed class NoAmount
                {
                    public void Send(byte[] data) { }
                }

                public static class Use
                {
                    public static void Go(AsyncOnly a, NoAmount b)
                    {
                        a.AsBufferedChannel();
                        b.AsBufferedChannel();
                    }
                }
            }
            """;

        var (output, diagnostics, _) = Generate(Source);

        Assert.Collection(
            diagnostics.OrderBy(d => d.GetMessage(), StringComparer.Ordinal),
            d => Assert.Contains("for 'Acme.AsyncOnly': it has no public synchronous Send method", d.GetMessage(), StringComparison.Ordinal),
            d => Assert.Contains("for 'Acme.NoAmount': it has no public integral BufferedAmount", d.GetMessage(), StringComparison.Ordinal));
        Assert.All(diagnostics, d => Assert.Equal(DiagnosticIds.ChannelNotAdaptable, d.Id));
        Assert.Single(output.SyntaxTrees); // nothing generated
        Assert.All(output.GetDiagnostics().Where(d => d.Severity == DiagnosticSeverity.Error), d => Assert.Equal("CS1061", d.Id));
    }

    [Fact]
    public void UnrelatedEdit_DoesNotRerunTheEmitStep()
    {
        var compilation = Compile(Channels, "public static class Use { public static object Go(SIPSorcery.Net.RTCDataChannel dc) => dc.AsBufferedChannel(); }", "public static class Other { public static int X = 1; }");
        GeneratorDriver driver = CSharpGeneratorDriver.Create(
            [new ChannelAdapterGenerator().AsSourceGenerator()],
            parseOptions: new CSharpParseOptions(LanguageVersion.Latest),
            driverOptions: new GeneratorDriverOptions(IncrementalGeneratorOutputKind.None, trackIncrementalGeneratorSteps: true));
        driver = driver.RunGenerators(compilation);

        var other = compilation.SyntaxTrees.Last();
        var edited = compilation.ReplaceSyntaxTree(other, other.WithChangedText(other.GetText().Replace(0, other.Length, "public static class Other { public static int X = 2; }")));
        var result = driver.RunGenerators(edited).GetRunResult().Results.Single();

        // The request for the untouched call site comes from cache, the gathered requests compare equal,
        // and so the step that writes the adapters does not run again.
        Assert.All(result.TrackedSteps[ChannelAdapterGenerator.RequestsStep].SelectMany(s => s.Outputs), o => Assert.Equal(IncrementalStepRunReason.Cached, o.Reason));
        Assert.All(result.TrackedSteps[ChannelAdapterGenerator.DistinctStep].SelectMany(s => s.Outputs), o => Assert.Contains(o.Reason, new[] { IncrementalStepRunReason.Cached, IncrementalStepRunReason.Unchanged }));
        var emitted = result.TrackedOutputSteps.SelectMany(s => s.Value).SelectMany(s => s.Outputs).ToList();
        Assert.NotEmpty(emitted);
        Assert.All(emitted, o => Assert.Equal(IncrementalStepRunReason.Cached, o.Reason));
    }

    private static CSharpCompilation Compile(params string[] sources) => CSharpCompilation.Create(
        "Scenario" + Guid.NewGuid().ToString("N"),
        sources.Select(s => CSharpSyntaxTree.ParseText(s, new CSharpParseOptions(LanguageVersion.Latest))),
        TestReferences.FrameworkAndRuntime,
        new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, nullableContextOptions: NullableContextOptions.Enable));

    private static (Compilation Output, ImmutableArray<Diagnostic> GeneratorDiagnostics, GeneratorDriver Driver) Generate(params string[] sources)
    {
        GeneratorDriver driver = CSharpGeneratorDriver.Create([new ChannelAdapterGenerator().AsSourceGenerator()], parseOptions: new CSharpParseOptions(LanguageVersion.Latest));
        driver = driver.RunGeneratorsAndUpdateCompilation(Compile(sources), out var output, out var diagnostics);
        return (output, diagnostics, driver);
    }

    private static async Task<string> RunScenario(string name)
    {
        var (output, diagnostics, _) = Generate(Channels, Scenarios);
        Assert.Empty(diagnostics);

        // Generated code must build in projects that treat warnings as errors.
        var generated = output.SyntaxTrees.Where(t => t.FilePath.EndsWith(".g.cs", StringComparison.Ordinal)).ToHashSet();
        Assert.Equal(4, generated.Count); // three adapters and the extension class
        Assert.Empty(output.GetDiagnostics().Where(d => d.Severity >= DiagnosticSeverity.Warning && generated.Contains(d.Location.SourceTree!)));
        using var image = new MemoryStream();
        var emitted = output.Emit(image);
        Assert.True(emitted.Success, string.Join(Environment.NewLine, emitted.Diagnostics.Where(d => d.Severity == DiagnosticSeverity.Error)));

        var context = new AssemblyLoadContext(name, isCollectible: true);
        try
        {
            image.Position = 0;
            var assembly = context.LoadFromStream(image);
            var method = assembly.GetType("Scenario")!.GetMethod(name, BindingFlags.Public | BindingFlags.Static)!;
            var run = (Task<string>)method.Invoke(null, null)!;
            var finished = await Task.WhenAny(run, Task.Delay(TimeSpan.FromSeconds(20)));
            Assert.True(finished == run, $"{name} hung");
            return await run;
        }
        finally
        {
            context.Unload();
        }
    }
}
