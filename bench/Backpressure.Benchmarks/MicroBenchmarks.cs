using System.Diagnostics;
using System.Globalization;
using Backpressure;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Diagnosers;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Toolchains.InProcess.Emit;

/// <summary>
/// BenchmarkDotNet micro-benchmarks, run in-process (the repository's build settings would otherwise apply
/// to BenchmarkDotNet's generated project), then a measured harness for the low-event latency percentiles,
/// which BenchmarkDotNet cannot give: it reports statistics over iterations, not over single events.
/// </summary>
internal static class MicroBenchmarks
{
    public static void Run(string[] args)
    {
        var config = ManualConfig.CreateEmpty()
            .AddJob(Job.ShortRun.WithToolchain(InProcessEmitToolchain.Instance).WithId("InProcess"))
            .AddDiagnoser(MemoryDiagnoser.Default)
            .AddColumnProvider(DefaultColumnProviders.Instance)
            .AddColumn(StatisticColumn.P95)
            .AddLogger(BenchmarkDotNet.Loggers.ConsoleLogger.Default)
            .AddExporter(BenchmarkDotNet.Exporters.MarkdownExporter.GitHub)
            .WithOptions(ConfigOptions.DisableLogFile);
        BenchmarkSwitcher.FromTypes([typeof(SendAsyncPerChunk), typeof(LowEventToNextSend)]).Run(args.Length > 0 ? args : ["--filter", "*"], config);
    }
}

/// <summary>
/// One whole <c>SendAsync</c> at two payload sizes: what grows with the chunk count is the per-chunk cost,
/// what stays is the per-transfer cost. "Never full" takes the path where the queue is always under the
/// high watermark; "drained by a thread" parks on the low event about every 8 chunks.
/// </summary>
[MemoryDiagnoser]
public class SendAsyncPerChunk
{
    private byte[] _payload = [];
    private NeverFullChannel _neverFull = null!;
    private CountingChannel _drained = null!;

    [Params(64, 1024)]
    public int Chunks { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _payload = new byte[Chunks * BackpressureOptions.DefaultChunkSize];
        _neverFull = new NeverFullChannel();
        _drained = new CountingChannel();
    }

    [GlobalCleanup]
    public void Cleanup() => _drained.Dispose();

    [Benchmark(Baseline = true, Description = "never full")]
    public Task NeverFull() => _neverFull.SendAsync(_payload);

    [Benchmark(Description = "drained by a thread, low event")]
    public Task DrainedByAThread() => _drained.SendAsync(_payload);
}

/// <summary>
/// From the transport raising the low event on its own thread to the sender's next <c>Send</c>: the
/// handler signals, the continuation hops to the thread pool (by design, never on the transport's thread)
/// and sends. One operation is one such cycle; the benchmark thread plays the transport.
/// </summary>
public class LowEventToNextSend
{
    private ParkingChannel _channel = null!;
    private Task _transfer = Task.CompletedTask;
    private CancellationTokenSource _stop = null!;

    [GlobalSetup]
    public void Setup()
    {
        _channel = new ParkingChannel();
        _stop = new CancellationTokenSource();
        _transfer = ParkingChannel.SendForeverAsync(_channel, _stop.Token);
        _channel.WaitForSends(1);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _stop.Cancel(); // the cancellation wakes the parked sender; no event needed
        try
        {
            _transfer.GetAwaiter().GetResult();
        }
        catch (OperationCanceledException)
        {
        }
    }

    [Benchmark]
    public long EventToSend() => _channel.Release();
}

/// <summary>
/// The p50/p99/max of the low-event-to-Send delay over many single events: back to back, and with the transport's
/// thread idle for a millisecond before each event (long enough for the thread pool's workers to go to sleep, as
/// between the events of a real transfer); with the sender resuming on the thread pool, and inside the event on a
/// channel that allows a <c>Send</c> there (<see cref="ILowEventSendChannel"/>).
/// </summary>
internal static class LowEventLatency
{
    public static async Task RunAsync(int events)
    {
        Console.WriteLine("| resumes | events | gap before each | run | p50, µs | p90, µs | p99, µs | p99.9, µs | max, µs |");
        Console.WriteLine("|---|---|---|---|---|---|---|---|---|");
        foreach (var insideTheEvent in new[] { false, true })
        {
            await RunAsync(insideTheEvent, events, idleGap: false);
            await RunAsync(insideTheEvent, Math.Max(1, events / 20), idleGap: true);
        }
    }

    private static async Task RunAsync(bool insideTheEvent, int events, bool idleGap)
    {
        using var stop = new CancellationTokenSource();
        var channel = new ParkingChannel(insideTheEvent);
        var transfer = ParkingChannel.SendForeverAsync(channel, stop.Token);
        channel.WaitForSends(1);

        for (var i = 0; i < 20_000; i++)
        {
            channel.Release(); // warm-up: tiered JIT, the thread pool's threads
        }

        for (var run = 1; run <= 3; run++)
        {
            var ticks = new long[events];
            for (var i = 0; i < events; i++)
            {
                if (idleGap)
                {
                    Thread.Sleep(1);
                }

                ticks[i] = channel.Release();
            }

            Array.Sort(ticks);
            double Micro(double quantile) => ticks[Math.Min(events - 1, (int)(quantile * events))] * 1e6 / Stopwatch.Frequency;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {(insideTheEvent ? "inside the event" : "on the thread pool")} | {events:N0} | {(idleGap ? "1 ms sleep" : "none")} | {run} | {Micro(0.5):F1} | {Micro(0.9):F1} | {Micro(0.99):F1} | {Micro(0.999):F1} | {ticks[^1] * 1e6 / Stopwatch.Frequency:F0} |"));
        }

        stop.Cancel();
        try
        {
            await transfer;
        }
        catch (OperationCanceledException)
        {
        }
    }
}

/// <summary>A channel whose queue is never over the high watermark: every Send leaves nothing buffered.</summary>
internal sealed class NeverFullChannel : IBufferedChannel
{
    public event EventHandler? BufferedAmountLow { add { } remove { } }

    public event EventHandler? Closed { add { } remove { } }

    public event EventHandler<BufferedChannelErrorEventArgs>? Error { add { } remove { } }

    public long BufferedAmount => 0;

    public long BufferedAmountLowThreshold { get; set; }

    public bool SupportsBufferedAmountLowEvent => true;

    public BufferedChannelState State => BufferedChannelState.Open;

    public int MaxMessageSize => int.MaxValue;

    public void Send(ReadOnlyMemory<byte> message)
    {
    }

    public void Close()
    {
    }
}

/// <summary>
/// Full after every Send, so the sender parks after each chunk; <see cref="Release"/> empties it and raises
/// the low event on the calling thread, then spins until the sender's next Send and returns the delay in
/// <see cref="Stopwatch"/> ticks. Made to allow a <c>Send</c> from the event, the sender sends before the event returns.
/// </summary>
internal sealed class ParkingChannel(bool allowsSendFromLowEvent = false) : ILowEventSendChannel
{
    private long _buffered;
    private long _raisedAt;
    private long _sentAt;
    private int _sends;

    public event EventHandler? BufferedAmountLow;

    public event EventHandler? Closed { add { } remove { } }

    public event EventHandler<BufferedChannelErrorEventArgs>? Error { add { } remove { } }

    public long BufferedAmount => Volatile.Read(ref _buffered);

    public long BufferedAmountLowThreshold { get; set; }

    public bool SupportsBufferedAmountLowEvent => true;

    public bool AllowsSendFromLowEvent => allowsSendFromLowEvent;

    public BufferedChannelState State => BufferedChannelState.Open;

    public int MaxMessageSize => int.MaxValue;

    /// <summary>Sends one-byte chunks of an endless payload until cancelled, parking after every one.</summary>
    public static async Task SendForeverAsync(IBufferedChannel channel, CancellationToken cancellationToken)
    {
        var payload = new byte[1 << 20];
        var options = new BackpressureOptions(chunkSize: 1, lowThreshold: 0, highWatermark: 0);
        while (true)
        {
            await channel.SendAsync(payload, options, cancellationToken: cancellationToken);
        }
    }

    public void Send(ReadOnlyMemory<byte> message)
    {
        Volatile.Write(ref _buffered, 1);
        Volatile.Write(ref _sentAt, Stopwatch.GetTimestamp());
        Interlocked.Increment(ref _sends);
    }

    public void Close()
    {
    }

    public void WaitForSends(int count)
    {
        var spin = new SpinWait();
        while (Volatile.Read(ref _sends) < count)
        {
            spin.SpinOnce(sleep1Threshold: -1);
        }
    }

    public long Release()
    {
        var target = Volatile.Read(ref _sends) + 1;
        _raisedAt = Stopwatch.GetTimestamp();
        Volatile.Write(ref _buffered, 0);
        BufferedAmountLow?.Invoke(this, EventArgs.Empty);
        var spin = new SpinWait();
        while (Volatile.Read(ref _sends) < target)
        {
            spin.SpinOnce(sleep1Threshold: -1);
        }

        return Volatile.Read(ref _sentAt) - _raisedAt;
    }
}
