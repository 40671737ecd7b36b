using System.Security.Cryptography;
using Backpressure;
using static Backpressure.Runtime.Tests.TestUtil;

namespace Backpressure.Runtime.Tests;

public sealed class InMemoryLinkChannelTests
{
    [Theory]
    [InlineData(20_000_000, 0, 1, true)]
    [InlineData(200_000_000, 5, 4, true)]
    [InlineData(1_000_000_000, 1, 8, true)]
    [InlineData(100_000_000, 2, 2, false)]
    public async Task DeliversEveryByteOnceInOrder_AndBoundsTheQueue(long bitsPerSecond, int latencyMs, int mebibytes, bool lowEvent)
    {
        var payload = Payload(mebibytes * 1024 * 1024);
        using var received = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var options = BackpressureOptions.Default;
        using var link = new InMemoryLinkChannel(
            new InMemoryLinkOptions(bitsPerSecond, TimeSpan.FromMilliseconds(latencyMs), raisesBufferedAmountLow: lowEvent),
            message => received.AppendData(message.Span));

        await link.SendAsync(payload, options).Within();
        await Eventually(() => link.BytesDelivered == payload.Length, "everything is delivered");

        Assert.Equal(SHA256.HashData(payload), received.GetHashAndReset());
        // The sender may raise a derived high watermark by up to 15 x low, to outlast its timer (without the event)
        // or its way back from the event.
        Assert.InRange(link.PeakBufferedAmount, 1, options.HighWatermark + (15 * options.LowThreshold) + options.ChunkSize);
    }

    [Fact]
    public async Task ClosingMidTransfer_FaultsTheSend_WithChannelClosedException()
    {
        // 4 MiB at 1 Mbit/s takes half a minute, so the transfer cannot finish before the test stops it.
        using var link = new InMemoryLinkChannel(new InMemoryLinkOptions(1_000_000));
        var transfer = link.SendAsync(Payload(4 * 1024 * 1024));
        await Eventually(() => link.BytesDelivered > 0, "data is flowing");

        link.Close();

        var ex = await Assert.ThrowsAsync<ChannelClosedException>(() => transfer.Within());
        Assert.InRange(ex.BytesSent, 1, (4 * 1024 * 1024) - 1);

        // The send may fault while the link is still Closing; the link's own thread finishes the close.
        await Eventually(() => link.State == BufferedChannelState.Closed, "the link finishes closing");
    }

    [Fact]
    public async Task FailingMidTransfer_FaultsTheSend_WithTheLinksError()
    {
        // 4 MiB at 1 Mbit/s takes half a minute, so the transfer cannot finish before the test stops it.
        using var link = new InMemoryLinkChannel(new InMemoryLinkOptions(1_000_000));
        var transfer = link.SendAsync(Payload(4 * 1024 * 1024));
        await Eventually(() => link.BytesDelivered > 0, "data is flowing");

        link.Fail("cable cut");

        // Typed as an error whether the sender was parked (it hears the event) or mid-Send (the link refuses).
        var ex = await Assert.ThrowsAsync<ChannelErrorException>(() => transfer.Within());
        Assert.Contains("cable cut", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RaisesItsEvents_OnItsOwnThread()
    {
        using var link = new InMemoryLinkChannel(new InMemoryLinkOptions(100_000_000)) { BufferedAmountLowThreshold = 1000 };
        var lowThread = new TaskCompletionSource<string?>(TaskCreationOptions.RunContinuationsAsynchronously);
        var closedThread = new TaskCompletionSource<string?>(TaskCreationOptions.RunContinuationsAsynchronously);
        link.BufferedAmountLow += (_, _) => lowThread.TrySetResult(Thread.CurrentThread.Name);
        link.Closed += (_, _) => closedThread.TrySetResult(Thread.CurrentThread.Name);

        link.Send(new byte[5000]);
        Assert.Equal("InMemoryLinkChannel", await lowThread.Task.Within());
        link.Close();
        Assert.Equal("InMemoryLinkChannel", await closedThread.Task.Within());
    }

    [Fact]
    public async Task HundredsOfMessagesInFlight_ReuseTheirBuffers_InsteadOfFeedingTheCollector()
    {
        // 400 messages of 16 KiB in flight at once (200 ms of latency), more than the shared pool keeps per core: a link
        // that allocated them would have its collections pause the threads whose timing it simulates.
        const int Messages = 400, Size = 16 * 1024;
        var message = new byte[Size];
        var options = new InMemoryLinkOptions(100_000_000_000, TimeSpan.FromMilliseconds(200));
        using (var warm = new InMemoryLinkChannel(options))
        {
            SendAll(warm);
            await Eventually(() => warm.BytesDelivered == Messages * Size, "the first link delivers everything");
        }

        using var link = new InMemoryLinkChannel(options);
        var before = GC.GetAllocatedBytesForCurrentThread();
        SendAll(link);
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        await Eventually(() => link.BytesDelivered == Messages * Size, "the second link delivers everything");

        // The queue's own growth is all that may be new: far less than one message in ten.
        Assert.InRange(allocated, 0, Messages * Size / 10);

        void SendAll(InMemoryLinkChannel channel)
        {
            for (var i = 0; i < Messages; i++)
            {
                channel.Send(message);
            }
        }
    }

    [Fact]
    public void Send_RejectsOversizedMessages_AndClosedLinks()
    {
        using var link = new InMemoryLinkChannel(new InMemoryLinkOptions(1_000_000, maxMessageSize: 1000));

        Assert.Throws<ArgumentException>(() => link.Send(new byte[1001]));
        link.Dispose();
        Assert.Equal(BufferedChannelState.Closed, link.State);
        Assert.Throws<InvalidOperationException>(() => link.Send(new byte[10]));
    }

    [Fact]
    public async Task ThrowingReceiver_FailsTheLink_InsteadOfKillingItsThread()
    {
        using var link = new InMemoryLinkChannel(new InMemoryLinkOptions(100_000_000), _ => throw new InvalidDataException("bad frame"));
        var error = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        link.Error += (_, e) => error.TrySetResult(e.Message);

        link.Send(new byte[10]);

        Assert.Contains("bad frame", await error.Task.Within(), StringComparison.Ordinal);
        await Eventually(() => link.State == BufferedChannelState.Closed, "the link closes");
    }

    [Theory]
    [InlineData(0L, 0, 1000, "bitsPerSecond")]
    [InlineData(1000L, -1, 1000, "latency")]
    [InlineData(1000L, 3_600_001, 1000, "latency")]
    [InlineData(1000L, 0, 0, "maxMessageSize")]
    public void Options_RejectInvalidValues_NamingTheParameter(long bps, int latencyMs, int maxMessage, string parameter)
    {
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => new InMemoryLinkOptions(bps, TimeSpan.FromMilliseconds(latencyMs), maxMessage));

        Assert.Equal(parameter, ex.ParamName);
    }
}
