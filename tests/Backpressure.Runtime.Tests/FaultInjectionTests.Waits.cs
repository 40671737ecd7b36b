using Backpressure;
using CsCheck;

namespace Backpressure.Runtime.Tests;

/// <summary>
/// WaitForBufferedAmountLowAsync and the bounded waits of polling loops (DelayUntilBufferedAmountLowAsync,
/// SleepUntilBufferedAmountLow) on a queue that a transport thread drains, stalls, closes or fails.
/// </summary>
public sealed partial class FaultInjectionTests
{
    public enum WaitKind
    {
        WaitForLow,
        DelayUntilLow,
        SleepUntilLow,
    }

    public enum WaitFault
    {
        None,
        Closed,

        /// <summary>Closing without an event, then Closed a few turns later, as a transport shutting down.</summary>
        ClosingThenClosed,
        ErrorThenClosed,

        /// <summary>An Error event after which the channel stays open.</summary>
        ErrorStaysOpen,
        Cancel,
    }

    private static readonly Gen<WaitCase> WaitCases =
        from kind in Gen.Enum<WaitKind>()
        from amount in Gen.Int[1, 20_000]
        from threshold in Gen.Int[-1, 25_000]
        from withEvent in Gen.Int[0, 3].Select(i => i != 0)
        from delay in Gen.OneOf(Gen.Const(Timeout.Infinite), Gen.Int[0, 3], Gen.Const(60_000))
        from fault in Gen.Enum<WaitFault>()
        from faultAt in Gen.Int[0, 40]
        from stall in Gen.Bool
        from seed in Gen.Int
        select Normalize(new WaitCase(kind, amount, threshold, withEvent, delay, fault, faultAt, stall, seed));

    [Fact]
    public async Task RandomWaits_EndWhenLow_OrAsTheirContractSays_LeakNothing_NeverHang()
    {
        var count = Math.Max(1, Cases / 2);
        await WaitCases.SampleAsync(RunWaitCase, iter: count);
        output.WriteLine($"{count} randomized waits passed (WaitForBufferedAmountLowAsync, DelayUntilBufferedAmountLowAsync, SleepUntilBufferedAmountLow).");
    }

    /// <summary>Rules out the cases whose contract is to wait forever, so the hang guard only catches real hangs.</summary>
    private static WaitCase Normalize(WaitCase c)
    {
        // A blocking sleep takes no token: its caller stops it by closing the channel.
        if (c.Kind == WaitKind.SleepUntilLow && c.Fault == WaitFault.Cancel)
        {
            c = c with { Fault = WaitFault.Closed };
        }

        // A queue that stops draining above the threshold, or a threshold never reached, is ended only by a fault that
        // closes the channel or cancels; an error that leaves it open ends one wait and not the loop around it.
        var neverLow = c.Stall || c.Threshold < 0;
        if (neverLow && c.Fault is WaitFault.None or WaitFault.ErrorStaysOpen)
        {
            c = c with { Fault = WaitFault.ErrorThenClosed };
        }

        // WaitForBufferedAmountLowAsync has no use for a negative threshold (it rejects one).
        if (c.Kind == WaitKind.WaitForLow && c.Threshold < 0)
        {
            c = c with { Threshold = 0 };
        }

        return c;
    }

    private static async Task RunWaitCase(WaitCase c)
    {
        var channel = new ManualChannel(c.WithEvent);
        channel.Fill(c.Amount);
        var cts = new CancellationTokenSource();
        // Delays that a close before the wait begins would turn into a hang (the full delay, by contract).
        var longDelay = c.Kind == WaitKind.WaitForLow || c.Delay == Timeout.Infinite || c.Delay >= 1_000;
        var floor = c.Stall ? Math.Max(0, c.Threshold) + 1 : 0; // a stalled queue stays just above the threshold
        var random = new Random(c.Seed);
        Task? cancelling = null;
        var faultedAt = -1;
        var transport = new FuzzTransport(i =>
        {
            // A wait that starts on a channel already closed lasts its whole delay, by contract: with no delay, the
            // fault comes once the wait is listening (or has finished, which the amount then shows).
            var listening = channel.ClosedSubscribers > 0 || channel.BufferedAmount <= c.Threshold;
            if (faultedAt < 0 && i >= c.FaultAt && (!longDelay || listening || c.Kind == WaitKind.WaitForLow))
            {
                faultedAt = i;
                switch (c.Fault)
                {
                    case WaitFault.Closed: channel.RaiseClosed(); break;
                    case WaitFault.ClosingThenClosed: channel.State = BufferedChannelState.Closing; break;
                    case WaitFault.ErrorThenClosed: channel.RaiseError("injected"); channel.RaiseClosed(); break;
                    case WaitFault.ErrorStaysOpen: channel.RaiseError("injected"); break;
                    case WaitFault.Cancel: cancelling = Task.Run(cts.Cancel); break;
                }
            }
            else if (c.Fault == WaitFault.ClosingThenClosed && faultedAt >= 0 && i == faultedAt + 3)
            {
                channel.RaiseClosed();
            }

            var amount = channel.BufferedAmount;
            var drain = Math.Min(random.Next(1, 2_000), amount - floor);
            if (drain <= 0 && c.Stall && faultedAt >= 0)
            {
                drain = random.Next(1, 2_000); // the fault is in: the queue may drain again, it changes nothing
            }

            if (drain > 0)
            {
                channel.Drain(drain);
            }

            return drain > 0;
        });

        var context = c.ToString();
        var calls = 0;
        try
        {
            Task loop = c.Kind switch
            {
                WaitKind.WaitForLow => WaitForLowAsync(),
                WaitKind.DelayUntilLow => DelayLoopAsync(),
                _ => Task.Factory.StartNew(SleepLoop, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default),
            };

            var failure = await FuzzAssert.EndsAsync(loop, channel, transport, context);
            if (failure is not null && c.Kind != WaitKind.WaitForLow)
            {
                // The bounded waits never throw for the channel's state; only the caller's cancellation stops them.
                Assert.True(failure is TaskCanceledException && c.Fault == WaitFault.Cancel, $"threw {failure}; {context}");
            }
            else if (failure is not null)
            {
                Assert.True(channel.StopReported || cts.IsCancellationRequested, $"failed with no fault: {failure}; {context}");
                switch (c.Fault)
                {
                    case WaitFault.Cancel: Assert.IsAssignableFrom<OperationCanceledException>(failure); break;
                    case WaitFault.ErrorStaysOpen: Assert.Equal("injected", Assert.IsType<ChannelErrorException>(failure).ChannelError); break;
                    case WaitFault.ErrorThenClosed: Assert.True(failure is ChannelErrorException or ChannelClosedException, failure.ToString()); break;
                    default: Assert.IsType<ChannelClosedException>(failure); break;
                }
            }
            else if (c.Kind == WaitKind.WaitForLow)
            {
                Assert.True(channel.BufferedAmount <= c.Threshold, $"completed at {channel.BufferedAmount}; {context}");
            }
        }
        finally
        {
            transport.Dispose();
        }

        if (cancelling is not null)
        {
            await cancelling;
        }

        FuzzAssert.ChannelLeftClean(channel, transport, context);
        Assert.Equal(0, channel.SendCount);

        async Task WaitForLowAsync()
        {
            await channel.WaitForBufferedAmountLowAsync(c.Threshold, cts.Token);
            FuzzAssert.NotOnTransport(channel, transport, "WaitForBufferedAmountLowAsync's continuation");
        }

        // The polling loop the bounded waits are made for: it checks the state itself and waits between checks.
        async Task DelayLoopAsync()
        {
            while (channel.BufferedAmount > c.Threshold && channel.State == BufferedChannelState.Open)
            {
                var stopsBefore = channel.StopCount;
                var low = await channel.DelayUntilBufferedAmountLowAsync(c.Threshold, c.Delay, cts.Token);
                FuzzAssert.NotOnTransport(channel, transport, "DelayUntilBufferedAmountLowAsync's continuation");
                AssertOutcome(low, stopsBefore);
            }
        }

        void SleepLoop()
        {
            while (channel.BufferedAmount > c.Threshold && channel.State == BufferedChannelState.Open)
            {
                var stopsBefore = channel.StopCount;
                AssertOutcome(channel.SleepUntilBufferedAmountLow(c.Threshold, c.Delay), stopsBefore);
            }
        }

        // The queue only drains here, so "seen low" still holds when the wait returns. False needs a reason: the
        // delay, or a stop reported during this very wait (an earlier one must not end a later wait).
        void AssertOutcome(bool low, int stopsBefore)
        {
            calls++;
            if (low)
            {
                Assert.True(channel.BufferedAmount <= c.Threshold, $"true at {channel.BufferedAmount}; call {calls}; {context}");
            }
            else
            {
                Assert.True(c.Delay != Timeout.Infinite || channel.StopCount > stopsBefore, $"false with no delay and no stop; call {calls}; {context}");
            }
        }
    }

    public sealed record WaitCase(
        WaitKind Kind, int Amount, int Threshold, bool WithEvent, int Delay, WaitFault Fault, int FaultAt, bool Stall, int Seed);
}
