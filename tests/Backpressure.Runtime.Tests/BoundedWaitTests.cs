using System.Linq.Expressions;
using System.Reflection;
using Backpressure;
using static Backpressure.Runtime.Tests.TestUtil;

namespace Backpressure.Runtime.Tests;

/// <summary>
/// DelayUntilBufferedAmountLowAsync: the Task.Delay of a polling loop, woken early when the queue drains.
/// Fake time never advances unless the test says so, so "the delay passed" happens exactly when the test decides.
/// </summary>
public sealed class BoundedWaitTests
{
    private static readonly TimeSpan Delay = TimeSpan.FromMilliseconds(50);

    [Fact]
    public async Task ReturnsTrueSynchronously_WhenAlreadyAtOrBelowTheThreshold()
    {
        var channel = new ManualChannel();
        channel.Send(new byte[500]);

        var wait = channel.DelayUntilBufferedAmountLowAsync(500, 50);

        Assert.True(wait.IsCompletedSuccessfully);
        Assert.True(await wait);
        Assert.Equal(0, channel.TotalSubscribers);
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

        channel.Drain(300); // fake time stands still: only the event can end the wait

        Assert.True(await wait.Within());
        Assert.Equal(0, channel.TotalSubscribers);
    }

    [Fact]
    public async Task ReturnsFalse_WhenTheDelayPassesFirst()
    {
        var time = new RecordingTimeProvider();
        var channel = new ManualChannel();
        channel.Send(new byte[500]);

        var wait = channel.DelayUntilBufferedAmountLowAsync(200, Delay, time).AsTask();
        await time.NextWakeAsync();
        time.Fake.Advance(Delay);

        Assert.False(await wait.Within());
        Assert.Equal(0, channel.TotalSubscribers);
    }

    [Fact]
    public async Task ReturnsFalseWithoutThrowing_WhenTheChannelClosesDuringTheWait()
    {
        var time = new RecordingTimeProvider();
        var channel = new ManualChannel();
        channel.Send(new byte[500]);

        var wait = channel.DelayUntilBufferedAmountLowAsync(200, Delay, time).AsTask();
        await time.NextWakeAsync();
        channel.RaiseClosed();

        Assert.False(await wait.Within());
        Assert.Equal(0, channel.TotalSubscribers);
    }

    [Fact]
    public void Sleep_ReturnsTrue_WhenAnotherThreadDrainsTheQueue()
    {
        var channel = new ManualChannel();
        channel.Send(new byte[500]);
        using var drainer = new Timer(_ => channel.Drain(300), null, 20, Timeout.Infinite);

        Assert.True(channel.SleepUntilBufferedAmountLow(200, Timeout.Infinite));
        Assert.Equal(0, channel.TotalSubscribers);
    }

    [Fact]
    public void Sleep_ReturnsFalse_WhenTheTimeoutPassesFirst()
    {
        var channel = new ManualChannel();
        channel.Send(new byte[500]);

        Assert.False(channel.SleepUntilBufferedAmountLow(200, 5));
        Assert.Equal(0, channel.TotalSubscribers);
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
        Assert.Equal((typeof(ulong), typeof(int)), Picked(() => ch.SleepUntilBufferedAmountLow(sipsorceryThreshold, 5)));
        Assert.Equal((typeof(long), typeof(TimeSpan)), Picked(() => ch.SleepUntilBufferedAmountLow(65536, TimeSpan.FromMilliseconds(5))));

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
