using Backpressure;
using Backpressure.Internal;
using Microsoft.Extensions.Time.Testing;
using static Backpressure.Runtime.Tests.TestUtil;

namespace Backpressure.Runtime.Tests;

/// <summary>
/// With the low event and the default options, a whole-payload send raises its thresholds when it measures that it
/// comes back from the event more slowly than the queue left at the event lasts, caps the raise, lowers it again
/// when it comes back fast, and never moves a threshold the caller gave. Deterministic: a fake clock, and a
/// channel the test drains by hand. The estimator's own tests use small numbers; the sends use the defaults.
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
        var time = new FakeTimeProvider();
        var estimator = new DrainRateEstimator();
        estimator.BeginTransfer(time);
        Assert.Equal(0, estimator.ThresholdRaise(Low, 2 * Low, lowEvent: true));

        // 1,000,000 B/s, and back at Send 100 µs after each event: the 1,000 bytes at the event last 1 ms.
        Cycle(estimator, time, sent: 1000, cycle: Ms(1), away: Ms(0.1), times: 20);
        Assert.Equal(0, estimator.ThresholdRaise(Low, 2 * Low, lowEvent: true));
    }

    [Fact]
    public void Estimator_RaisesTheThreshold_ToHoldTwoAbsences_CappedAtSixteenTimesTheLowThreshold()
    {
        var time = new FakeTimeProvider();
        var estimator = new DrainRateEstimator();
        estimator.BeginTransfer(time);

        // 1,000,000 B/s, back 3 ms after each event: 6,000 bytes wanted at the event.
        Cycle(estimator, time, sent: 3000, cycle: TimeSpan.Zero, away: Ms(3), times: 40);
        Assert.InRange(Low + estimator.ThresholdRaise(Low, 2 * Low, lowEvent: true), 5900, 6000);

        // Back a second later, still at 1,000,000 B/s: the cap holds.
        Cycle(estimator, time, sent: 1_000_000, cycle: TimeSpan.Zero, away: TimeSpan.FromSeconds(1), times: 40);
        Assert.Equal(15 * Low, estimator.ThresholdRaise(Low, 2 * Low, lowEvent: true));

        // The no-event path keeps its own measure, the timer's shortest sleep (1 ms, 1.5 of them queued): the
        // event path's absences do not raise it.
        Assert.InRange(estimator.ThresholdRaise(Low, 2 * Low, lowEvent: false), 499, 500);
    }

    [Fact]
    public void Estimator_LowersTheRaise_WhenTheWayBackIsFastAgain_MoreSlowlyThanItRose()
    {
        var time = new FakeTimeProvider();
        var estimator = new DrainRateEstimator();
        estimator.BeginTransfer(time);
        Cycle(estimator, time, sent: 6000, cycle: Ms(3), away: Ms(3), times: 40);
        var raised = estimator.ThresholdRaise(Low, 2 * Low, lowEvent: true);

        Cycle(estimator, time, sent: 3000, cycle: Ms(3), away: TimeSpan.Zero, times: 4);
        var falling = estimator.ThresholdRaise(Low, 2 * Low, lowEvent: true);
        Assert.InRange(falling, 1, raised - 1);

        Cycle(estimator, time, sent: 3000, cycle: Ms(3), away: TimeSpan.Zero, times: 100);
        Assert.Equal(0, estimator.ThresholdRaise(Low, 2 * Low, lowEvent: true));
    }

    [Fact]
    public async Task SlowWayBack_RaisesTheDefaultThresholds_ThenFastOnesLowerThem()
    {
        var time = new FakeTimeProvider();
        var channel = new ManualChannel();
        var options = new BackpressureOptions(timeProvider: time);
        using var stop = new CancellationTokenSource();
        var transfer = channel.SendAsync(Payload(256 << 20), options, cancellationToken: stop.Token);

        // The link drains 65,536 bytes per ms: the 64 KiB at the event last 1 ms, the way back takes 5.
        var slow = await DriveAsync(channel, time, highWatermarkAbove: low => low + DefaultLow, cycles: 30, away: Ms(5));
        Assert.True(slow.LastThreshold > 5 * DefaultLow, $"a 5 ms way back raises the low threshold (655,360 wanted), got {slow.LastThreshold}");
        Assert.InRange(slow.DeepestQueue, (2 * DefaultLow) + Chunk + 1, slow.HighestThreshold + DefaultLow + Chunk); // past the un-raised bound

        var fast = await DriveAsync(channel, time, highWatermarkAbove: low => low + DefaultLow, cycles: 120, away: TimeSpan.Zero);
        Assert.Equal(DefaultLow, fast.LastThreshold);

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

    /// <summary>Closes <paramref name="times"/> drain cycles of the estimator: the event, then the way back, then the sends.</summary>
    private static void Cycle(DrainRateEstimator estimator, FakeTimeProvider time, long sent, TimeSpan cycle, TimeSpan away, int times)
    {
        for (var i = 0; i < times; i++)
        {
            var eventAt = time.GetTimestamp();
            estimator.OnLowEvent(eventAt, time);
            time.Advance(away);
            estimator.OnResumed(eventAt, time.GetTimestamp(), time);
            estimator.OnSent(sent);
            time.Advance(cycle);
        }
    }

    /// <summary>
    /// Plays a link draining 65,536 bytes per millisecond behind a sender that comes back <paramref name="away"/>
    /// after each low event: once the sender has parked above its high watermark, the clock moves by the time the
    /// queue takes to drain to the channel's low threshold and the queue drains (the event, raised on this
    /// thread); at the sender's next Send the clock moves by <paramref name="away"/> and the link drains meanwhile.
    /// </summary>
    private static async Task<(long LastThreshold, long HighestThreshold, long DeepestQueue)> DriveAsync(
        ManualChannel channel, FakeTimeProvider time, Func<long, long> highWatermarkAbove, int cycles, TimeSpan away)
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
            time.Advance(Ms((double)excess / bytesPerMs));
            Volatile.Write(ref awayPending, 1);
            channel.Drain(excess);
        }

        await Eventually(() => channel.BufferedAmount > highWatermarkAbove(channel.BufferedAmountLowThreshold), "the sender parks again");
        channel.BeforeSend = null;
        return (channel.BufferedAmountLowThreshold, Math.Max(highest, channel.BufferedAmountLowThreshold), deepest);
    }
}
