using Backpressure;
using static Backpressure.Runtime.Tests.TestUtil;

namespace Backpressure.Runtime.Tests;

/// <summary>Every way a bounded wait can end leaves no handler attached to the channel.</summary>
public sealed class BoundedWaitHandlerLeakTests
{
    private static readonly TimeSpan Delay = TimeSpan.FromMilliseconds(50);

    public enum Ending
    {
        Low,
        Elapsed,
        Closed,
        Error,
        Cancelled,
        GetterThrowsAtTheFirstCheck,
        GetterThrowsAfterAWake,
    }

    public static TheoryData<Ending, bool> AsyncEndings() => Endings(sync: false);

    public static TheoryData<Ending, bool> SyncEndings() => Endings(sync: true);

    [Theory]
    [MemberData(nameof(AsyncEndings))]
    public async Task Delay_LeavesNoHandler(Ending ending, bool supportsLowEvent)
    {
        var time = new RecordingTimeProvider();
        var channel = new ManualChannel(supportsLowEvent);
        channel.Send(new byte[500]);
        using var cts = new CancellationTokenSource();
        if (ending == Ending.GetterThrowsAtTheFirstCheck)
        {
            ThrowOnReadWhileListening(channel);
        }

        Task<bool> wait;
        try
        {
            wait = channel.DelayUntilBufferedAmountLowAsync(200, Delay, time, cts.Token).AsTask();
        }
        catch (ObjectDisposedException) when (ending == Ending.GetterThrowsAtTheFirstCheck)
        {
            Assert.Equal(0, channel.TotalSubscribers);
            return;
        }

        await time.NextWakeAsync();
        Assert.Equal(supportsLowEvent ? 3 : 2, channel.TotalSubscribers); // proves the count sees the handlers
        switch (ending)
        {
            case Ending.Low:
                channel.Drain(300);
                time.Fake.Advance(Delay); // the no-event channel sees it at the latest then
                break;
            case Ending.Elapsed:
                time.Fake.Advance(Delay);
                break;
            case Ending.Closed:
                channel.RaiseClosed();
                break;
            case Ending.Error:
                channel.RaiseError("broken");
                break;
            case Ending.Cancelled:
                cts.Cancel();
                break;
            case Ending.GetterThrowsAfterAWake:
                ThrowOnReadWhileListening(channel);
                time.Fake.Advance(Delay);
                break;
        }

        var outcome = await Record.ExceptionAsync(() => wait.Within());

        AssertOutcome(ending, outcome, wait);
        Assert.Equal(0, channel.TotalSubscribers);
    }

    [Theory]
    [MemberData(nameof(SyncEndings))]
    public async Task Sleep_LeavesNoHandler(Ending ending, bool supportsLowEvent)
    {
        var channel = new ManualChannel(supportsLowEvent);
        channel.Send(new byte[500]);
        if (ending == Ending.GetterThrowsAtTheFirstCheck)
        {
            ThrowOnReadWhileListening(channel);
        }

        var timeout = ending == Ending.Elapsed ? 20 : Timeout.Infinite;
        var sleep = Task.Run(() => channel.SleepUntilBufferedAmountLow(200, timeout));
        if (ending is not (Ending.GetterThrowsAtTheFirstCheck or Ending.Elapsed))
        {
            await Eventually(() => channel.TotalSubscribers == (supportsLowEvent ? 3 : 2), "the sleep listens");
        }

        switch (ending)
        {
            case Ending.Low:
                channel.Drain(300); // the no-event channel looks again within 50 ms
                break;
            case Ending.Closed:
                channel.RaiseClosed();
                break;
            case Ending.Error:
                channel.RaiseError("broken");
                break;
            case Ending.GetterThrowsAfterAWake:
                ThrowOnReadWhileListening(channel);
                channel.RaiseLow();
                break;
        }

        var outcome = await Record.ExceptionAsync(() => sleep.Within());

        AssertOutcome(ending, outcome, sleep);
        Assert.Equal(0, channel.TotalSubscribers);
    }

    private static TheoryData<Ending, bool> Endings(bool sync)
    {
        var data = new TheoryData<Ending, bool>();
        foreach (var ending in Enum.GetValues<Ending>())
        {
            if (sync && ending == Ending.Cancelled)
            {
                continue; // Thread.Sleep has no token, nor has its replacement
            }

            data.Add(ending, true);
            data.Add(ending, false);
        }

        return data;
    }

    /// <summary>A disposed native channel behind an adapter: its getter throws once the wait has subscribed.</summary>
    private static void ThrowOnReadWhileListening(ManualChannel channel) =>
        channel.AfterBufferedAmountRead = _ =>
        {
            if (channel.ClosedSubscribers > 0)
            {
                throw new ObjectDisposedException("RTCDataChannel");
            }
        };

    private static void AssertOutcome(Ending ending, Exception? outcome, Task<bool> wait)
    {
        switch (ending)
        {
            case Ending.Low:
                Assert.Null(outcome);
                Assert.True(wait.Result);
                break;
            case Ending.Elapsed or Ending.Closed or Ending.Error:
                Assert.Null(outcome);
                Assert.False(wait.Result);
                break;
            case Ending.Cancelled:
                Assert.IsType<TaskCanceledException>(outcome);
                break;
            default:
                Assert.IsType<ObjectDisposedException>(outcome);
                break;
        }
    }
}
