using Backpressure;
using static Backpressure.Runtime.Tests.TestUtil;

namespace Backpressure.Runtime.Tests;

public sealed class SendAsyncTests
{
    // Tiny sizes so every pause and resume is visible: 100-byte chunks, resume at 100, pause above 300.
    private static readonly BackpressureOptions Tiny = new(chunkSize: 100, lowThreshold: 100, highWatermark: 300);

    [Fact]
    public async Task Sends_EveryByteOnceInOrder_InChunksOfChunkSize()
    {
        var channel = new ManualChannel { DrainOnSend = true };
        var payload = Payload(1050);

        await channel.SendAsync(payload, Tiny).Within();

        Assert.Equal(payload, channel.Received());
        Assert.Equal([100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 50], channel.Messages().Select(m => m.Length));
    }

    [Fact]
    public async Task Chunks_NeverExceed_TheChannelsMaxMessageSize()
    {
        var channel = new ManualChannel(maxMessageSize: 1000) { DrainOnSend = true };
        var payload = Payload(5000);

        await channel.SendAsync(payload, new BackpressureOptions(chunkSize: 64 * 1024)).Within();

        Assert.All(channel.Messages(), m => Assert.Equal(1000, m.Length));
        Assert.Equal(payload, channel.Received());
    }

    [Fact]
    public async Task Sets_TheChannelsLowThreshold()
    {
        var channel = new ManualChannel { DrainOnSend = true };

        await channel.SendAsync(Payload(10), new BackpressureOptions(lowThreshold: 12345, highWatermark: 20000)).Within();

        Assert.Equal(12345, channel.BufferedAmountLowThreshold);
    }

    [Fact]
    public async Task Defaults_FollowTheSeed_64KiBThreshold_16KiBChunks()
    {
        var channel = new ManualChannel { DrainOnSend = true };

        await channel.SendAsync(Payload(40 * 1024)).Within();

        Assert.Equal(64 * 1024, channel.BufferedAmountLowThreshold);
        Assert.Equal([16384, 16384, 8192], channel.Messages().Select(m => m.Length));
    }

    [Fact]
    public async Task Pauses_AboveHighWatermark_AndResumes_OnlyOnTheLowEvent()
    {
        var channel = new ManualChannel();
        var payload = Payload(1000);

        var transfer = channel.SendAsync(payload, Tiny);

        // Sent at buffered 0, 100, 200 and 300 (at or under the high watermark), then 400 is over it.
        await Eventually(() => channel.SendCount == 4, "four chunks are sent");
        await AssertStaysParked(channel, transfer, 4);

        channel.Drain(300); // 400 -> 100 crosses the low threshold: the event fires here, on this thread.
        await Eventually(() => channel.SendCount == 7, "three more chunks are sent");
        await AssertStaysParked(channel, transfer, 7);

        channel.DrainAll();
        await Eventually(() => channel.SendCount == 10, "the rest is sent");
        await transfer.Within();
        Assert.Equal(payload, channel.Received());
    }

    [Fact]
    public async Task StaysPaused_BetweenLowAndHigh_Hysteresis()
    {
        var channel = new ManualChannel();
        var transfer = channel.SendAsync(Payload(1000), Tiny);
        await Eventually(() => channel.SendCount == 4, "four chunks are sent");

        channel.Drain(250); // 400 -> 150: under the high watermark but above the low threshold, no event.
        await AssertStaysParked(channel, transfer, 4);

        channel.Drain(50); // 150 -> 100: the crossing.
        await Eventually(() => channel.SendCount == 7, "sending resumes"); // chunks at 100, 200 and 300
        channel.DrainAll();
        await EventuallyDrained(channel, transfer);
    }

    [Fact]
    public async Task HighWatermarkEqualToLowThreshold_GivesTheSeedsBehaviour_OneChunkPerLowEvent()
    {
        var channel = new ManualChannel();
        var transfer = channel.SendAsync(Payload(1000), new BackpressureOptions(chunkSize: 100, lowThreshold: 200, highWatermark: 200));

        await Eventually(() => channel.SendCount == 3, "chunks at 0, 100 and 200 are sent");
        await AssertStaysParked(channel, transfer, 3);

        for (var expected = 4; expected <= 6; expected++)
        {
            channel.Drain(100); // 300 -> 200: exactly at the threshold, which counts as low.
            await Eventually(() => channel.SendCount == expected, $"chunk {expected} is sent");
        }

        channel.DrainAll();
        await EventuallyDrained(channel, transfer);
    }

    [Fact]
    public async Task ReportsProgress_AfterEachChunk()
    {
        var channel = new ManualChannel { DrainOnSend = true };
        var progress = new RecordingProgress();

        await channel.SendAsync(Payload(250), Tiny, progress).Within();

        Assert.Equal([100L, 200L, 250L], progress.Reports);
    }

    [Fact]
    public async Task EmptyPayload_CompletesWithoutSending()
    {
        var channel = new ManualChannel();

        await channel.SendAsync(ReadOnlyMemory<byte>.Empty, Tiny).Within();

        Assert.Equal(0, channel.SendCount);
        Assert.Equal(0, channel.TotalSubscribers);
    }

    [Theory]
    [InlineData(BufferedChannelState.Closing)]
    [InlineData(BufferedChannelState.Closed)]
    public async Task ClosedChannel_FaultsAtOnce_WithChannelClosedException(BufferedChannelState state)
    {
        var channel = new ManualChannel { State = state };

        var ex = await Assert.ThrowsAsync<ChannelClosedException>(() => channel.SendAsync(Payload(500), Tiny).Within());

        Assert.Equal(0, ex.BytesSent);
        Assert.Equal(0, channel.SendCount);
    }

    [Fact]
    public async Task ConnectingChannel_Faults_WithBufferedChannelException_NotClosed()
    {
        var channel = new ManualChannel { State = BufferedChannelState.Connecting };

        var ex = await Assert.ThrowsAsync<BufferedChannelException>(() => channel.SendAsync(Payload(500), Tiny).Within());

        Assert.Contains("not open", ex.Message, StringComparison.Ordinal);
        Assert.Equal(0, channel.SendCount);
    }

    [Fact]
    public async Task StateCheckedBeforeEverySend_ClosingWithoutEvent_StopsBeforeTheNextChunk()
    {
        // SIPSorcery drops data sent while not connected without a word: the state must be read each time.
        var channel = new ManualChannel { DrainOnSend = true };
        channel.BeforeSend = index =>
        {
            if (index == 3)
            {
                channel.State = BufferedChannelState.Closing;
            }
        };

        var ex = await Assert.ThrowsAsync<ChannelClosedException>(() => channel.SendAsync(Payload(1000), Tiny).Within());

        Assert.Equal(4, channel.SendCount); // the fourth Send was already under way when the state flipped
        Assert.Equal(400, ex.BytesSent);
    }

    [Fact]
    public async Task CloseWhileWaiting_FaultsWithChannelClosedException_SayingBytesSent()
    {
        var channel = new ManualChannel();
        var transfer = channel.SendAsync(Payload(1000), Tiny);
        await Eventually(() => channel.SendCount == 4, "the transfer parks");

        channel.RaiseClosed();

        var ex = await Assert.ThrowsAsync<ChannelClosedException>(() => transfer.Within());
        Assert.Equal(400, ex.BytesSent);
        Assert.Contains("400", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CloseEventAlone_WithoutStateChange_StillFaults()
    {
        var channel = new ManualChannel();
        var transfer = channel.SendAsync(Payload(1000), Tiny);
        await Eventually(() => channel.SendCount == 4, "the transfer parks");

        channel.Close(); // sets Closed and raises the event
        channel.State = BufferedChannelState.Open; // a transport whose state lags its event

        await Assert.ThrowsAsync<ChannelClosedException>(() => transfer.Within());
    }

    [Fact]
    public async Task ErrorWhileWaiting_FaultsWithChannelErrorException_CarryingTheChannelsMessage()
    {
        var channel = new ManualChannel();
        var transfer = channel.SendAsync(Payload(1000), Tiny);
        await Eventually(() => channel.SendCount == 4, "the transfer parks");

        channel.RaiseError("SCTP abort");

        var ex = await Assert.ThrowsAsync<ChannelErrorException>(() => transfer.Within());
        Assert.Equal(400, ex.BytesSent);
        Assert.Equal("SCTP abort", ex.ChannelError);
    }

    [Fact]
    public async Task ThrowingSend_FaultsWithChannelErrorException_WrappingIt()
    {
        var channel = new ManualChannel { DrainOnSend = true };
        var boom = new ApplicationException("message too large");
        channel.BeforeSend = index =>
        {
            if (index == 2)
            {
                throw boom;
            }
        };

        var ex = await Assert.ThrowsAsync<ChannelErrorException>(() => channel.SendAsync(Payload(1000), Tiny).Within());

        Assert.Same(boom, ex.InnerException);
        Assert.Equal(200, ex.BytesSent);
        Assert.Null(ex.ChannelError);
    }

    [Fact]
    public async Task SendThrowingBecauseTheChannelClosed_FaultsWithChannelClosedException()
    {
        var channel = new ManualChannel { DrainOnSend = true };
        channel.BeforeSend = index =>
        {
            if (index == 1)
            {
                channel.State = BufferedChannelState.Closed;
                throw new InvalidOperationException("InvalidStateError");
            }
        };

        var ex = await Assert.ThrowsAsync<ChannelClosedException>(() => channel.SendAsync(Payload(1000), Tiny).Within());

        Assert.IsType<InvalidOperationException>(ex.InnerException);
        Assert.Equal(100, ex.BytesSent);
    }

    [Fact]
    public async Task CancellationWhileWaiting_FaultsWithOperationCanceled_AndStopsSending()
    {
        var channel = new ManualChannel();
        using var cts = new CancellationTokenSource();
        var transfer = channel.SendAsync(Payload(1000), Tiny, cancellationToken: cts.Token);
        await Eventually(() => channel.SendCount == 4, "the transfer parks");

        cts.Cancel();

        var ex = await Assert.ThrowsAnyAsync<OperationCanceledException>(() => transfer.Within());
        Assert.Equal(cts.Token, ex.CancellationToken);
        channel.DrainAll();
        Assert.Equal(4, channel.SendCount);
    }

    [Fact]
    public async Task CancellationBetweenChunks_StopsBeforeTheNextChunk()
    {
        var channel = new ManualChannel { DrainOnSend = true };
        using var cts = new CancellationTokenSource();
        var progress = new RecordingProgress { OnReport = sent => { if (sent == 200) { cts.Cancel(); } } };

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => channel.SendAsync(Payload(1000), Tiny, progress, cts.Token).Within());

        Assert.Equal(2, channel.SendCount);
    }

    [Fact]
    public async Task AlreadyCancelledToken_SendsNothing()
    {
        var channel = new ManualChannel { DrainOnSend = true };

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => channel.SendAsync(Payload(1000), Tiny, cancellationToken: new CancellationToken(true)).Within());

        Assert.Equal(0, channel.SendCount);
        Assert.Equal(0, channel.TotalSubscribers);
    }

    [Fact]
    public async Task LowEventBetweenTheCheckAndTheWait_IsNotLost()
    {
        // The transport drains the queue and raises the low event on its own thread right after the
        // sender has read an amount over the high watermark, before the sender starts waiting.
        var channel = new ManualChannel();
        var raced = 0;
        channel.AfterBufferedAmountRead = amount =>
        {
            if (amount > 300 && Interlocked.Exchange(ref raced, 1) == 0)
            {
                var transport = new Thread(channel.DrainAll);
                transport.Start();
                transport.Join();
            }
        };

        var payload = Payload(1000);
        var transfer = channel.SendAsync(payload, Tiny);

        await Eventually(() => channel.SendCount >= 5, "the sender resumes after the raced event");
        channel.AfterBufferedAmountRead = null;
        channel.DrainAll();
        await EventuallyDrained(channel, transfer);
        Assert.Equal(1, raced);
        Assert.Equal(payload, channel.Received());
    }

    [Fact]
    public async Task Continuations_NeverRunInline_OnTheTransportsThread()
    {
        var channel = new ManualChannel();
        var transfer = channel.SendAsync(Payload(1000), Tiny);
        await Eventually(() => channel.SendCount == 4, "the transfer parks");

        // A dedicated thread never runs thread-pool work: a Send on it can only be an inline continuation.
        // It stays alive until the assertion, so the runtime cannot hand its thread id to a pool thread.
        var transportThreadId = 0;
        using var release = new ManualResetEventSlim();
        var transport = new Thread(() =>
        {
            transportThreadId = Environment.CurrentManagedThreadId;
            channel.Drain(300);
            release.Wait();
        });
        transport.Start();

        await Eventually(() => channel.SendCount == 7, "the sender resumes");
        Assert.DoesNotContain(transportThreadId, channel.SendThreadIds);
        release.Set();
        transport.Join();
        channel.DrainAll();
        await EventuallyDrained(channel, transfer);
    }

    [Fact]
    public async Task ErrorReportedFirst_ThenAThrowingSend_IsReportedAsTheError()
    {
        var channel = new ManualChannel { DrainOnSend = true };
        channel.BeforeSend = index =>
        {
            if (index == 1)
            {
                channel.RaiseError("DTLS alert");
                throw new IOException("socket reset");
            }
        };

        var ex = await Assert.ThrowsAsync<ChannelErrorException>(() => channel.SendAsync(Payload(1000), Tiny).Within());

        Assert.Equal("DTLS alert", ex.ChannelError);
        Assert.IsType<IOException>(ex.InnerException);
    }

    [Fact]
    public async Task ErrorRaisedByTheLinkThread_WhileTheSenderClassifiesAFailedSend_IsReportedAsTheError()
    {
        // The link refuses a Send because it is failing, and its thread finishes failing as the sender
        // reads the state to classify that refusal: the error must still win over a plain close.
        var channel = new ManualChannel { DrainOnSend = true };
        channel.BeforeSend = index =>
        {
            if (index == 1)
            {
                channel.FailOnNextStateRead("DTLS alert");
                throw new InvalidOperationException("The link failed");
            }
        };

        var ex = await Assert.ThrowsAsync<ChannelErrorException>(() => channel.SendAsync(Payload(1000), Tiny).Within());

        Assert.Equal("DTLS alert", ex.ChannelError);
        Assert.Equal(100, ex.BytesSent);
    }

    [Fact]
    public async Task ErrorRaisedByTheLinkThread_AsTheSenderChecksTheState_IsReportedAsTheError()
    {
        // The same race between chunks: the sender sees the state leave Open, and the error came first.
        var channel = new ManualChannel { DrainOnSend = true };
        channel.BeforeSend = index =>
        {
            if (index == 1)
            {
                channel.FailOnNextStateRead("DTLS alert");
            }
        };

        var ex = await Assert.ThrowsAsync<ChannelErrorException>(() => channel.SendAsync(Payload(1000), Tiny).Within());

        Assert.Equal("DTLS alert", ex.ChannelError);
        Assert.Equal(200, ex.BytesSent);
    }

    [Fact]
    public async Task ThresholdMovedByOtherCode_WhileSending_IsRestoredBeforeWaiting()
    {
        var channel = new ManualChannel();
        channel.BeforeSend = index =>
        {
            if (index == 2)
            {
                channel.BufferedAmountLowThreshold = 1_000_000; // the crossing at 100 would never fire
            }
        };

        var transfer = channel.SendAsync(Payload(1000), Tiny);
        await Eventually(() => channel.SendCount == 4, "the transfer parks");

        Assert.Equal(100, channel.BufferedAmountLowThreshold);
        channel.BeforeSend = null;
        await EventuallyDrained(channel, transfer);
    }

    [Fact]
    public async Task SpuriousLowEvents_AreHarmless()
    {
        var channel = new ManualChannel();
        var transfer = channel.SendAsync(Payload(1000), Tiny);
        await Eventually(() => channel.SendCount == 4, "the transfer parks");

        channel.RaiseLow(); // fired while the amount is still 400
        channel.RaiseLow();
        await AssertStaysParked(channel, transfer, 4);

        channel.DrainAll();
        await EventuallyDrained(channel, transfer);
    }

    [Fact]
    public async Task EventsAfterTheTransfer_DoNothingAndDoNotThrow()
    {
        var channel = new ManualChannel { DrainOnSend = true };
        await channel.SendAsync(Payload(300), Tiny).Within();

        channel.RaiseLow();
        channel.RaiseError("late");
        channel.RaiseClosed();

        Assert.Equal(0, channel.TotalSubscribers);
    }

    [Fact]
    public async Task NullArguments_ThrowArgumentNullException_Synchronously()
    {
        Assert.Throws<ArgumentNullException>("channel", () => { _ = ((IBufferedChannel)null!).SendAsync(Payload(1)); });
        Assert.Throws<ArgumentNullException>("source", () => { _ = new ManualChannel().SendAsync((Stream)null!); });
        await Task.CompletedTask;
    }

    [Fact]
    public async Task ChannelReportingNoMaxMessageSize_FaultsClearly()
    {
        var channel = new ManualChannel(maxMessageSize: 0);

        var ex = await Assert.ThrowsAsync<InvalidOperationException>(() => channel.SendAsync(Payload(10)).Within());

        Assert.Contains("maximum message size", ex.Message, StringComparison.Ordinal);
        Assert.Equal(0, channel.TotalSubscribers);
    }

    private static async Task EventuallyDrained(ManualChannel channel, Task transfer)
    {
        // Keep draining until the transfer has sent everything: each drain crosses the threshold again.
        var deadline = DateTime.UtcNow + HangTimeout;
        while (!transfer.IsCompleted)
        {
            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail("Timed out waiting for the transfer to finish.");
            }

            channel.DrainAll();
            await Task.Delay(1);
        }

        await transfer;
    }
}
