using Backpressure;
using Backpressure.Internal;
using static Backpressure.Runtime.Tests.TestUtil;

namespace Backpressure.Runtime.Tests;

/// <summary>Channels without a low event (SIPSorcery today) are paced by the measured drain rate, not a fixed interval.</summary>
public sealed class FallbackTests
{
    private static TimeSpan Ms(double milliseconds) => TimeSpan.FromMilliseconds(milliseconds);

    [Fact]
    public async Task WakesWhenTheMeasuredDrainRate_SaysTheQueueReachesTheLowThreshold()
    {
        var time = new RecordingTimeProvider();
        var channel = new ManualChannel(supportsLowEvent: false);
        var options = new BackpressureOptions(chunkSize: 100, lowThreshold: 100, highWatermark: 300, timeProvider: time);
        var transfer = channel.SendAsync(Payload(2000), options);
        await Eventually(() => channel.SendCount == 4, "the transfer parks at 400 bytes");

        // Nothing measured yet: a short probe.
        Assert.Equal(Ms(1), await time.NextWakeAsync());

        // 10 bytes left in 1 ms: 10,000 B/s, so the 290 bytes above the threshold need 29 ms.
        channel.Drain(10);
        time.Fake.Advance(Ms(1));
        Assert.Equal(Ms(29), await time.NextWakeAsync());
        Assert.Equal(4, channel.SendCount);

        // At the predicted time the queue is at the threshold: three chunks go, then 300 bytes need 30 ms.
        channel.Drain(290);
        time.Fake.Advance(Ms(29));
        Assert.Equal(Ms(30), await time.NextWakeAsync());
        Assert.Equal(7, channel.SendCount);

        Assert.Equal(0, channel.LowSubscribers); // no event to listen to
        channel.RaiseClosed();
        var ex = await Assert.ThrowsAsync<ChannelClosedException>(() => transfer.Within());
        Assert.Equal(700, ex.BytesSent);
    }

    [Fact]
    public async Task StalledQueue_BacksOffExponentially_UpToTheMaximumDelay()
    {
        var time = new RecordingTimeProvider();
        var channel = new ManualChannel(supportsLowEvent: false);
        var transfer = channel.SendAsync(Payload(2000), new BackpressureOptions(chunkSize: 100, lowThreshold: 100, highWatermark: 300, timeProvider: time));
        await Eventually(() => channel.SendCount == 4, "the transfer parks");

        var delays = new List<TimeSpan>();
        for (var i = 0; i < 8; i++)
        {
            var delay = await time.NextWakeAsync();
            delays.Add(delay);
            time.Fake.Advance(delay);
        }

        Assert.Equal([Ms(1), Ms(2), Ms(4), Ms(8), Ms(16), Ms(32), Ms(50), Ms(50)], delays);
        Assert.Equal(4, channel.SendCount);
        channel.RaiseClosed();
        await Assert.ThrowsAsync<ChannelClosedException>(() => transfer.Within());
    }

    [Fact]
    public async Task CloseDuringAFallbackWait_FaultsAtOnce_WithoutWaitingForTheTimer()
    {
        var time = new RecordingTimeProvider();
        var channel = new ManualChannel(supportsLowEvent: false);
        var transfer = channel.SendAsync(Payload(2000), new BackpressureOptions(chunkSize: 100, lowThreshold: 100, highWatermark: 300, timeProvider: time));
        await time.NextWakeAsync();

        channel.RaiseClosed(); // fake time never advances: only the event can end the wait

        await Assert.ThrowsAsync<ChannelClosedException>(() => transfer.Within());
    }

    [Fact]
    public async Task AChannelWithTheEvent_NeverUsesTheFallback()
    {
        var time = new RecordingTimeProvider();
        var channel = new ManualChannel(supportsLowEvent: true);
        var transfer = channel.SendAsync(Payload(2000), new BackpressureOptions(chunkSize: 100, lowThreshold: 100, highWatermark: 300, timeProvider: time));
        await Eventually(() => channel.SendCount == 4, "the transfer parks");

        using var pump = new Timer(_ => channel.DrainAll(), null, 0, 1);
        await transfer.Within();

        Assert.Equal(0, time.TimersCreated);
    }

    [Fact]
    public async Task CoarseTimer_OnAFastLink_RaisesTheThresholds_SoTheQueueOutlastsTheSleep_WithinSixteenTimesLow()
    {
        // A 1,000,000 B/s link (1 byte per microsecond) behind a timer that fires 4 ms late: at the configured
        // 1,000/2,000 bytes the queue would empty in 2 ms of every 5 ms sleep and the link would idle.
        var time = new RecordingTimeProvider { TimerLateness = Ms(4) };
        var channel = new ManualChannel(supportsLowEvent: false);
        var transfer = channel.SendAsync(Payload(300_000), new BackpressureOptions(chunkSize: 500, lowThreshold: 1000, timeProvider: time)); // high derived: 2,000

        var emptyAtWake = new List<bool>();
        long deepestResume = 0;
        await DriveLateTimerLinkAsync(time, channel, transfer, bytesPerMicrosecond: 1, (parked, slept) =>
        {
            deepestResume = Math.Max(deepestResume, parked);
            emptyAtWake.Add(parked <= (long)slept.TotalMicroseconds);
        });

        // The first five sleeps measure the rate and the lateness; from then on the queue holds 1.5 real sleeps
        // (1.5 x 5 ms = 7,500 bytes) when the sender parks, so no sleep finds it empty.
        Assert.InRange(deepestResume, 7_500, (16 * 1000) + 1000 + 500);
        Assert.True(!emptyAtWake.Skip(5).Contains(true), string.Join(",", emptyAtWake.Select(e => e ? "E" : ".")) + " deepest " + deepestResume);
    }

    [Fact]
    public async Task RaisedThresholds_AreCappedAtSixteenTimesLow_AndNeverApplyToAnExplicitWait()
    {
        var time = new RecordingTimeProvider { TimerLateness = Ms(20) };
        var channel = new ManualChannel(supportsLowEvent: false);
        var transfer = channel.SendAsync(Payload(400_000), new BackpressureOptions(chunkSize: 500, lowThreshold: 1000, timeProvider: time)); // high derived: 2,000

        // 10,000,000 B/s behind a 20 ms late timer would want 315,000 bytes queued: the cap is 16 x 1,000.
        var wake = await DriveLateTimerLinkAsync(time, channel, transfer, bytesPerMicrosecond: 10);
        Assert.InRange(channel.PeakBuffered, 9000, (16 * 1000) + 1000 + 500);

        // The same channel, with its fast rate measured: an explicit wait still means "at or under 1,000".
        channel.DrainAll();
        channel.Send(new byte[5000]);
        var wait = channel.WaitForBufferedAmountLowAsync(1000, time).AsTask();
        await wake.Within();
        channel.Drain(channel.BufferedAmount - 1500);
        time.Fake.Advance(Ms(25));
        await time.NextWakeAsync(); // 1,500 bytes left: it sleeps again instead of returning
        Assert.False(wait.IsCompleted);
        channel.Drain(500);
        time.Fake.Advance(Ms(25));
        await wait.Within();
    }

    [Fact]
    public async Task AGivenHighWatermark_StaysTheBound_OnTheFallback_WhileTheLowThresholdRisesUpToIt()
    {
        var time = new RecordingTimeProvider { TimerLateness = Ms(4) };
        var channel = new ManualChannel(supportsLowEvent: false);
        var transfer = channel.SendAsync(Payload(300_000), new BackpressureOptions(chunkSize: 500, lowThreshold: 1000, highWatermark: 4000, timeProvider: time));

        long deepestPark = 0, shallowestPark = long.MaxValue;
        var sleeps = 0;
        await DriveLateTimerLinkAsync(time, channel, transfer, bytesPerMicrosecond: 1, (parked, _) =>
        {
            deepestPark = Math.Max(deepestPark, parked);
            if (sleeps++ >= 5)
            {
                shallowestPark = Math.Min(shallowestPark, parked);
            }
        });

        // The caller's 4,000 holds (plus the one chunk that crosses it); the raised low threshold makes the
        // sender top the queue up whenever it is at or under 4,000, not only once it falls to 1,000.
        Assert.InRange(channel.PeakBuffered, 4000, 4000 + 500);
        Assert.InRange(deepestPark, 4001, 4500);
        Assert.True(shallowestPark > 4000, $"parked at {shallowestPark}");
    }

    [Fact]
    public async Task CancelledWaits_DoNotCountAsATimerThatFiredOnTime()
    {
        var time = new RecordingTimeProvider { TimerLateness = Ms(4) };
        var channel = new ManualChannel(supportsLowEvent: false);
        var options = new BackpressureOptions(chunkSize: 500, lowThreshold: 1000, timeProvider: time);
        var transfer = channel.SendAsync(Payload(100_000), options);
        var wake = await DriveLateTimerLinkAsync(time, channel, transfer, bytesPerMicrosecond: 1);
        var estimator = ChannelCoordinator.For(channel).DrainRate;
        var raise = estimator.ThresholdRaise(1000, 2000, lowEvent: false);
        Assert.True(raise > 0, "a 4 ms late timer on a 1,000,000 B/s link raises the thresholds");

        // Three sends cancelled while they sleep: each wakes early, and none is a measurement of the timer.
        for (var i = 0; i < 3; i++)
        {
            using var cancel = new CancellationTokenSource();
            var cancelled = channel.SendAsync(Payload(100_000), options, cancellationToken: cancel.Token);
            await wake.Within();
            wake = Task.Run(time.NextWakeAsync);
            cancel.Cancel();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cancelled.Within());
        }

        Assert.Equal(raise, estimator.ThresholdRaise(1000, 2000, lowEvent: false));
    }

    /// <summary>
    /// Plays a link draining <paramref name="bytesPerMicrosecond"/> behind the late timer until the transfer ends:
    /// at each timer the sender arms, reports the queue as the sender left it and the real sleep, drains what
    /// that sleep drains, and moves the clock. Returns the next wake, still pending, for tests that go on.
    /// </summary>
    private static async Task<Task<TimeSpan>> DriveLateTimerLinkAsync(
        RecordingTimeProvider time, ManualChannel channel, Task transfer, double bytesPerMicrosecond, Action<long, TimeSpan>? onPark = null)
    {
        var wake = Task.Run(time.NextWakeAsync);
        while (await Task.WhenAny(wake, transfer.Within()) == wake)
        {
            var slept = await wake + time.TimerLateness;
            wake = Task.Run(time.NextWakeAsync);
            onPark?.Invoke(channel.BufferedAmount, slept);
            channel.Drain((long)(slept.TotalMicroseconds * bytesPerMicrosecond));
            time.Fake.Advance(slept);
        }

        await transfer.Within();
        return wake;
    }

    [Fact]
    public void Estimator_IgnoresIdleTime_WhenTheQueueRanEmpty()
    {
        var time = new RecordingTimeProvider();
        var estimator = new DrainRateEstimator();
        var t0 = time.GetTimestamp();

        estimator.Observe(1000, t0, 100, time);
        time.Fake.Advance(Ms(10));
        Assert.Equal(Ms(8), estimator.Observe(500, time.GetTimestamp(), 100, time)); // 50,000 B/s; 400 bytes to go

        time.Fake.Advance(TimeSpan.FromSeconds(10)); // the queue emptied long ago and sat idle
        estimator.Observe(0, time.GetTimestamp(), 100, time);

        Assert.Equal(50_000, estimator.BytesPerSecond);
    }

    [Fact]
    public void Estimator_KeepsTheRateAcrossTransfers_ButNotTheIdleGapBetweenThem()
    {
        var time = new RecordingTimeProvider();
        var estimator = new DrainRateEstimator();
        estimator.BeginTransfer(time);
        estimator.Observe(1000, time.GetTimestamp(), 100, time);
        time.Fake.Advance(Ms(10));
        estimator.Observe(500, time.GetTimestamp(), 100, time); // 50,000 B/s

        time.Fake.Advance(TimeSpan.FromSeconds(10));
        estimator.BeginTransfer(time);
        estimator.OnSent(800);

        // The next transfer's first pause is predicted from the known rate: 700 bytes at 50,000 B/s.
        Assert.Equal(Ms(14), estimator.Observe(800, time.GetTimestamp(), 100, time));
        Assert.Equal(50_000, estimator.BytesPerSecond);
    }

    [Fact]
    public void Estimator_ForgetsTheRate_WhenTheClockChanges()
    {
        var first = new RecordingTimeProvider();
        var estimator = new DrainRateEstimator();
        estimator.BeginTransfer(first);
        estimator.Observe(1000, first.GetTimestamp(), 100, first);
        first.Fake.Advance(Ms(10));
        estimator.Observe(500, first.GetTimestamp(), 100, first);

        estimator.BeginTransfer(new RecordingTimeProvider());

        Assert.Equal(0, estimator.BytesPerSecond);
    }
}
