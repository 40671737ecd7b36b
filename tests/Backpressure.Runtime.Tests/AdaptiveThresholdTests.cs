using Backpressure;
using Backpressure.Internal;
using Microsoft.Extensions.Time.Testing;
using static Backpressure.Runtime.Tests.TestUtil;

namespace Backpressure.Runtime.Tests;

/// <summary>
/// With the low event and the default options, a whole-payload send raises its thresholds when it measures that it
/// came back from the event more slowly than the queue left at the event lasts (the slowest recent way back, not the
/// average), leaves them alone while the queue covers the way back, caps the raise, forgets it by half every second
/// once it comes back fast, and never moves a threshold the caller gave. Deterministic: a fake clock, and a channel
/// the test drains by hand. The estimator's own tests use small numbers; the sends use the defaults.
/// </summary>
public sealed class AdaptiveThresholdTests
{
    private const int Chunk = BackpressureOptions.DefaultChunkSize;
    private const long Low = 1000;
    private const long DefaultLow = BackpressureOptions.DefaultLowThreshold;

    private static TimeSpan Ms(double milliseconds) => TimeSpan.FromMilliseconds(milliseconds);

    [Fact]
    public void Estimator_RaisesNothing_UntilItHasARate_OrWhenTheWayBackIsShort()
    {
        var (time, estimator) = Started();
        Assert.Equal(0, estimator.ThresholdRaise(Low, 2 * Low, lowEvent: true));

        // 1,000,000 B/s, and back at Send 100 µs after each event: the 1,000 bytes at the event last 1 ms.
        Cycle(estimator, time, sent: 1000, cycle: Ms(1), away: Ms(0.1), times: 20);
        Assert.Equal(0, estimator.ThresholdRaise(Low, 2 * Low, lowEvent: true));
    }

    [Fact]
    public void Estimator_RaisesTheThreshold_ToHoldTheSlowestWayBack_CappedAtSixteenTimesTheLowThreshold()
    {
        var (time, estimator) = Started();

        // 1,000,000 B/s; back 100 µs after the event 38 times, then after 2 ms and after 3 ms. The slowest way back
        // counts, not the average (220 µs): the queue at the event is sized for 3 ms and half again, 4,500 bytes.
        Cycle(estimator, time, sent: 3000, cycle: Ms(2.9), away: Ms(0.1), times: 38);
        Assert.Equal(0, estimator.ThresholdRaise(Low, 2 * Low, lowEvent: true));
        Cycle(estimator, time, sent: 3000, cycle: Ms(1), away: Ms(2), times: 1);
        Cycle(estimator, time, sent: 3000, cycle: TimeSpan.Zero, away: Ms(3), times: 1);
        Assert.InRange(Low + estimator.ThresholdRaise(Low, 2 * Low, lowEvent: true), 4490, 4500);

        // Back a second later, still at 1,000,000 B/s: the cap holds.
        Cycle(estimator, time, sent: 1_000_000, cycle: TimeSpan.Zero, away: TimeSpan.FromSeconds(1), times: 40);
        Assert.Equal(15 * Low, estimator.ThresholdRaise(Low, 2 * Low, lowEvent: true));

        // The no-event path keeps its own measure, the timer's shortest sleep (1 ms, 1.5 of them queued): the
        // event path's absences do not raise it.
        Assert.InRange(estimator.ThresholdRaise(Low, 2 * Low, lowEvent: false), 499, 500);
    }

    [Fact]
    public void Estimator_BeginsTheRaise_OnlyOnceTwoWaysBackOutlastedTheQueue_AndKeepsTheMarginUntilItFits()
    {
        var (time, estimator) = Started();

        // 1,000,000 B/s: the 1,000 bytes at the event last 1 ms. Back after 0.8 ms: covered, if only just, so nothing
        // is raised, though half again of 0.8 ms (1,200 bytes) would not fit.
        Cycle(estimator, time, sent: 1000, cycle: Ms(0.2), away: Ms(0.8), times: 20);
        Assert.Equal(0, estimator.ThresholdRaise(Low, 2 * Low, lowEvent: true));

        // Back after 2 ms once: the link idled, but one accident is no pattern. A second time, 100 ms later, is one:
        // sized for the slowest, 2 ms, and half again.
        Cycle(estimator, time, sent: 1000, cycle: TimeSpan.Zero, away: Ms(2), times: 1);
        Assert.Equal(0, estimator.ThresholdRaise(Low, 2 * Low, lowEvent: true));
        Cycle(estimator, time, sent: 1000, cycle: Ms(1), away: TimeSpan.Zero, times: 100);
        Cycle(estimator, time, sent: 1000, cycle: TimeSpan.Zero, away: Ms(1.5), times: 1);
        Assert.InRange(Low + estimator.ThresholdRaise(Low, 2 * Low, lowEvent: true), 2750, 2810);

        // 1.4 s of 1 ms cycles later the slowest counts as 0.71 ms, which the queue would cover; but the raise has
        // begun, and with its margin (1,060 bytes) it still does not fit: it stays.
        Cycle(estimator, time, sent: 1000, cycle: Ms(1), away: TimeSpan.Zero, times: 1400);
        Assert.InRange(Low + estimator.ThresholdRaise(Low, 2 * Low, lowEvent: true), 1050, 1070);

        // Once it fits under the requested threshold with its margin, a covered wake-up raises nothing again.
        Cycle(estimator, time, sent: 1000, cycle: Ms(1), away: TimeSpan.Zero, times: 1000);
        Assert.Equal(0, estimator.ThresholdRaise(Low, 2 * Low, lowEvent: true));
        time.Advance(TimeSpan.FromSeconds(10));
        Cycle(estimator, time, sent: 1000, cycle: Ms(0.2), away: Ms(0.8), times: 5);
        Assert.Equal(0, estimator.ThresholdRaise(Low, 2 * Low, lowEvent: true));
    }

    [Fact]
    public void Estimator_CountsOnlyWhatDrained_WhenTheThresholdMovedBetweenTwoEvents()
    {
        var (time, estimator) = Started();

        // At the first event the queue stands at 1,000; the sender refills it for a threshold raised to 5,000 and
        // 3,000 bytes more; 3 ms later it is back at 5,000. 3,000 bytes drained, not the 7,000 sent: 1,000,000 B/s.
        estimator.OnLowEvent(time.GetTimestamp(), 1000, time);
        estimator.OnSent(7000);
        time.Advance(Ms(3));
        estimator.OnLowEvent(time.GetTimestamp(), 5000, time);
        Assert.Equal(1_000_000, estimator.BytesPerSecond, 1.0);

        // And back down: the queue falls from 5,000 to 1,000 while 2,000 more go in, over 6 ms.
        estimator.OnSent(2000);
        time.Advance(Ms(6));
        estimator.OnLowEvent(time.GetTimestamp(), 1000, time);
        Assert.Equal(1_000_000, estimator.BytesPerSecond, 1.0);
    }

    [Fact]
    public void Estimator_ForgetsASlowWayBack_HalfEverySecond_OnceTheWayBackIsFast()
    {
        var (time, estimator) = Started();
        Cycle(estimator, time, sent: 3000, cycle: TimeSpan.Zero, away: Ms(3), times: 10);
        Assert.InRange(Low + estimator.ThresholdRaise(Low, 2 * Low, lowEvent: true), 4490, 4500);

        // A second of fast ways back (3 ms cycles at the same rate): the 3 ms counts as 1.5 ms.
        Cycle(estimator, time, sent: 3000, cycle: Ms(3), away: TimeSpan.Zero, times: 333);
        Assert.InRange(Low + estimator.ThresholdRaise(Low, 2 * Low, lowEvent: true), 2240, 2260);

        // Two more: 0.375 ms, whose 562 bytes the requested 1,000 already hold.
        Cycle(estimator, time, sent: 3000, cycle: Ms(3), away: TimeSpan.Zero, times: 667);
        Assert.Equal(0, estimator.ThresholdRaise(Low, 2 * Low, lowEvent: true));
    }

    [Fact]
    public void Estimator_OnANewChannel_StartsFromTheSlowWayBackAnotherChannelOnTheClockMeasured()
    {
        var time = new FakeTimeProvider();
        var first = new DrainRateEstimator();
        first.BeginTransfer(time);
        Cycle(first, time, sent: 3000, cycle: TimeSpan.Zero, away: Ms(3), times: 10);

        // A second channel on the same clock comes back fast every time: once it knows its rate, it is sized for the
        // 3 ms the first one measured (decayed by the 30 ms its own cycles took).
        var second = new DrainRateEstimator();
        second.BeginTransfer(time);
        Cycle(second, time, sent: 3000, cycle: Ms(3), away: TimeSpan.Zero, times: 10);
        Assert.InRange(Low + second.ThresholdRaise(Low, 2 * Low, lowEvent: true), 4400, 4500);

        // A channel on another clock has measured nothing of its own.
        var otherTime = new FakeTimeProvider();
        var third = new DrainRateEstimator();
        third.BeginTransfer(otherTime);
        Cycle(third, otherTime, sent: 3000, cycle: Ms(3), away: TimeSpan.Zero, times: 10);
        Assert.Equal(0, third.ThresholdRaise(Low, 2 * Low, lowEvent: true));
    }

    [Fact]
    public void Estimator_StartsATransferAfterAQuietSpell_AtTheRequestedThreshold()
    {
        var (time, estimator) = Started();
        Cycle(estimator, time, sent: 3000, cycle: TimeSpan.Zero, away: Ms(3), times: 10);

        // The next transfer on the channel, half a second later: still raised, by less.
        time.Advance(Ms(500));
        estimator.BeginTransfer(time);
        Assert.InRange(Low + estimator.ThresholdRaise(Low, 2 * Low, lowEvent: true), 3170, 3190);

        // Ten seconds later: the rate is remembered, the slow way back is not.
        time.Advance(TimeSpan.FromSeconds(10));
        estimator.BeginTransfer(time);
        Assert.Equal(1_000_000, estimator.BytesPerSecond, 1.0);
        Assert.Equal(0, estimator.ThresholdRaise(Low, 2 * Low, lowEvent: true));
    }

    [Fact]
    public void Estimator_CountsTheQueueGoneBeforeTheSenderResumed_AsTimeAway_ThoughTheEventCameToNoClocksNotice()
    {
        var (time, estimator) = Started();
        Cycle(estimator, time, sent: 1000, cycle: Ms(1), away: Ms(0.1), times: 20);

        // Back at Send the instant the event came, but the event came late: 900 of the 1,000 bytes had gone, 0.9 ms.
        var eventAt = time.GetTimestamp();
        estimator.OnLowEvent(eventAt, Low, time);
        estimator.OnResumed(eventAt, eventAt, amountAtResume: 100, Low, time);
        estimator.OnLowEvent(eventAt, Low, time);
        estimator.OnResumed(eventAt, eventAt, amountAtResume: 100, Low, time);
        Assert.Equal(0, estimator.ThresholdRaise(Low, 2 * Low, lowEvent: true)); // covered, if only just: no raise

        // Twice the queue was found empty: the link idled, for how long nobody can tell, and the raise begins. An empty
        // queue counts as twice the 1 ms the 1,000 bytes last, and the raise wants that and half again: 3,000 bytes.
        estimator.OnResumed(eventAt, eventAt, amountAtResume: 0, Low, time);
        Assert.Equal(0, estimator.ThresholdRaise(Low, 2 * Low, lowEvent: true));
        estimator.OnResumed(eventAt, eventAt, amountAtResume: 0, Low, time);
        Assert.InRange(estimator.ThresholdRaise(Low, 2 * Low, lowEvent: true), (2 * Low) - 1, (2 * Low) + 1);
    }

    [Fact]
    public async Task ALateEvent_RaisesTheDefaultThresholds_ThoughTheSenderIsBackAtOnce()
    {
        var time = new FakeTimeProvider();
        var channel = new ManualChannel();
        using var stop = new CancellationTokenSource();
        var transfer = channel.SendAsync(Payload(256 << 20), new BackpressureOptions(timeProvider: time), cancellationToken: stop.Token);

        // The transport's thread notices each crossing 3 ms late, when the 1 ms of queue at the event is long gone.
        var result = await DriveAsync(channel, time, highWatermarkAbove: low => low + DefaultLow, cycles: 30, away: TimeSpan.Zero, lateBy: Ms(3));
        Assert.True(result.LastThreshold > 2 * DefaultLow, $"an event late by 3 ms raises the low threshold, got {result.LastThreshold}");

        stop.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => transfer.Within());
    }

    [Fact]
    public async Task SlowWayBack_RaisesTheDefaultThresholds_AndTheNextTransferAfterAQuietSpellStartsUnraised()
    {
        var time = new FakeTimeProvider();
        var channel = new ManualChannel();
        var options = new BackpressureOptions(timeProvider: time);
        using (var stop = new CancellationTokenSource())
        {
            var transfer = channel.SendAsync(Payload(256 << 20), options, cancellationToken: stop.Token);

            // The link drains 65,536 bytes per ms: the 64 KiB at the event last 1 ms, the way back takes 5.
            var slow = await DriveAsync(channel, time, highWatermarkAbove: low => low + DefaultLow, cycles: 30, away: Ms(5));
            Assert.True(slow.LastThreshold > 5 * DefaultLow, $"a 5 ms way back raises the low threshold (491,520 wanted), got {slow.LastThreshold}");
            Assert.InRange(slow.DeepestQueue, (2 * DefaultLow) + Chunk + 1, slow.HighestThreshold + DefaultLow + Chunk); // past the un-raised bound

            // Fast ways back within the same transfer keep it raised for now: the next stall finds the queue deep.
            var fast = await DriveAsync(channel, time, highWatermarkAbove: low => low + DefaultLow, cycles: 20, away: TimeSpan.Zero);
            Assert.True(fast.LastThreshold > 5 * DefaultLow, $"20 fast cycles (25 ms) keep most of the raise, got {fast.LastThreshold}");

            stop.Cancel();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => transfer.Within());
        }

        // Ten quiet seconds later the next transfer on the channel parks at the requested thresholds.
        channel.DrainAll();
        time.Advance(TimeSpan.FromSeconds(10));
        using (var stop = new CancellationTokenSource())
        {
            var transfer = channel.SendAsync(Payload(256 << 20), options, cancellationToken: stop.Token);
            var quiet = await DriveAsync(channel, time, highWatermarkAbove: low => low + DefaultLow, cycles: 5, away: TimeSpan.Zero);
            Assert.Equal(DefaultLow, quiet.HighestThreshold);

            stop.Cancel();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => transfer.Within());
        }
    }

    [Fact]
    public async Task AWayBackTheQueueCovers_LeavesTheDefaultThresholdsAlone()
    {
        var time = new FakeTimeProvider();
        var channel = new ManualChannel();
        using var stop = new CancellationTokenSource();
        var transfer = channel.SendAsync(Payload(256 << 20), new BackpressureOptions(timeProvider: time), cancellationToken: stop.Token);

        // The 64 KiB at the event last 1 ms; the sender is back after 0.8 ms every time: the link never idles.
        var result = await DriveAsync(channel, time, highWatermarkAbove: low => low + DefaultLow, cycles: 30, away: Ms(0.8));
        Assert.Equal(DefaultLow, result.HighestThreshold);
        Assert.InRange(channel.PeakBuffered, (2 * DefaultLow) + 1, (2 * DefaultLow) + Chunk);

        stop.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => transfer.Within());
    }

    [Fact]
    public async Task TheRaise_IsCapped_SoTheQueueStaysWithinSixteenTimesTheLowThreshold()
    {
        var time = new FakeTimeProvider();
        var channel = new ManualChannel();
        using var stop = new CancellationTokenSource();
        var transfer = channel.SendAsync(Payload(256 << 20), new BackpressureOptions(timeProvider: time), cancellationToken: stop.Token);

        // The whole queue, chunk included, stays within 16 x the low threshold: 1 MiB at the defaults.
        var result = await DriveAsync(channel, time, highWatermarkAbove: low => low + DefaultLow, cycles: 40, away: TimeSpan.FromSeconds(1));
        Assert.Equal((16 * DefaultLow) - DefaultLow - Chunk, result.HighestThreshold);
        Assert.InRange(channel.PeakBuffered, (16 * DefaultLow) - Chunk + 1, 16 * DefaultLow);

        stop.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => transfer.Within());
    }

    [Theory]
    [InlineData(DefaultLow, 3 * DefaultLow)] // a given high watermark
    [InlineData(256 * 1024, null)]           // a given low threshold
    public async Task ThresholdsTheCallerGave_NeverMove_OnTheEventPath(long low, long? high)
    {
        var time = new FakeTimeProvider();
        var channel = new ManualChannel();
        var options = new BackpressureOptions(lowThreshold: low, highWatermark: high, timeProvider: time);
        using var stop = new CancellationTokenSource();
        var transfer = channel.SendAsync(Payload(256 << 20), options, cancellationToken: stop.Token);

        var result = await DriveAsync(channel, time, highWatermarkAbove: _ => options.HighWatermark, cycles: 30, away: TimeSpan.FromSeconds(1));
        Assert.Equal(low, result.HighestThreshold);
        Assert.InRange(channel.PeakBuffered, options.HighWatermark + 1, options.HighWatermark + Chunk);

        stop.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => transfer.Within());
    }

    [Fact]
    public async Task WaitForBufferedAmountLowAsync_KeepsTheThresholdItWasGiven()
    {
        var time = new FakeTimeProvider();
        var channel = new ManualChannel();
        using var stop = new CancellationTokenSource();
        var transfer = channel.SendAsync(Payload(256 << 20), new BackpressureOptions(timeProvider: time), cancellationToken: stop.Token);
        await DriveAsync(channel, time, highWatermarkAbove: low => low + DefaultLow, cycles: 20, away: TimeSpan.FromSeconds(1));
        stop.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => transfer.Within());

        // The raise is the whole-payload send's pacing; a wait for a threshold the caller names waits for that one.
        channel.DrainAll();
        channel.Fill(5 * DefaultLow);
        var wait = channel.WaitForBufferedAmountLowAsync(DefaultLow);
        await Eventually(() => channel.BufferedAmountLowThreshold == DefaultLow, "the wait sets the threshold it was given");
        channel.Drain(4 * DefaultLow);
        await wait.AsTask().Within();
    }

    /// <summary>An estimator whose first transfer has begun, on a fake clock of its own.</summary>
    private static (FakeTimeProvider Time, DrainRateEstimator Estimator) Started()
    {
        var time = new FakeTimeProvider();
        var estimator = new DrainRateEstimator();
        estimator.BeginTransfer(time);
        return (time, estimator);
    }

    /// <summary>Closes <paramref name="times"/> drain cycles of the estimator: the event, then the way back, then the sends.</summary>
    private static void Cycle(DrainRateEstimator estimator, FakeTimeProvider time, long sent, TimeSpan cycle, TimeSpan away, int times)
    {
        for (var i = 0; i < times; i++)
        {
            var eventAt = time.GetTimestamp();
            estimator.OnLowEvent(eventAt, Low, time);
            time.Advance(away);
            estimator.OnResumed(eventAt, time.GetTimestamp(), amountAtResume: Low, Low, time);
            estimator.OnSent(sent);
            time.Advance(cycle);
        }
    }

    /// <summary>
    /// Plays a link draining 65,536 bytes per millisecond behind a sender that comes back <paramref name="away"/>
    /// after each low event: once the sender has parked above its high watermark, the clock moves by the time the
    /// queue takes to drain to the channel's low threshold and the queue drains (the event, raised on this
    /// thread); at the sender's next Send the clock moves by <paramref name="away"/> and the link drains meanwhile.
    /// A transport that notices the crossing late raises the event <paramref name="lateBy"/> after it, the link
    /// having drained on meanwhile.
    /// </summary>
    private static async Task<(long LastThreshold, long HighestThreshold, long DeepestQueue)> DriveAsync(
        ManualChannel channel, FakeTimeProvider time, Func<long, long> highWatermarkAbove, int cycles, TimeSpan away, TimeSpan lateBy = default)
    {
        const long bytesPerMs = DefaultLow;
        long highest = 0, deepest = 0;
        var awayPending = 0;
        channel.BeforeSend = _ =>
        {
            if (Interlocked.Exchange(ref awayPending, 0) == 1)
            {
                time.Advance(away);
                channel.Drain((long)(away.TotalMilliseconds * bytesPerMs));
            }
        };

        for (var i = 0; i < cycles; i++)
        {
            await Eventually(() => channel.BufferedAmount > highWatermarkAbove(channel.BufferedAmountLowThreshold), "the sender parks above its high watermark");
            await Task.Delay(2); // the sender arms its wait just after writing the threshold
            var threshold = channel.BufferedAmountLowThreshold;
            var excess = channel.BufferedAmount - threshold;
            highest = Math.Max(highest, threshold);
            deepest = Math.Max(deepest, channel.BufferedAmount);
            time.Advance(Ms((double)excess / bytesPerMs) + lateBy);
            Volatile.Write(ref awayPending, 1);
            channel.Drain(excess + (long)(lateBy.TotalMilliseconds * bytesPerMs));
        }

        await Eventually(() => channel.BufferedAmount > highWatermarkAbove(channel.BufferedAmountLowThreshold), "the sender parks again");
        channel.BeforeSend = null;
        return (channel.BufferedAmountLowThreshold, Math.Max(highest, channel.BufferedAmountLowThreshold), deepest);
    }
}
