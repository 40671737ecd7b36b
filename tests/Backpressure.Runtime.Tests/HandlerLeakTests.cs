using Backpressure;
using static Backpressure.Runtime.Tests.TestUtil;

namespace Backpressure.Runtime.Tests;

/// <summary>Every way a transfer can end leaves no handler attached to the channel.</summary>
public sealed class HandlerLeakTests
{
    public enum Ending
    {
        Success,
        Close,
        Error,
        ThrowingSend,
        CancelWhileWaiting,
        CancelBetweenChunks,
        SourceStreamThrows,
    }

    public static TheoryData<Ending, bool> Endings()
    {
        var data = new TheoryData<Ending, bool>();
        foreach (var ending in Enum.GetValues<Ending>())
        {
            data.Add(ending, true);
            data.Add(ending, false);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Endings))]
    public async Task NoHandlerOutlivesTheTransfer(Ending ending, bool supportsLowEvent)
    {
        var channel = new ManualChannel(supportsLowEvent);
        var options = new BackpressureOptions(chunkSize: 100, lowThreshold: 100, highWatermark: 300);
        using var cts = new CancellationTokenSource();
        var progress = new RecordingProgress();
        if (ending == Ending.ThrowingSend)
        {
            channel.BeforeSend = index => { if (index == 2) { throw new IOException("boom"); } };
        }

        if (ending == Ending.CancelBetweenChunks)
        {
            progress.OnReport = sent => { if (sent == 200) { cts.Cancel(); } };
        }

        Stream source = ending == Ending.SourceStreamThrows ? new ThrowingStream(afterBytes: 250) : new MemoryStream(Payload(1000));
        var transfer = channel.SendAsync(source, options, progress, cts.Token);

        var maxSubscribers = 0;
        if (ending is Ending.Close or Ending.Error or Ending.CancelWhileWaiting or Ending.Success)
        {
            await Eventually(() => channel.SendCount == 4, "the transfer parks");
            maxSubscribers = channel.TotalSubscribers;
        }

        switch (ending)
        {
            case Ending.Close: channel.RaiseClosed(); break;
            case Ending.Error: channel.RaiseError("broken"); break;
            case Ending.CancelWhileWaiting: cts.Cancel(); break;
        }

        // Keep the queue moving so every ending is reached whatever the pacing mode.
        using var pump = new Timer(_ => channel.DrainAll(), null, 0, 1);
        var failure = await Record.ExceptionAsync(() => transfer.Within());

        Assert.Equal(ending == Ending.Success, failure is null);
        if (ending is Ending.Close or Ending.Error or Ending.CancelWhileWaiting or Ending.Success)
        {
            Assert.Equal(supportsLowEvent ? 3 : 2, maxSubscribers); // proves the count sees the handlers
        }

        Assert.Equal(0, channel.LowSubscribers);
        Assert.Equal(0, channel.ClosedSubscribers);
        Assert.Equal(0, channel.ErrorSubscribers);
    }

    [Fact]
    public async Task ThrowingSubscription_RemovesTheHandlersAlreadyAdded()
    {
        var channel = new SubscribeThrowsChannel();

        await Assert.ThrowsAsync<NotSupportedException>(() => channel.SendAsync(Payload(10)).Within());

        Assert.Equal(0, channel.Inner.TotalSubscribers);
        await channel.Inner.SendAsync(Payload(10)).Within(); // and the channel is not left locked
    }

    private sealed class ThrowingStream(int afterBytes) : ReadOnlyTestStream
    {
        private int _position;

        public override int Read(byte[] buffer, int offset, int count)
        {
            if (_position >= afterBytes)
            {
                throw new IOException("disk on fire");
            }

            var n = Math.Min(count, Math.Min(37, afterBytes - _position));
            _position += n;
            return n;
        }
    }

    /// <summary>A channel whose Error event refuses subscribers, after Closed has already accepted one.</summary>
    private sealed class SubscribeThrowsChannel : IBufferedChannel
    {
        public ManualChannel Inner { get; } = new() { DrainOnSend = true };

        public long BufferedAmount => Inner.BufferedAmount;
        public long BufferedAmountLowThreshold { get => Inner.BufferedAmountLowThreshold; set => Inner.BufferedAmountLowThreshold = value; }
        public bool SupportsBufferedAmountLowEvent => true;
        public BufferedChannelState State => Inner.State;
        public int MaxMessageSize => Inner.MaxMessageSize;

        public event EventHandler? BufferedAmountLow { add => Inner.BufferedAmountLow += value; remove => Inner.BufferedAmountLow -= value; }
        public event EventHandler? Closed { add => Inner.Closed += value; remove => Inner.Closed -= value; }
        public event EventHandler<BufferedChannelErrorEventArgs>? Error { add => throw new NotSupportedException(); remove { } }

        public void Send(ReadOnlyMemory<byte> message) => Inner.Send(message);
        public void Close() => Inner.Close();
    }
}

/// <summary>A channel whose members throw (a disposed native object behind an adapter) never locks the channel up.</summary>
public sealed class ThrowingChannelTests
{
    [Fact]
    public async Task ThrowingCapabilityGetter_DoesNotLeaveTheChannelLocked()
    {
        var channel = new FlakyChannel { ThrowFromSupportsEvent = true };

        await Assert.ThrowsAsync<ObjectDisposedException>(() => channel.SendAsync(new byte[10]).Within());

        channel.ThrowFromSupportsEvent = false;
        await channel.SendAsync(new byte[10]).Within("a second send on the same channel completes");
        Assert.Equal(0, channel.Inner.TotalSubscribers);
    }

    private sealed class FlakyChannel : IBufferedChannel
    {
        public ManualChannel Inner { get; } = new() { DrainOnSend = true };

        public bool ThrowFromSupportsEvent { get; set; }

        public long BufferedAmount => Inner.BufferedAmount;
        public long BufferedAmountLowThreshold { get => Inner.BufferedAmountLowThreshold; set => Inner.BufferedAmountLowThreshold = value; }
        public bool SupportsBufferedAmountLowEvent => ThrowFromSupportsEvent ? throw new ObjectDisposedException("RTCDataChannel") : true;
        public BufferedChannelState State => Inner.State;
        public int MaxMessageSize => Inner.MaxMessageSize;

        public event EventHandler? BufferedAmountLow { add => Inner.BufferedAmountLow += value; remove => Inner.BufferedAmountLow -= value; }
        public event EventHandler? Closed { add => Inner.Closed += value; remove => Inner.Closed -= value; }
        public event EventHandler<BufferedChannelErrorEventArgs>? Error { add => Inner.Error += value; remove => Inner.Error -= value; }

        public void Send(ReadOnlyMemory<byte> message) => Inner.Send(message);
        public void Close() => Inner.Close();
    }
}
