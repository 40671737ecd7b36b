using Backpressure;
using static Backpressure.Runtime.Tests.TestUtil;

namespace Backpressure.Runtime.Tests;

/// <summary>
/// A channel whose low event allows a <c>Send</c> (<see cref="ILowEventSendChannel"/>) gets its queue refilled inside the
/// event, with no thread-pool wake-up in between; the caller's code still never runs on the channel's thread.
/// </summary>
public sealed class LowEventResumeTests
{
    // 100-byte chunks, resume at 100, pause above 300: four chunks go at once, then three after each drain to 100.
    private static readonly BackpressureOptions Tiny = new(chunkSize: 100, lowThreshold: 100, highWatermark: 300);

    [Fact]
    public async Task OnAChannelThatAllowsIt_TheLowEventItselfRefillsTheQueue_BeforeItReturns()
    {
        var channel = new ManualChannel(allowsSendFromLowEvent: true);
        var payload = Payload(1000);
        var transfer = channel.SendAsync(payload, Tiny);
        await Eventually(() => channel.SendCount == 4 && channel.HasLowSubscriber, "the first four chunks are queued");

        OnATransportThread(() => channel.Drain(300));

        // No wait: the chunks were sent by the time Drain, which raised the event, returned.
        Assert.Equal(7, channel.SendCount);
        Assert.Equal(3, channel.SendsFromEventRaise);
        while (!transfer.IsCompleted)
        {
            OnATransportThread(() => channel.Drain(300));
        }

        await transfer.Within();
        Assert.Equal(payload, channel.Received());
        Assert.Equal(0, channel.LowSubscribers);
    }

    [Fact]
    public async Task OnAChannelThatDoesNotAllowIt_EverySendRunsOffTheEventsThread()
    {
        var channel = new ManualChannel(allowsSendFromLowEvent: false);
        var payload = Payload(1000);
        var transfer = channel.SendAsync(payload, Tiny);

        await DrainUntilDone(channel, transfer);

        Assert.Equal(payload, channel.Received());
        Assert.Equal(0, channel.SendsFromEventRaise);
    }

    [Fact]
    public async Task TheReturnedTask_NeverCompletesOnTheChannelsThread_EvenWhenTheLastChunkWasSentThere()
    {
        var channel = new ManualChannel(allowsSendFromLowEvent: true);
        var transfer = channel.SendAsync(Payload(500), Tiny);
        await Eventually(() => channel.SendCount == 4 && channel.HasLowSubscriber, "the first four chunks are queued");

        // A continuation that asks to run synchronously runs on whichever thread completes the task.
        var completedInsideTheEvent = transfer.ContinueWith(_ => channel.IsRaisingOnCurrentThread, TaskContinuationOptions.ExecuteSynchronously);
        OnATransportThread(() => channel.Drain(300));

        Assert.Equal(5, channel.SendCount);
        Assert.Equal(1, channel.SendsFromEventRaise);
        await transfer.Within();
        Assert.False(await completedInsideTheEvent.Within(), "The task completed on the thread that raised the low event.");
    }

    [Fact]
    public async Task ASendThatFailsInsideTheEvent_FaultsTheTaskOffTheChannelsThread_AndLeavesNoHandler()
    {
        var channel = new ManualChannel(allowsSendFromLowEvent: true);
        channel.BeforeSend = count =>
        {
            if (count == 5)
            {
                throw new InvalidOperationException("the transport refused the message");
            }
        };
        var transfer = channel.SendAsync(Payload(1000), Tiny);
        await Eventually(() => channel.SendCount == 4 && channel.HasLowSubscriber, "the first four chunks are queued");
        var faultedInsideTheEvent = transfer.ContinueWith(_ => channel.IsRaisingOnCurrentThread, TaskContinuationOptions.ExecuteSynchronously);

        OnATransportThread(() => channel.Drain(300));

        var error = await Assert.ThrowsAsync<ChannelErrorException>(() => transfer.Within());
        Assert.Equal(500, error.BytesSent);
        Assert.IsType<InvalidOperationException>(error.InnerException);
        Assert.False(await faultedInsideTheEvent.Within(), "The task faulted on the thread that raised the low event.");
        Assert.Equal(0, channel.TotalSubscribers);
    }

    [Fact]
    public async Task ProgressOfTheCallers_IsNeverReportedOnTheChannelsThread()
    {
        var channel = new ManualChannel(allowsSendFromLowEvent: true);
        var reportedInsideTheEvent = 0;
        var progress = new InlineProgress(_ =>
        {
            if (channel.IsRaisingOnCurrentThread)
            {
                Interlocked.Increment(ref reportedInsideTheEvent);
            }
        });
        var transfer = channel.SendAsync(Payload(1000), Tiny, progress);

        await DrainUntilDone(channel, transfer);

        Assert.Equal(0, Volatile.Read(ref reportedInsideTheEvent));
        Assert.Equal(0, channel.SendsFromEventRaise);
    }

    [Fact]
    public async Task AProgressOfLong_StillLetsTheEventRefillTheQueue_AndHearsEveryChunk()
    {
        var channel = new ManualChannel(allowsSendFromLowEvent: true);
        var reports = 0;
        var transfer = channel.SendAsync(Payload(1000), Tiny, new Progress<long>(_ => Interlocked.Increment(ref reports)));

        await DrainUntilDone(channel, transfer);

        Assert.True(channel.SendsFromEventRaise > 0, "A Progress<long> posts its callbacks, so the event may refill the queue.");
        await Eventually(() => Volatile.Read(ref reports) == 10, "every chunk is reported");
    }

    [Fact]
    public async Task AStream_IsNeverReadOnTheChannelsThread()
    {
        var channel = new ManualChannel(allowsSendFromLowEvent: true);
        var source = new WatchedStream(Payload(1000), channel);
        var transfer = channel.SendAsync(source, Tiny);

        await DrainUntilDone(channel, transfer);

        Assert.Equal(0, source.ReadsInsideTheEvent);
        Assert.Equal(0, channel.SendsFromEventRaise);
        Assert.Equal(Payload(1000), channel.Received());
    }

    [Fact]
    public async Task ASynchronizationContext_OnTheChannelsThread_IsNeverPostedTo()
    {
        // A transport whose thread has a context of its own (a UI or game loop): the way off it must not post there.
        // (The netstandard2.0 build does not resume inside the event on such a thread at all: its awaits there hop.)
        var channel = new ManualChannel(allowsSendFromLowEvent: true);
        var transfer = channel.SendAsync(Payload(500), Tiny);
        await Eventually(() => channel.SendCount == 4 && channel.HasLowSubscriber, "the first four chunks are queued");
        var context = new RecordingContext();

        OnATransportThread(() =>
        {
            SynchronizationContext.SetSynchronizationContext(context);
            channel.Drain(300);
        });

        await transfer.Within();
        Assert.Equal(Payload(500), channel.Received());
        Assert.Equal(0, context.Posts);
    }

    [Fact]
    public async Task OnARealLink_ThePayloadArrivesWhole_WhetherTheEventRefillsTheQueueOrNot()
    {
        // The in-memory link allows a send from its event; its thread then does the refills of a transfer in memory.
        var received = new List<byte>();
        using var link = new InMemoryLinkChannel(new InMemoryLinkOptions(bitsPerSecond: 1_000_000_000, latency: TimeSpan.Zero), m =>
        {
            lock (received)
            {
                received.AddRange(m.ToArray());
            }
        });
        var payload = Payload(2 * 1024 * 1024);

        await link.SendAsync(payload, new BackpressureOptions(lowThreshold: 32 * 1024)).Within();
        await link.SendAsync(new MemoryStream(payload), new BackpressureOptions(lowThreshold: 32 * 1024)).Within();

        await Eventually(() => link.BytesDelivered == 2 * payload.Length, "both copies are delivered");
        lock (received)
        {
            Assert.Equal(payload.Concat(payload), received);
        }
    }

    /// <summary>
    /// Runs <paramref name="raise"/> on a thread of its own with no synchronization context, as a transport's thread
    /// is, and returns once it has.
    /// </summary>
    private static void OnATransportThread(Action raise)
    {
        Exception? failure = null;
        var thread = new Thread(() =>
        {
            try
            {
                raise();
            }
            catch (Exception ex)
            {
                failure = ex;
            }
        });
        thread.Start();
        Assert.True(thread.Join(HangTimeout), "The transport's thread did not return.");
        Assert.Null(failure);
    }

    private static async Task DrainUntilDone(ManualChannel channel, Task transfer)
    {
        var deadline = DateTime.UtcNow + HangTimeout;
        while (!transfer.IsCompleted && DateTime.UtcNow < deadline)
        {
            OnATransportThread(() => channel.Drain(300));
            await Task.Delay(1);
        }

        await transfer.Within();
    }

    /// <summary>An <see cref="IProgress{T}"/> that runs its callback on the reporting thread, as a caller's own type may.</summary>
    private sealed class InlineProgress(Action<long> report) : IProgress<long>
    {
        public void Report(long value) => report(value);
    }

    private sealed class WatchedStream(byte[] data, ManualChannel channel) : MemoryStream(data)
    {
        private int _readsInsideTheEvent;

        public int ReadsInsideTheEvent => Volatile.Read(ref _readsInsideTheEvent);

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (channel.IsRaisingOnCurrentThread)
            {
                Interlocked.Increment(ref _readsInsideTheEvent);
            }

            return base.ReadAsync(buffer, cancellationToken);
        }
    }

    private sealed class RecordingContext : SynchronizationContext
    {
        private int _posts;

        public int Posts => Volatile.Read(ref _posts);

        public override void Post(SendOrPostCallback d, object? state)
        {
            Interlocked.Increment(ref _posts);
            base.Post(d, state);
        }
    }
}
