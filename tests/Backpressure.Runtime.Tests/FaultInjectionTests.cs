using Backpressure;
using CsCheck;
using Xunit.Abstractions;
using static Backpressure.Runtime.Tests.TestUtil;

namespace Backpressure.Runtime.Tests;

/// <summary>
/// Randomized transfers with faults injected at random points, raced against a transport thread that
/// drains the queue and raises events. Set BACKPRESSURE_FUZZ_CASES to run more cases (e.g. 100000).
/// </summary>
public sealed class FaultInjectionTests(ITestOutputHelper output)
{
    public enum Fault
    {
        None,
        CloseEventAtSend,
        ClosingStateAtSend,
        ErrorEventAtSend,
        SendThrows,
        CancelAtSend,
        CloseFromTransportThread,
    }

    private static int Cases =>
        int.TryParse(Environment.GetEnvironmentVariable("BACKPRESSURE_FUZZ_CASES"), out var n) && n > 0 ? n : 2000;

    private static readonly Gen<Case> Cases_ =
        from payload in Gen.Int[0, 20_000]
        from chunk in Gen.Int[16, 3_000]
        from low in Gen.Int[0, 5_000]
        from headroom in Gen.Int[0, 5_000]
        from maxMessage in Gen.OneOf(Gen.Const(int.MaxValue), Gen.Int[16, 4_000])
        from withEvent in Gen.Int[0, 3].Select(i => i != 0) // one case in four exercises the fallback
        from fault in Gen.Enum<Fault>()
        from faultAt in Gen.Int[0, 40]
        from seed in Gen.Int
        select new Case(payload, chunk, low, low + headroom, maxMessage, withEvent, fault, faultAt, seed);

    [Fact]
    public async Task RandomTransfers_DeliverOrFailTyped_LeakNothing_NeverHang()
    {
        var count = Cases;
        await Cases_.SampleAsync(RunCase, iter: count);
        output.WriteLine($"{count} randomized transfers passed.");
    }

    private static async Task RunCase(Case c)
    {
        // A fallback case with tiny chunks would spend its time in real-clock waits; keep it short.
        var chunk = c.WithEvent ? c.Chunk : Math.Max(c.Chunk, c.Payload / 20);
        var channel = new ManualChannel(c.WithEvent, c.MaxMessage);
        var options = new BackpressureOptions(chunk, c.Low, c.High);
        var payload = Payload(c.Payload, c.Seed);
        var effectiveChunk = Math.Min(chunk, c.MaxMessage);
        var sendsNeeded = (c.Payload + effectiveChunk - 1) / effectiveChunk;
        using var cts = new CancellationTokenSource();

        channel.BeforeSend = index =>
        {
            if (index != c.FaultAt)
            {
                return;
            }

            switch (c.Fault)
            {
                case Fault.CloseEventAtSend: channel.RaiseClosed(); break;
                case Fault.ClosingStateAtSend: channel.State = BufferedChannelState.Closing; break;
                case Fault.ErrorEventAtSend: channel.RaiseError("injected"); break;
                case Fault.SendThrows: throw new IOException("injected");
                case Fault.CancelAtSend: cts.Cancel(); break;
            }
        };

        using var done = new CancellationTokenSource();
        var transport = Task.Run(async () =>
        {
            var random = new Random(c.Seed);
            for (var i = 0; !done.IsCancellationRequested; i++)
            {
                if (c.Fault == Fault.CloseFromTransportThread && i == c.FaultAt)
                {
                    channel.RaiseClosed();
                }

                channel.Drain(random.Next(1, 2 * effectiveChunk));
                await Task.Yield();
            }
        });

        var transfer = channel.SendAsync(payload, options, cancellationToken: cts.Token);
        if (await Task.WhenAny(transfer, Task.Delay(HangTimeout)) != transfer)
        {
            Assert.Fail($"Hung: {c}; buffered {channel.BufferedAmount}, threshold {channel.BufferedAmountLowThreshold}, {channel.SendCount} sends, state {channel.State}.");
        }

        var failure = await Record.ExceptionAsync(() => transfer);
        done.Cancel();
        await transport;

        var received = channel.Received();
        Assert.Equal(0, channel.TotalSubscribers);
        // A high watermark that was given is a hard bound, with or without the low event.
        Assert.True(channel.PeakBuffered <= c.High + effectiveChunk, $"peak {channel.PeakBuffered} over {c.High} + {effectiveChunk}");
        Assert.All(channel.Messages(), m => Assert.InRange(m.Length, 1, effectiveChunk));
        Assert.Equal(payload.AsSpan(0, received.Length).ToArray(), received); // once, in order, a prefix

        // A fault during the last send comes too late to stop anything, except a throwing Send.
        var mustFail = c.Fault switch
        {
            Fault.None or Fault.CloseFromTransportThread => false,
            Fault.SendThrows => c.FaultAt < sendsNeeded,
            _ => c.FaultAt < sendsNeeded - 1,
        };

        if (failure is null)
        {
            Assert.False(mustFail, $"{c} should have failed");
            Assert.Equal(payload.Length, received.Length);
            return;
        }

        Assert.True(mustFail || c.Fault == Fault.CloseFromTransportThread, $"{c} failed unexpectedly: {failure}");
        switch (c.Fault)
        {
            case Fault.CancelAtSend:
                Assert.IsAssignableFrom<OperationCanceledException>(failure);
                return;
            case Fault.ErrorEventAtSend:
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

    public sealed record Case(int Payload, int Chunk, int Low, int High, int MaxMessage, bool WithEvent, Fault Fault, int FaultAt, int Seed);
}
