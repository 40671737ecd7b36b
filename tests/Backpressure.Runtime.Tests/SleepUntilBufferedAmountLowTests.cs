using System.Diagnostics;
using Backpressure;
using static Backpressure.Runtime.Tests.TestUtil;

namespace Backpressure.Runtime.Tests;

/// <summary>
/// SleepUntilBufferedAmountLow: the Thread.Sleep of a polling loop, as a blocking wait woken by the channel's
/// events. Real time (a blocked thread cannot be woken by a fake clock), so only hang guards, never upper bounds.
/// </summary>
public sealed class SleepUntilBufferedAmountLowTests
{
    [Fact]
    public void ReturnsTrueAtOnce_WhenAlreadyAtOrBelowTheThreshold()
    {
        var channel = new ManualChannel();
        channel.Send(new byte[500]);

        Assert.True(channel.SleepUntilBufferedAmountLow(500, Timeout.Infinite));
        Assert.Equal(0, channel.TotalSubscribers);
        Assert.Equal(0, channel.BufferedAmountLowThreshold);
    }

    [Fact]
    public async Task ReturnsTrue_WhenAnotherThreadDrainsTheQueue()
    {
        var channel = new ManualChannel();
        channel.Send(new byte[500]);

        var sleep = Task.Run(() => channel.SleepUntilBufferedAmountLow(200, Timeout.Infinite));
        await Eventually(() => channel.LowSubscribers == 1, "the sleep listens");
        Assert.Equal(200, channel.BufferedAmountLowThreshold);
        channel.Drain(300);

        Assert.True(await sleep.Within());
        Assert.Equal(0, channel.TotalSubscribers);
    }

    [Fact]
    public async Task ReturnsTrue_WhenTheQueueDrainsBetweenTheCheckAndTheBlock()
    {
        var channel = new ManualChannel();
        channel.Send(new byte[500]);
        channel.AfterBufferedAmountRead = amount =>
        {
            if (amount > 200 && channel.HasLowSubscriber)
            {
                channel.AfterBufferedAmountRead = null;
                channel.Drain(300);
            }
        };

        Assert.True(await Task.Run(() => channel.SleepUntilBufferedAmountLow(200, Timeout.Infinite)).Within());
    }

    [Fact]
    public void ReturnsFalse_WhenTheTimeoutPassesFirst_HavingBlockedRatherThanSpun()
    {
        var channel = new ManualChannel();
        channel.Send(new byte[500]);
        var reads = 0;
        channel.AfterBufferedAmountRead = _ => reads++;

        var stopwatch = Stopwatch.StartNew();
        Assert.False(channel.SleepUntilBufferedAmountLow(200, 100));

        // Less than a millisecond short counts as on time, as the system timer's rounding does for Task.Delay.
        Assert.True(stopwatch.Elapsed >= TimeSpan.FromMilliseconds(99), $"returned after {stopwatch.Elapsed}");
        Assert.InRange(reads, 2, 5);
        Assert.Equal(0, channel.TotalSubscribers);
    }

    [Fact]
    public async Task ReturnsFalseOnce_WhenTheChannelClosesDuringTheWait_ThenSleepsFullTimeouts()
    {
        var channel = new ManualChannel();
        channel.Send(new byte[500]);
        var sleep = Task.Run(() => channel.SleepUntilBufferedAmountLow(200, Timeout.Infinite));
        await Eventually(() => channel.ClosedSubscribers == 1, "the sleep listens");

        channel.RaiseClosed();

        Assert.False(await sleep.Within());
        Assert.Equal(0, channel.TotalSubscribers);

        var reads = 0;
        channel.AfterBufferedAmountRead = _ => reads++;
        var stopwatch = Stopwatch.StartNew();
        Assert.False(channel.SleepUntilBufferedAmountLow(200, 50));
        Assert.True(stopwatch.Elapsed >= TimeSpan.FromMilliseconds(49), $"returned after {stopwatch.Elapsed}");
        Assert.InRange(reads, 2, 5);
    }

    [Fact]
    public async Task ReturnsFalseWithoutThrowing_WhenTheChannelReportsAnErrorDuringTheWait()
    {
        var channel = new ManualChannel();
        channel.Send(new byte[500]);
        var sleep = Task.Run(() => channel.SleepUntilBufferedAmountLow(200, Timeout.Infinite));
        await Eventually(() => channel.ErrorSubscribers == 1, "the sleep listens");

        channel.RaiseError("SCTP abort");

        Assert.False(await sleep.Within());
        Assert.Equal(0, channel.TotalSubscribers);
    }

    [Theory]
    [InlineData(BufferedChannelState.Closed)]
    [InlineData(BufferedChannelState.Connecting)]
    public void SleepsTheFullTimeout_OnAChannelNotOpenAtTheCall(BufferedChannelState state)
    {
        var channel = new ManualChannel();
        channel.Send(new byte[500]);
        channel.State = state;
        var reads = 0;
        channel.AfterBufferedAmountRead = _ => reads++;

        var stopwatch = Stopwatch.StartNew();
        Assert.False(channel.SleepUntilBufferedAmountLow(200, 50));

        Assert.True(stopwatch.Elapsed >= TimeSpan.FromMilliseconds(49), $"returned after {stopwatch.Elapsed}");
        Assert.InRange(reads, 2, 5);
        Assert.Equal(0, channel.TotalSubscribers);
    }

    [Fact]
    public void ZeroTimeout_ReturnsFalse_WithoutListening_AsThreadSleepZeroOnlyYields()
    {
        var channel = new ManualChannel();
        channel.Send(new byte[500]);

        Assert.False(channel.SleepUntilBufferedAmountLow(200, 0));
        Assert.False(channel.SleepUntilBufferedAmountLow(200, TimeSpan.Zero));
        Assert.Equal(0, channel.BufferedAmountLowThreshold);
    }

    [Fact]
    public void InvalidTimeouts_ThrowArgumentOutOfRange_NamingTheParameter_WhereThreadSleepThrows()
    {
        var channel = new ManualChannel();

        Assert.Throws<ArgumentOutOfRangeException>(() => Thread.Sleep(-2));
        Assert.Equal("millisecondsTimeout", Assert.Throws<ArgumentOutOfRangeException>(() => channel.SleepUntilBufferedAmountLow(200, -2)).ParamName);
        Assert.Equal("millisecondsTimeout", Assert.Throws<ArgumentOutOfRangeException>(() => channel.SleepUntilBufferedAmountLow(200UL, -2)).ParamName);
        foreach (var invalid in new[] { TimeSpan.FromMilliseconds(-2), TimeSpan.FromDays(30), TimeSpan.MaxValue })
        {
            Assert.Throws<ArgumentOutOfRangeException>(() => Thread.Sleep(invalid));
            Assert.Equal("timeout", Assert.Throws<ArgumentOutOfRangeException>(() => channel.SleepUntilBufferedAmountLow(200, invalid)).ParamName);
            Assert.Equal("timeout", Assert.Throws<ArgumentOutOfRangeException>(() => channel.SleepUntilBufferedAmountLow(200UL, invalid)).ParamName);
        }

        Assert.True(channel.SleepUntilBufferedAmountLow(200, Timeout.InfiniteTimeSpan)); // accepted; the queue is empty
        Assert.Throws<ArgumentNullException>(() => ((IBufferedChannel)null!).SleepUntilBufferedAmountLow(200, 5));
    }

    [Fact]
    public void UlongThreshold_AboveLongMaxValue_IsNoLimit()
    {
        var channel = new ManualChannel();
        channel.Send(new byte[500]);

        Assert.True(channel.SleepUntilBufferedAmountLow(ulong.MaxValue, Timeout.Infinite));
        Assert.True(channel.SleepUntilBufferedAmountLow(ulong.MaxValue, Timeout.InfiniteTimeSpan));
    }

    [Fact]
    public async Task NoEventChannel_WakesWhenTheDrainRateSaysTheQueueIsLow_NotOnlyAtTheTimeout()
    {
        var channel = new ManualChannel(supportsLowEvent: false);
        channel.Send(new byte[500]);
        var sleep = Task.Run(() => channel.SleepUntilBufferedAmountLow(200, Timeout.Infinite));
        await Eventually(() => channel.ClosedSubscribers == 1, "the sleep listens");
        Assert.Equal(0, channel.LowSubscribers);

        channel.Drain(300); // no event: only its own re-check, at most 50 ms apart, can see this

        Assert.True(await sleep.Within());
        Assert.Equal(0, channel.TotalSubscribers);
    }

    [Fact]
    public void NoEventChannel_ReturnsFalse_WhenTheQueueNeverGetsLow_HavingCheckedMeanwhile()
    {
        var channel = new ManualChannel(supportsLowEvent: false);
        channel.Send(new byte[500]);
        var reads = 0;
        channel.AfterBufferedAmountRead = _ => reads++;

        Assert.False(channel.SleepUntilBufferedAmountLow(200, 200));

        Assert.True(reads > 3, $"{reads} reads: the fallback looks again before the timeout");
        Assert.Equal(0, channel.TotalSubscribers);
    }

    [Fact]
    public async Task ARunningSendAsync_KeepsItsThreshold()
    {
        var channel = new ManualChannel();
        var transfer = channel.SendAsync(Payload(500), new BackpressureOptions(chunkSize: 100, lowThreshold: 100, highWatermark: 300));
        await Eventually(() => channel.SendCount == 4, "the transfer parks at 400 bytes");

        var sleep = Task.Run(() => channel.SleepUntilBufferedAmountLow(350, Timeout.Infinite));
        await Eventually(() => channel.LowSubscribers == 2, "the sleep listens");
        Assert.Equal(100, channel.BufferedAmountLowThreshold);

        channel.Drain(300); // crosses the transfer's 100: the event wakes both
        Assert.True(await sleep.Within());
        await transfer.Within();
        Assert.Equal(100, channel.BufferedAmountLowThreshold);
        Assert.Equal(0, channel.TotalSubscribers);
    }

    [Fact]
    public async Task TwoThreadsSleepingOnOneChannel_BothWake()
    {
        var channel = new ManualChannel();
        channel.Send(new byte[500]);
        var first = Task.Run(() => channel.SleepUntilBufferedAmountLow(200, Timeout.Infinite));
        var second = Task.Run(() => channel.SleepUntilBufferedAmountLow(200, Timeout.Infinite));
        await Eventually(() => channel.LowSubscribers == 2, "both sleeps listen");

        channel.Drain(300);

        Assert.Equal(new[] { true, true }, await Task.WhenAll(first, second).Within());
        Assert.Equal(0, channel.TotalSubscribers);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task ARealPollingLoop_OnAThread_RewrittenToTheBoundedSleep(bool raisesLowEvent)
    {
        using var link = new InMemoryLinkChannel(new InMemoryLinkOptions(bitsPerSecond: 80_000_000, raisesBufferedAmountLow: raisesLowEvent));
        var chunk = new byte[16 * 1024];

        await Task.Run(() =>
        {
            for (var sent = 0; sent < 4 * 1024 * 1024; sent += chunk.Length)
            {
                while (link.BufferedAmount > 65536)
                {
                    if (link.State != BufferedChannelState.Open)
                    {
                        throw new IOException("closed");
                    }

                    link.SleepUntilBufferedAmountLow(65536, 5);
                }

                link.Send(chunk);
            }
        }).Within();

        Assert.InRange(link.PeakBufferedAmount, 0, 65536 + chunk.Length);
    }
}
