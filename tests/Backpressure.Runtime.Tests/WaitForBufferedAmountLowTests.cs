using Backpressure;
using static Backpressure.Runtime.Tests.TestUtil;

namespace Backpressure.Runtime.Tests;

public sealed class WaitForBufferedAmountLowTests
{
    [Fact]
    public async Task CompletesAtOnce_WhenAlreadyAtOrBelowTheThreshold()
    {
        var channel = new ManualChannel();
        channel.Send(new byte[500]);

        var wait = channel.WaitForBufferedAmountLowAsync(500);

        Assert.True(wait.IsCompletedSuccessfully);
        await wait;
        Assert.Equal(0, channel.TotalSubscribers);
    }

    [Fact]
    public async Task WaitsForTheLowEvent_WhenAbove_AndSetsTheThreshold()
    {
        var channel = new ManualChannel();
        channel.Send(new byte[500]);

        var wait = channel.WaitForBufferedAmountLowAsync(200).AsTask();
        await Eventually(() => channel.BufferedAmountLowThreshold == 200, "the threshold is set");
        await Task.Delay(50);
        Assert.False(wait.IsCompleted);

        channel.Drain(300);
        await wait.Within();
        Assert.Equal(0, channel.TotalSubscribers);
    }

    [Fact]
    public async Task FaultsWithChannelClosedException_WhenTheChannelClosesWhileWaiting()
    {
        var channel = new ManualChannel();
        channel.Send(new byte[500]);
        var wait = channel.WaitForBufferedAmountLowAsync(200).AsTask();
        await Eventually(() => channel.ClosedSubscribers == 1, "the wait listens");

        channel.RaiseClosed();

        var ex = await Assert.ThrowsAsync<ChannelClosedException>(() => wait.Within());
        Assert.Equal(0, ex.BytesSent);
    }

    [Fact]
    public async Task FaultsOnAClosedChannel_EvenWhenItsQueueIsLow()
    {
        // The caller is about to send: a closed channel would drop the data, so say so now.
        var channel = new ManualChannel { State = BufferedChannelState.Closed };

        await Assert.ThrowsAsync<ChannelClosedException>(() => channel.WaitForBufferedAmountLowAsync(1000).AsTask().Within());
    }

    [Fact]
    public async Task Cancellation_StopsTheWait()
    {
        var channel = new ManualChannel();
        channel.Send(new byte[500]);
        using var cts = new CancellationTokenSource();
        var wait = channel.WaitForBufferedAmountLowAsync(200, cts.Token).AsTask();

        cts.Cancel();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => wait.Within());
        Assert.Equal(0, channel.TotalSubscribers);
    }

    [Fact]
    public void NegativeThreshold_ThrowsArgumentOutOfRange_NamingIt()
    {
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => { _ = new ManualChannel().WaitForBufferedAmountLowAsync(-1); });

        Assert.Equal("threshold", ex.ParamName);
    }
}
