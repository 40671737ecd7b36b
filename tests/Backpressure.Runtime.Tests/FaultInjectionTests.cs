using Backpressure;
using CsCheck;
using Xunit.Abstractions;
using static Backpressure.Runtime.Tests.TestUtil;

namespace Backpressure.Runtime.Tests;

/// <summary>
/// Randomized transfers and waits with faults injected at random points, raced against a transport thread that
/// drains the queue and raises events. Set BACKPRESSURE_FUZZ_CASES to run more cases (e.g. 100000); the other
/// families run a fixed share of it.
/// </summary>
/// <remarks>
/// Every case asserts, besides its own contract: nothing is handed to Send after the channel reported Closing,
/// Closed or Error (none at all when the fault came on the sender's own thread; at most the one send already
/// decided when it came from the transport's), every handler added is removed, the awaited task ends (under a
/// generous hang guard, no timing asserted), and no continuation runs on the transport's thread.
/// </remarks>
public sealed partial class FaultInjectionTests(ITestOutputHelper output)
{
    public enum Fault
    {
        None,
        CloseEventAtSend,
        ClosingStateAtSend,
        ErrorEventAtSend,
        ErrorThenClosedAtSend,
        SendThrows,
        CancelAtSend,
        CloseFromTransportThread,

        // Stream source only.
        SourceThrows,
        SourceStallsThenClose,
        SourceStallsThenCancel,
    }

    public enum OptionsKind
    {
        /// <summary>A given high watermark: a hard bound.</summary>
        Explicit,

        /// <summary>A derived high watermark, which the no-event fallback may raise.</summary>
        Derived,

        /// <summary><see langword="null"/> options: <see cref="BackpressureOptions.Default"/>.</summary>
        Default,
    }

    private static readonly Fault[] MemoryFaults =
    [
        Fault.None, Fault.CloseEventAtSend, Fault.ClosingStateAtSend, Fault.ErrorEventAtSend, Fault.ErrorThenClosedAtSend,
        Fault.SendThrows, Fault.CancelAtSend, Fault.CloseFromTransportThread,
    ];

    private static int Cases =>
        int.TryParse(Environment.GetEnvironmentVariable("BACKPRESSURE_FUZZ_CASES"), out var n) && n > 0 ? n : 2000;

    private static readonly Gen<Case> Cases_ =
        from options in Gen.Enum<OptionsKind>()
        from payload in Gen.Int[0, 20_000].Select(p => options == OptionsKind.Default ? p * 20 : p) // past the 128 KiB default high watermark
        from chunk in Gen.Int[16, 3_000]
        from low in Gen.Int[0, 5_000]
        from headroom in Gen.Int[0, 5_000]
        from maxMessage in Gen.OneOf(Gen.Const(int.MaxValue), Gen.Int[16, 4_000])
        from withEvent in Gen.Int[0, 3].Select(i => i != 0) // one case in four exercises the fallback
        from fromStream in Gen.Bool
        from maxRead in Gen.Int[1, 5_000]
        from fault in fromStream ? Gen.Enum<Fault>() : Gen.OneOf(MemoryFaults)
        from faultAt in Gen.Int[0, 40]
        from seed in Gen.Int
        select new Case(payload, chunk, low, low + headroom, maxMessage, withEvent, options, fromStream, maxRead, fault, faultAt, seed);

    [Fact]
    public async Task RandomTransfers_DeliverOrFailTyped_LeakNothing_NeverHang()
    {
        var count = Cases;
        await Cases_.SampleAsync(RunCase, iter: count);
        output.WriteLine($"{count} randomized transfers passed (memory and stream, given, derived and default options).");
    }

    private static async Task RunCase(Case c)
    {
        var options = c.Options switch
        {
            OptionsKind.Explicit => new BackpressureOptions(ChunkFor(c), c.Low, c.High),
            OptionsKind.Derived => new BackpressureOptions(ChunkFor(c), c.Low),
            _ => null,
        };
        var effective = options ?? BackpressureOptions.Default;
        var channel = new ManualChannel(c.WithEvent, c.MaxMessage);
        var payload = Payload(c.Payload, c.Seed);
        var effectiveChunk = Math.Min(effective.ChunkSize, c.MaxMessage);
        var sendsNeeded = (c.Payload + effectiveChunk - 1) / effectiveChunk;
        var cts = new CancellationTokenSource();
        var stream = c.FromStream
            ? new FuzzStream(
                payload, c.Seed, c.MaxRead,
                throwAtRead: c.Fault == Fault.SourceThrows ? c.FaultAt : -1,
                stallAtRead: c.Fault is Fault.SourceStallsThenClose or Fault.SourceStallsThenCancel ? c.FaultAt : -1)
            : null;

        // Set when a stop was reported on the sender's own thread, inside Send: no later Send may follow it.
        var stopOnSenderThread = false;
        channel.BeforeSend = index =>
        {
            if (index != c.FaultAt)
            {
                return;
            }

            switch (c.Fault)
            {
                case Fault.CloseEventAtSend: channel.RaiseClosed(); stopOnSenderThread = true; break;
                case Fault.ClosingStateAtSend: channel.State = BufferedChannelState.Closing; stopOnSenderThread = true; break;
                case Fault.ErrorEventAtSend: channel.RaiseError("injected"); stopOnSenderThread = true; break;
                case Fault.ErrorThenClosedAtSend: channel.RaiseError("injected"); channel.RaiseClosed(); stopOnSenderThread = true; break;
                case Fault.SendThrows: throw new IOException("injected");
                case Fault.CancelAtSend: cts.Cancel(); break;
            }
        };

        Task? cancelling = null;
        var random = new Random(c.Seed);
        var faulted = false;
        var transport = new FuzzTransport(i =>
        {
            if (!faulted && i >= c.FaultAt && c.Fault == Fault.CloseFromTransportThread)
            {
                faulted = true;
                channel.RaiseClosed();
            }

            if (!faulted && stream is { Stalled: true })
            {
                faulted = true;
                if (c.Fault == Fault.SourceStallsThenClose)
                {
                    channel.RaiseClosed();
                }
                else
                {
                    cancelling = Task.Run(cts.Cancel); // the caller cancels, from neither the sender's thread nor the transport's
                }
            }

            var before = channel.BufferedAmount;
            channel.Drain(random.Next(1, 2 * effectiveChunk));
            return before > 0;
        });

        var progress = new RecordingProgress { OnReport = _ => Assert.False(channel.IsRaisingOnCurrentThread, "progress reported inside an event raise") };
        Exception? failure;
        try
        {
            var transfer = stream is null
                ? channel.SendAsync(payload, options, progress, cts.Token)
                : channel.SendAsync(stream, options, progress, cts.Token);
            failure = await FuzzAssert.EndsAsync(transfer, channel, transport, c.ToString());
        }
        finally
        {
            transport.Dispose();
        }

        if (cancelling is not null)
        {
            await cancelling;
        }

        var received = channel.Received();
        FuzzAssert.ChannelLeftClean(channel, transport, c.ToString());
        Assert.True(channel.SendsAfterStop <= (stopOnSenderThread ? 0 : 1), $"{channel.SendsAfterStop} sends after the channel reported a stop; {c}");

        // A high watermark that was given is a hard bound, with or without the low event; a derived one may be
        // raised, by at most 15 times the low threshold, to outlast the timer, or with the event and the default
        // thresholds the way back from the event.
        var raised = effective.HighWatermarkIsDerived && (!c.WithEvent || effective.ThresholdsAreDefault);
        var bound = effective.HighWatermark + (raised ? 15 * effective.LowThreshold : 0) + effectiveChunk;
        Assert.True(channel.PeakBuffered <= bound, $"peak {channel.PeakBuffered} over {bound}; {c}");
        Assert.All(channel.Messages(), m => Assert.InRange(m.Length, 1, effectiveChunk));
        Assert.Equal(payload.AsSpan(0, received.Length).ToArray(), received); // once, in order, a prefix
        Assert.Equal(received.Length, progress.Reports.LastOrDefault());

        var reached = c.Fault switch
        {
            Fault.SourceThrows => stream!.Threw,
            Fault.SourceStallsThenClose or Fault.SourceStallsThenCancel => stream!.Stalled,
            _ => true,
        };

        // A fault during the last send comes too late to stop anything, except a throwing Send; a stream transfer
        // reads once more after it, and that read may see a close or cancellation.
        var lastSend = sendsNeeded - 1;
        var (mustFail, mayFail) = c.Fault switch
        {
            Fault.None => (false, false),
            Fault.CloseFromTransportThread => (false, true),
            Fault.SendThrows => (c.FaultAt < sendsNeeded, false),
            Fault.CancelAtSend when c.FromStream => (c.FaultAt < sendsNeeded, false),
            Fault.SourceThrows or Fault.SourceStallsThenClose or Fault.SourceStallsThenCancel => (reached, false),
            _ => (c.FaultAt < lastSend, c.FromStream && c.FaultAt == lastSend),
        };

        if (failure is null)
        {
            Assert.False(mustFail, $"{c} should have failed");
            Assert.Equal(payload.Length, received.Length);
            return;
        }

        Assert.True(mustFail || mayFail, $"{c} failed unexpectedly: {failure}");
        switch (c.Fault)
        {
            case Fault.CancelAtSend or Fault.SourceStallsThenCancel:
                Assert.IsAssignableFrom<OperationCanceledException>(failure);
                return;
            case Fault.SourceThrows:
                Assert.Equal("source", Assert.IsType<IOException>(failure).Message); // the source's exception, unchanged
                return;
            case Fault.ErrorEventAtSend or Fault.ErrorThenClosedAtSend:
                Assert.Equal("injected", Assert.IsType<ChannelErrorException>(failure).ChannelError);
                break;
            case Fault.SendThrows:
                Assert.IsType<IOException>(Assert.IsType<ChannelErrorException>(failure).InnerException);
                break;
            default:
                Assert.IsType<ChannelClosedException>(failure);
                break;
        }

        Assert.Equal(received.Length, ((BufferedChannelException)failure).BytesSent);
    }

    /// <summary>A fallback case with tiny chunks would spend its time in real-clock waits; keep it short.</summary>
    private static int ChunkFor(Case c) => c.WithEvent ? c.Chunk : Math.Max(c.Chunk, c.Payload / 20);

    public sealed record Case(
        int Payload, int Chunk, int Low, int High, int MaxMessage, bool WithEvent, OptionsKind Options, bool FromStream, int MaxRead,
        Fault Fault, int FaultAt, int Seed);
}
