using System.Security.Cryptography;
using Backpressure;
using static Backpressure.Runtime.Tests.TestUtil;

namespace Backpressure.Runtime.Tests;

public sealed class StreamSendTests
{
    [Fact]
    public async Task StreamOfUnknownLength_ArrivesWhole_InFullChunks()
    {
        var channel = new ManualChannel { DrainOnSend = true };
        var payload = Payload(100_003);
        using var source = new TrickleStream(payload, maxRead: 777);

        await channel.SendAsync(source, new BackpressureOptions(chunkSize: 4096)).Within();

        Assert.Equal(SHA256.HashData(payload), SHA256.HashData(channel.Received()));
        var sizes = channel.Messages().Select(m => m.Length).ToArray();
        Assert.All(sizes[..^1], s => Assert.Equal(4096, s));
        Assert.Equal(100_003 % 4096, sizes[^1]);
    }

    [Fact]
    public async Task StreamSend_PausesAndResumes_LikeTheMemoryOverload()
    {
        var channel = new ManualChannel();
        var payload = Payload(1000);
        var transfer = channel.SendAsync(new TrickleStream(payload, maxRead: 33), new BackpressureOptions(chunkSize: 100, lowThreshold: 100, highWatermark: 300));

        await Eventually(() => channel.SendCount == 4, "four chunks are sent");
        await AssertStaysParked(channel, transfer, 4);

        using var pump = new Timer(_ => channel.DrainAll(), null, 0, 1);
        await transfer.Within();
        Assert.Equal(payload, channel.Received());
    }

    [Fact]
    public async Task EmptyStream_SendsNothing()
    {
        var channel = new ManualChannel();

        await channel.SendAsync(new MemoryStream(), (BackpressureOptions?)null).Within();

        Assert.Equal(0, channel.SendCount);
    }

    [Fact]
    public async Task StreamSend_ReportsProgress_AndFaultsWithBytesSent_OnClose()
    {
        var channel = new ManualChannel();
        var progress = new RecordingProgress();
        var transfer = channel.SendAsync(new TrickleStream(Payload(1000), 1000), new BackpressureOptions(chunkSize: 100, lowThreshold: 100, highWatermark: 300), progress);
        await Eventually(() => channel.SendCount == 4, "four chunks are sent");

        channel.RaiseClosed();

        var ex = await Assert.ThrowsAsync<ChannelClosedException>(() => transfer.Within());
        Assert.Equal(400, ex.BytesSent);
        Assert.Equal([100L, 200L, 300L, 400L], progress.Reports);
    }

    /// <summary>A non-seekable stream that returns at most <c>maxRead</c> bytes per read, as sockets do.</summary>
    private sealed class TrickleStream(byte[] data, int maxRead) : ReadOnlyTestStream
    {
        private int _position;

        public override int Read(byte[] buffer, int offset, int count)
        {
            var n = Math.Min(Math.Min(count, maxRead), data.Length - _position);
            Array.Copy(data, _position, buffer, offset, n);
            _position += n;
            return n;
        }
    }
}

public sealed class StreamSendFailureTests
{
    [Fact]
    public async Task ChannelClosingWhileTheSourceIsIdle_FaultsWithoutWaitingForData()
    {
        // A pipe whose writer is idle: the read would block until data arrives, which may be never.
        var channel = new ManualChannel { DrainOnSend = true };
        var pipe = new System.IO.Pipelines.Pipe();
        await pipe.Writer.WriteAsync(new byte[250]);
        var transfer = channel.SendAsync(pipe.Reader.AsStream(), new BackpressureOptions(chunkSize: 100));
        await Eventually(() => channel.SendCount == 2, "the data at hand is sent");

        channel.RaiseClosed();

        var ex = await Assert.ThrowsAsync<ChannelClosedException>(() => transfer.Within("the send notices the close"));
        Assert.Equal(200, ex.BytesSent);
        Assert.Equal(0, channel.TotalSubscribers);
        await pipe.Writer.CompleteAsync();
    }
}
