using System.Linq.Expressions;
using Backpressure;
using static Backpressure.Runtime.Tests.TestUtil;

namespace Backpressure.Runtime.Tests;

/// <summary>
/// DelayUntilBufferedAmountLowAsync: the Task.Delay of a polling loop, woken early when the queue drains.
/// Fake time never advances unless the test says so, so "the delay passed" happens exactly when the test decides.
/// </summary>
public sealed class BoundedWaitTests
{
    private static readonly TimeSpan Delay = Ms(50);

    private static TimeSpan Ms(double milliseconds) => TimeSpan.FromMilliseconds(milliseconds);

    [Fact]
    public async Task ReturnsTrueSynchronously_WhenAlreadyAtOrBelowTheThreshold()
    {
        var channel = new ManualChannel();
        channel.Send(new byte[500]);

        var wait = channel.DelayUntilBufferedAmountLowAsync(500, 50);

        Assert.True(wait.IsCompletedSuccessfully);
        Assert.True(await wait);
        Assert.Equal(0, channel.TotalSubscribers);
        Assert.Equal(0, channel.BufferedAmountLowThreshold); // nothing was waited for, nothing was touched
    }

    [Fact]
    public async Task ReturnsTrue_WhenTheLowEventComesDuringTheWait()
    {
        var time = new RecordingTimeProvider();
        var channel = new ManualChannel();
        channel.Send(new byte[500]);

        var wait = channel.DelayUntilBufferedAmountLowAsync(200, Delay, time).AsTask();
        Assert.Equal(Delay, await time.NextWakeAsync());
        Assert.Equal(200, channel.BufferedAmountLowThreshold);
        Assert.Equal(3, channel.TotalSubscribers);

        channel.Drain(300); // fake time stands still: only the event can end the wait

        Assert.True(await wait.Within());
        Assert.Equal(0, channel.TotalSubscribers);
    }

    [Fact]
    public async Task ReturnsTrue_WhenTheQueueDrainsBetweenTheCheckAndTheWait()
    {
        var time = new RecordingTimeProvider();
        var channel = new ManualChannel();
        channel.Send(new byte[500]);

        // The transport drains, and raises its event, right after the wait has read the amount as still high.
        channel.AfterBufferedAmountRead = amount =>
        {
            if (amount > 200 && channel.HasLowSubscriber)
            {
                channel.AfterBufferedAmountRead = null;
                channel.Drain(300);
            }
        };

        Assert.True(await channel.DelayUntilBufferedAmountLowAsync(200, Delay, time).AsTask().Within());
        Assert.Equal(0, channel.TotalSubscribers);
    }

    [Fact]
    public async Task ASpuriousLowEvent_IsOnlyAHint_AndTheWaitGoesOn()
    {
        var time = new RecordingTimeProvider();
        var channel = new ManualChannel();
        channel.Send(new byte[500]);
        var wait = channel.DelayUntilBufferedAmountLowAsync(200, Delay, time).AsTask();
        await time.NextWakeAsync();

        channel.RaiseLow(); // the amount is still 500
        await Task.Delay(50);
        Assert.False(wait.IsCompleted);

        time.Fake.Advance(Delay);
        Assert.False(await wait.Within());
    }

    [Fact]
    public async Task ReturnsFalse_WhenTheDelayPassesFirst_AndNotBefore()
    {
        var time = new RecordingTimeProvider();
        var channel = new ManualChannel();
        channel.Send(new byte[500]);

        var wait = channel.DelayUntilBufferedAmountLowAsync(200, Delay, time).AsTask();
        await time.NextWakeAsync();
        time.Fake.Advance(Delay - Ms(1));
        await Task.Delay(50);
        Assert.False(wait.IsCompleted);

        time.Fake.Advance(Ms(1));
        Assert.False(await wait.Within());
        Assert.Equal(0, channel.TotalSubscribers);
    }

    [Fact]
    public async Task ATimerThatFiresEarly_IsArmedAgainForTheRest_NotTakenForTheEndOfTheDelay()
    {
        // A coarse system clock can make the timer fire a little before the delay has passed by the wait's clock.
        var time = new RecordingTimeProvider { TimerLateness = -Ms(2) };
        var channel = new ManualChannel();
        channel.Send(new byte[500]);

        var wait = channel.DelayUntilBufferedAmountLowAsync(200, Delay, time).AsTask(); // arms its timer before returning
        time.TimerLateness = TimeSpan.Zero;
        Assert.Equal(Delay, await time.NextWakeAsync());
        time.Fake.Advance(Delay - Ms(2)); // it fires here

        Assert.Equal(Ms(2), await time.NextWakeAsync());
        Assert.False(wait.IsCompleted);
        time.Fake.Advance(Ms(2));
        Assert.False(await wait.Within());
    }

    [Fact]
    public async Task ReturnsTrue_WhenTheQueueIsLowAsTheDelayEnds_EvenWithoutAnEvent()
    {
        var time = new RecordingTimeProvider();
        var channel = new ManualChannel();
        channel.Send(new byte[500]);
        var wait = channel.DelayUntilBufferedAmountLowAsync(200, Delay, time).AsTask();
        await time.NextWakeAsync();
        channel.BufferedAmountLowThreshold = 50; // someone else moved it: the crossing of 200 raises nothing

        channel.Drain(350);
        time.Fake.Advance(Delay);

        Assert.True(await wait.Within());
    }

    [Fact]
    public async Task ReturnsFalseOnce_WithoutThrowing_WhenTheChannelClosesDuringTheWait_ThenWaitsFullDelays()
    {
        var time = new RecordingTimeProvider();
        var channel = new ManualChannel();
        channel.Send(new byte[500]);

        var wait = channel.DelayUntilBufferedAmountLowAsync(200, Delay, time).AsTask();
        await time.NextWakeAsync();
        channel.RaiseClosed(); // fake time stands still: only the event can end the wait

        Assert.False(await wait.Within());
        Assert.Equal(0, channel.TotalSubscribers);

        // The loop goes round again on the closed channel: now each turn is the full delay, never a spin.
        var next = channel.DelayUntilBufferedAmountLowAsync(200, Delay, time).AsTask();
        Assert.Equal(Delay, await time.NextWakeAsync());
        await Task.Delay(50);
        Assert.False(next.IsCompleted);
        time.Fake.Advance(Delay);
        Assert.False(await next.Within());
    }

    [Fact]
    public async Task ReturnsFalseWithoutThrowing_WhenTheChannelReportsAnErrorDuringTheWait()
    {
        var time = new RecordingTimeProvider();
        var channel = new ManualChannel();
        channel.Send(new byte[500]);

        var wait = channel.DelayUntilBufferedAmountLowAsync(200, Delay, time).AsTask();
        await time.NextWakeAsync();
        channel.RaiseError("SCTP abort");

        Assert.False(await wait.Within());
        Assert.Equal(0, channel.TotalSubscribers);

        // The error ended that wait only: the next one on the still-open channel waits for the queue again.
        var next = channel.DelayUntilBufferedAmountLowAsync(200, Delay, time).AsTask();
        await time.NextWakeAsync();
        await Task.Delay(50);
        Assert.False(next.IsCompleted);
        channel.Drain(300);
        Assert.True(await next.Within());
    }

    [Theory]
    [InlineData(BufferedChannelState.Closed)]
    [InlineData(BufferedChannelState.Closing)]
    [InlineData(BufferedChannelState.Connecting)]
    public async Task WaitsTheFullDelay_OnAChannelNotOpenAtTheCall_ForTheTimerNotInASpin(BufferedChannelState state)
    {
        var time = new RecordingTimeProvider();
        var channel = new ManualChannel();
        channel.Send(new byte[500]);
        channel.State = state;
        var reads = 0;
        channel.AfterBufferedAmountRead = _ => Interlocked.Increment(ref reads);

        var wait = channel.DelayUntilBufferedAmountLowAsync(200, Delay, time).AsTask();
        Assert.Equal(Delay, await time.NextWakeAsync());
        time.Fake.Advance(Delay - Ms(1));
        await Task.Delay(50);

        Assert.False(wait.IsCompleted);
        Assert.Equal(0, channel.TotalSubscribers); // nothing to listen to on a channel that is not open
        Assert.InRange(Volatile.Read(ref reads), 1, 2); // the check at the call and the one before parking
        time.Fake.Advance(Ms(1));
        Assert.False(await wait.Within());
    }

    [Fact]
    public async Task ThrowsTaskCanceled_WhenTheTokenIsCancelledBeforeTheCall_AsTaskDelayDoes()
    {
        var channel = new ManualChannel();
        using var cts = new CancellationTokenSource();
        cts.Cancel();

        var ex = await Assert.ThrowsAsync<TaskCanceledException>(async () => await channel.DelayUntilBufferedAmountLowAsync(200, 50, cts.Token));

        Assert.Equal(cts.Token, ex.CancellationToken);
        Assert.Equal(0, channel.TotalSubscribers);
    }

    [Fact]
    public async Task ThrowsTaskCanceled_WhenTheTokenIsCancelledDuringTheWait()
    {
        var time = new RecordingTimeProvider();
        var channel = new ManualChannel();
        channel.Send(new byte[500]);
        using var cts = new CancellationTokenSource();
        var wait = channel.DelayUntilBufferedAmountLowAsync(200, Delay, time, cts.Token).AsTask();
        await time.NextWakeAsync();

        cts.Cancel();

        var ex = await Assert.ThrowsAsync<TaskCanceledException>(() => wait.Within());
        Assert.Equal(cts.Token, ex.CancellationToken);
        Assert.Equal(0, channel.TotalSubscribers);
    }

    [Fact]
    public async Task ZeroDelay_ReturnsFalseSynchronously_WhenAbove_AsTaskDelayZeroCompletesAtOnce()
    {
        var channel = new ManualChannel();
        channel.Send(new byte[500]);

        var wait = channel.DelayUntilBufferedAmountLowAsync(200, 0);

        Assert.True(wait.IsCompletedSuccessfully);
        Assert.False(await wait);
        Assert.Equal(0, channel.TotalSubscribers);
    }

    [Fact]
    public async Task InfiniteDelay_ArmsNoTimer_AndEndsOnTheLowEvent()
    {
        var time = new RecordingTimeProvider();
        var channel = new ManualChannel();
        channel.Send(new byte[500]);

        var wait = channel.DelayUntilBufferedAmountLowAsync(200, Timeout.InfiniteTimeSpan, time).AsTask();
        await Eventually(() => channel.LowSubscribers == 1, "the wait listens");
        time.Fake.Advance(TimeSpan.FromDays(365));
        await Task.Delay(50);
        Assert.False(wait.IsCompleted);

        channel.Drain(300);

        Assert.True(await wait.Within());
        Assert.Equal(0, time.TimersCreated);
    }

    [Fact]
    public async Task InvalidDelays_ThrowArgumentOutOfRange_NamingTheParameter_WhereTaskDelayThrows()
    {
        var channel = new ManualChannel();

        Assert.Equal("millisecondsDelay", Assert.Throws<ArgumentOutOfRangeException>(() => { _ = channel.DelayUntilBufferedAmountLowAsync(200, -2); }).ParamName);
        Assert.Equal("millisecondsDelay", Assert.Throws<ArgumentOutOfRangeException>(() => { _ = channel.DelayUntilBufferedAmountLowAsync(200UL, -2); }).ParamName);
        foreach (var invalid in new[] { Ms(-2), TimeSpan.FromDays(50), TimeSpan.MinValue })
        {
            Assert.Throws<ArgumentOutOfRangeException>(() => { _ = Task.Delay(invalid); });
            Assert.Equal("delay", Assert.Throws<ArgumentOutOfRangeException>(() => { _ = channel.DelayUntilBufferedAmountLowAsync(200, invalid); }).ParamName);
            Assert.Equal("delay", Assert.Throws<ArgumentOutOfRangeException>(() => { _ = channel.DelayUntilBufferedAmountLowAsync(200UL, invalid); }).ParamName);
        }

        // What Task.Delay accepts is accepted (the queue is empty, so these return at once).
        Assert.True(await channel.DelayUntilBufferedAmountLowAsync(200, Timeout.InfiniteTimeSpan));
        Assert.True(await channel.DelayUntilBufferedAmountLowAsync(200, TimeSpan.FromDays(49)));
        Assert.Throws<ArgumentNullException>(() => { _ = ((IBufferedChannel)null!).DelayUntilBufferedAmountLowAsync(200, 50); });
        Assert.Throws<ArgumentNullException>(() => { _ = channel.DelayUntilBufferedAmountLowAsync(200, Delay, timeProvider: null!); });
    }

    [Fact]
    public async Task NegativeThreshold_IsNeverReached_SoTheCallWaitsTheFullDelay_AndLeavesTheChannelThresholdAlone()
    {
        var time = new RecordingTimeProvider();
        var channel = new ManualChannel();
        channel.BufferedAmountLowThreshold = 7;

        var wait = channel.DelayUntilBufferedAmountLowAsync(-1, Delay, time).AsTask();
        Assert.Equal(Delay, await time.NextWakeAsync());
        Assert.Equal(7, channel.BufferedAmountLowThreshold);
        time.Fake.Advance(Delay);

        Assert.False(await wait.Within());
    }

    [Fact]
    public async Task UlongThreshold_AboveLongMaxValue_IsNoLimit()
    {
        var channel = new ManualChannel();
        channel.Send(new byte[500]);

        Assert.True(await channel.DelayUntilBufferedAmountLowAsync(ulong.MaxValue, 50));
        Assert.True(await channel.DelayUntilBufferedAmountLowAsync(ulong.MaxValue, Delay));
        Assert.True(await channel.DelayUntilBufferedAmountLowAsync(500UL, 50));
    }

    [Fact]
    public async Task TheContinuation_NeverRunsOnTheTransportThread()
    {
        var channel = new ManualChannel();
        channel.Send(new byte[500]);
        using var finished = new ManualResetEventSlim();
        var transportThreadId = 0;
        var transport = new Thread(() =>
        {
            transportThreadId = Environment.CurrentManagedThreadId;
            SpinWait.SpinUntil(() => channel.HasLowSubscriber, HangTimeout);
            channel.Drain(300);
            finished.Wait(HangTimeout); // alive until the assertion, so its id cannot be reused by a pool thread
        });

        var continuationThreadId = await Task.Run(async () =>
        {
            var wait = channel.DelayUntilBufferedAmountLowAsync(200, 60_000);
            transport.Start();
            Assert.True(await wait.ConfigureAwait(false));
            return Environment.CurrentManagedThreadId;
        }).Within();

        Assert.NotEqual(transportThreadId, continuationThreadId);
        finished.Set();
        transport.Join();
    }

    [Fact]
    public async Task NoEventChannel_WakesWhenTheMeasuredDrainRate_SaysTheQueueReachesTheThreshold()
    {
        var time = new RecordingTimeProvider();
        var channel = new ManualChannel(supportsLowEvent: false);
        channel.Send(new byte[1000]);
        var wait = channel.DelayUntilBufferedAmountLowAsync(100, TimeSpan.FromSeconds(1), time).AsTask();

        // Nothing measured yet: a short probe.
        Assert.Equal(Ms(1), await time.NextWakeAsync());
        Assert.Equal(0, channel.LowSubscribers);

        // 20 bytes left in 1 ms: 20,000 B/s, so the 880 bytes above the threshold need 44 ms.
        channel.Drain(20);
        time.Fake.Advance(Ms(1));
        Assert.Equal(Ms(44), await time.NextWakeAsync());

        channel.Drain(880); // no event: nothing looks until the predicted time
        await Task.Delay(50);
        Assert.False(wait.IsCompleted);

        time.Fake.Advance(Ms(44));
        Assert.True(await wait.Within());
        Assert.Equal(0, channel.TotalSubscribers);
    }

    [Fact]
    public async Task NoEventChannel_ReturnsTrueOnlyWhenTheQueueReallyIsLow_AndNeverWaitsPastTheDelay()
    {
        var time = new RecordingTimeProvider();
        var channel = new ManualChannel(supportsLowEvent: false);
        channel.Send(new byte[1000]);
        var wait = channel.DelayUntilBufferedAmountLowAsync(100, Ms(100), time).AsTask();
        await time.NextWakeAsync();
        channel.Drain(20);
        time.Fake.Advance(Ms(1));
        Assert.Equal(Ms(44), await time.NextWakeAsync());

        // The link slowed down: at the predicted time 400 bytes are still above the threshold, and then it stalls.
        channel.Drain(480);
        time.Fake.Advance(Ms(44));
        var slept = Ms(45);
        while (true)
        {
            var next = time.NextWakeAsync();
            if (await Task.WhenAny(next, wait).Within() == wait)
            {
                break;
            }

            slept += await next;
            time.Fake.Advance(await next);
        }

        Assert.False(await wait);
        Assert.Equal(Ms(100), slept); // it looked again meanwhile, and ended exactly at the delay
    }

    [Fact]
    public async Task NoEventChannel_EndsAtTheDelay_WhenThePredictionComesLater()
    {
        var time = new RecordingTimeProvider();
        var channel = new ManualChannel(supportsLowEvent: false);
        channel.Send(new byte[1000]);
        var wait = channel.DelayUntilBufferedAmountLowAsync(100, Ms(20), time).AsTask();
        await time.NextWakeAsync();
        channel.Drain(10);
        time.Fake.Advance(Ms(1));

        Assert.Equal(Ms(19), await time.NextWakeAsync()); // the next look is 50 ms away (the fallback's cap); the delay ends in 19
        time.Fake.Advance(Ms(19));

        Assert.False(await wait.Within());
    }

    [Fact]
    public async Task NoEventChannel_KeepsTheMeasuredRate_FromOneTurnOfTheLoopToTheNext()
    {
        var time = new RecordingTimeProvider();
        var channel = new ManualChannel(supportsLowEvent: false);
        channel.Send(new byte[1000]);
        var first = channel.DelayUntilBufferedAmountLowAsync(100, TimeSpan.FromSeconds(1), time).AsTask();
        await time.NextWakeAsync();
        channel.Drain(20);
        time.Fake.Advance(Ms(1));
        Assert.Equal(Ms(44), await time.NextWakeAsync());
        channel.Drain(880);
        time.Fake.Advance(Ms(44));
        Assert.True(await first.Within());

        // The next turn starts from the known 20,000 B/s: 900 bytes to go is 45 ms, no probing.
        channel.Send(new byte[900]);
        var second = channel.DelayUntilBufferedAmountLowAsync(100, TimeSpan.FromSeconds(1), time).AsTask();
        Assert.Equal(Ms(45), await time.NextWakeAsync());
        channel.Drain(900);
        time.Fake.Advance(Ms(45));
        Assert.True(await second.Within());
    }

    [Fact]
    public async Task NoEventChannel_TheWaitsOwnEstimate_LeavesTheTransfersAlone()
    {
        var time = new RecordingTimeProvider();
        var channel = new ManualChannel(supportsLowEvent: false);
        channel.Send(new byte[1000]);
        var wait = channel.DelayUntilBufferedAmountLowAsync(100, TimeSpan.FromSeconds(1), time).AsTask();
        await time.NextWakeAsync();
        channel.Drain(10);
        time.Fake.Advance(Ms(1));
        await time.NextWakeAsync();
        channel.DrainAll();
        time.Fake.Advance(Ms(89));
        Assert.True(await wait.Within());

        Assert.Equal(0, Backpressure.Internal.ChannelCoordinator.For(channel).DrainRate.BytesPerSecond);
    }

    [Fact]
    public async Task ARunningSendAsync_KeepsItsThreshold_AndTheDelayBoundsTheWait()
    {
        var time = new RecordingTimeProvider();
        var channel = new ManualChannel();
        var transfer = channel.SendAsync(Payload(1000), new BackpressureOptions(chunkSize: 100, lowThreshold: 100, highWatermark: 300));
        await Eventually(() => channel.SendCount == 4, "the transfer parks at 400 bytes");
        Assert.Equal(100, channel.BufferedAmountLowThreshold);

        var wait = channel.DelayUntilBufferedAmountLowAsync(350, Delay, time).AsTask();
        await time.NextWakeAsync();
        Assert.Equal(100, channel.BufferedAmountLowThreshold); // not stolen from the transfer

        channel.Drain(60); // 340: low for this wait, but no crossing of the transfer's 100 raises an event
        await Task.Delay(50);
        Assert.False(wait.IsCompleted);
        Assert.Equal(4, channel.SendCount);

        time.Fake.Advance(Delay);
        Assert.True(await wait.Within());
        Assert.Equal(100, channel.BufferedAmountLowThreshold);

        using var pump = new Timer(_ => channel.DrainAll(), null, 0, 1);
        await transfer.Within();
        Assert.Equal(0, channel.TotalSubscribers);
    }

    [Fact]
    public async Task ARunningSendAsyncsLowEvent_AlsoWakesTheWait()
    {
        var time = new RecordingTimeProvider();
        var channel = new ManualChannel();
        var transfer = channel.SendAsync(Payload(500), new BackpressureOptions(chunkSize: 100, lowThreshold: 100, highWatermark: 300));
        await Eventually(() => channel.SendCount == 4, "the transfer parks at 400 bytes");
        var wait = channel.DelayUntilBufferedAmountLowAsync(350, Delay, time).AsTask();
        await time.NextWakeAsync();

        channel.Drain(300); // crosses the transfer's 100: the event wakes both

        Assert.True(await wait.Within());
        await transfer.Within();
    }

    [Fact]
    public async Task TwoConcurrentWaits_OnOneChannel_BothWakeOnTheEvent()
    {
        var time = new RecordingTimeProvider();
        var channel = new ManualChannel();
        channel.Send(new byte[500]);

        var first = channel.DelayUntilBufferedAmountLowAsync(200, Delay, time).AsTask();
        var second = channel.DelayUntilBufferedAmountLowAsync(200, Delay, time).AsTask();
        await time.NextWakeAsync();
        await time.NextWakeAsync();
        Assert.Equal(2, channel.LowSubscribers);

        channel.Drain(300);

        Assert.Equal(new[] { true, true }, await Task.WhenAll(first, second).Within());
        Assert.Equal(0, channel.TotalSubscribers);
    }

    [Fact]
    public async Task TwoConcurrentWaits_WithDifferentThresholds_EachEndsByItsOwnRule()
    {
        // The channel has one low threshold: the later wait's (100) wins, so the crossing of 300 raises nothing
        // and the first wait ends at its delay, seeing the queue low then. Neither waits longer than its delay.
        var time = new RecordingTimeProvider();
        var channel = new ManualChannel();
        channel.Send(new byte[500]);
        var atThreeHundred = channel.DelayUntilBufferedAmountLowAsync(300, Delay, time).AsTask();
        await time.NextWakeAsync();
        var atOneHundred = channel.DelayUntilBufferedAmountLowAsync(100, Delay * 2, time).AsTask();
        await time.NextWakeAsync();

        channel.Drain(250);
        time.Fake.Advance(Delay);
        Assert.True(await atThreeHundred.Within());
        Assert.False(atOneHundred.IsCompleted);

        channel.Drain(150); // crosses 100
        Assert.True(await atOneHundred.Within());
        Assert.Equal(0, channel.TotalSubscribers);
    }

    [Fact]
    public async Task ConsecutiveWaits_ReuseOneTimer()
    {
        var time = new RecordingTimeProvider();
        var channel = new ManualChannel();
        for (var i = 0; i < 5; i++)
        {
            channel.Send(new byte[500]);
            var byEvent = channel.DelayUntilBufferedAmountLowAsync(200, Delay, time).AsTask();
            await time.NextWakeAsync();
            channel.Drain(500);
            Assert.True(await byEvent.Within());

            channel.Send(new byte[500]);
            var byTimer = channel.DelayUntilBufferedAmountLowAsync(200, Delay, time).AsTask();
            await time.NextWakeAsync();
            time.Fake.Advance(Delay);
            Assert.False(await byTimer.Within());
            channel.DrainAll();
        }

        Assert.Equal(1, time.TimersCreated);
        Assert.Equal(0, channel.TotalSubscribers);
    }

    [Fact]
    public async Task AWaitAfterACancelledOne_IsNotWokenByWhatEndedIt()
    {
        var time = new RecordingTimeProvider();
        var channel = new ManualChannel();
        channel.Send(new byte[500]);
        using (var cts = new CancellationTokenSource())
        {
            var cancelled = channel.DelayUntilBufferedAmountLowAsync(200, Delay, time, cts.Token).AsTask();
            await time.NextWakeAsync();
            cts.Cancel();
            await Assert.ThrowsAsync<TaskCanceledException>(() => cancelled.Within());
        }

        var next = channel.DelayUntilBufferedAmountLowAsync(200, Delay, time).AsTask();
        await time.NextWakeAsync();
        await Task.Delay(50);
        Assert.False(next.IsCompleted);

        channel.Drain(300);
        Assert.True(await next.Within());
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task ARealPollingLoop_RewrittenToTheBoundedWait_KeepsItsDeadlineAndItsOwnStateCheck(bool raisesLowEvent)
    {
        using var link = new InMemoryLinkChannel(new InMemoryLinkOptions(bitsPerSecond: 80_000_000, raisesBufferedAmountLow: raisesLowEvent));
        var chunk = new byte[16 * 1024];
        var deadline = DateTime.UtcNow + HangTimeout;

        for (var sent = 0; sent < 4 * 1024 * 1024; sent += chunk.Length)
        {
            while (link.BufferedAmount > 65536 && DateTime.UtcNow < deadline)
            {
                await link.DelayUntilBufferedAmountLowAsync(65536, 50);
            }

            if (link.State != BufferedChannelState.Open)
            {
                throw new IOException("closed");
            }

            link.Send(chunk);
        }

        Assert.True(DateTime.UtcNow < deadline);
        Assert.InRange(link.PeakBufferedAmount, 0, 65536 + chunk.Length);
    }

    /// <summary>The calls the code fix writes pick the overloads it means; this test is mostly checked by the compiler.</summary>
    [Fact]
    public void Overloads_ResolveAsTheCodeFixExpects()
    {
        IBufferedChannel ch = new ManualChannel();
        int intLimit = 65536;
        uint uintLimit = 65536;
        ulong sipsorceryThreshold = 65536; // RTCDataChannel.bufferedAmountLowThreshold
        var ct = CancellationToken.None;

        Assert.Equal((typeof(long), typeof(int)), Picked(() => ch.DelayUntilBufferedAmountLowAsync(65536, 50, ct)));
        Assert.Equal((typeof(long), typeof(int)), Picked(() => ch.DelayUntilBufferedAmountLowAsync(intLimit, 50, ct)));
        Assert.Equal((typeof(long), typeof(int)), Picked(() => ch.DelayUntilBufferedAmountLowAsync(uintLimit, 50, ct)));
        Assert.Equal((typeof(ulong), typeof(int)), Picked(() => ch.DelayUntilBufferedAmountLowAsync(sipsorceryThreshold, 50, ct)));
        Assert.Equal((typeof(long), typeof(TimeSpan)), Picked(() => ch.DelayUntilBufferedAmountLowAsync(65536, TimeSpan.FromMilliseconds(50), ct)));
        Assert.Equal((typeof(ulong), typeof(TimeSpan)), Picked(() => ch.DelayUntilBufferedAmountLowAsync(sipsorceryThreshold, TimeSpan.FromMilliseconds(50), ct)));
        Assert.Equal((typeof(long), typeof(int)), Picked(() => ch.SleepUntilBufferedAmountLow(65536, 5)));
        Assert.Equal((typeof(long), typeof(int)), Picked(() => ch.SleepUntilBufferedAmountLow(intLimit, 5)));
        Assert.Equal((typeof(ulong), typeof(int)), Picked(() => ch.SleepUntilBufferedAmountLow(sipsorceryThreshold, 5)));
        Assert.Equal((typeof(long), typeof(TimeSpan)), Picked(() => ch.SleepUntilBufferedAmountLow(65536, TimeSpan.FromMilliseconds(5))));
        Assert.Equal((typeof(ulong), typeof(TimeSpan)), Picked(() => ch.SleepUntilBufferedAmountLow(sipsorceryThreshold, TimeSpan.FromMilliseconds(5))));

        // Without the token, and with `default` for it, the calls still compile and are not ambiguous
        // with the TimeProvider overload.
        _ = ch.DelayUntilBufferedAmountLowAsync(65536, 50);
        _ = ch.DelayUntilBufferedAmountLowAsync(65536, TimeSpan.FromMilliseconds(50), default);
        _ = ch.DelayUntilBufferedAmountLowAsync(sipsorceryThreshold, 50, default);
    }

    private static (Type Threshold, Type Delay) Picked<T>(Expression<Func<T>> call)
    {
        var parameters = ((MethodCallExpression)call.Body).Method.GetParameters();
        return (parameters[1].ParameterType, parameters[2].ParameterType);
    }
}
