using Backpressure;
using static Backpressure.Runtime.Tests.TestUtil;

namespace Backpressure.Runtime.Tests;

public sealed class ConcurrencyTests
{
    private static readonly BackpressureOptions Tiny = new(chunkSize: 100, lowThreshold: 100, highWatermark: 300);

    [Fact]
    public async Task ConcurrentSends_RunInCallOrder_AndNeverInterleaveChunks()
    {
        var channel = new ManualChannel();
        var payloads = Enumerable.Range(0, 5).Select(i => Enumerable.Repeat((byte)('A' + i), 750).ToArray()).ToArray();

        // All five start while the first one is parked behind a full queue.
        var transfers = payloads.Select(p => channel.SendAsync(p, Tiny)).ToArray();
        await Eventually(() => channel.SendCount == 4, "the first transfer parks");

        using var pump = new Timer(_ => channel.DrainAll(), null, 0, 1);
        await Task.WhenAll(transfers).Within();

        Assert.Equal(payloads.SelectMany(p => p).ToArray(), channel.Received());
        Assert.All(channel.Messages(), m => Assert.All(m, b => Assert.Equal(m[0], b))); // no chunk mixes two payloads
    }

    [Fact]
    public async Task SendsFromManyThreads_EachPayloadArrivesContiguous()
    {
        var channel = new ManualChannel();
        using var pump = new Timer(_ => channel.DrainAll(), null, 0, 1);
        var payloads = Enumerable.Range(0, 16).Select(i => Enumerable.Repeat((byte)i, 1 + (i * 97)).ToArray()).ToArray();

        await Task.WhenAll(payloads.Select(p => Task.Run(() => channel.SendAsync(p, Tiny)))).Within();

        var received = channel.Received();
        var runs = new List<(byte Value, int Length)>();
        foreach (var b in received)
        {
            if (runs.Count > 0 && runs[^1].Value == b)
            {
                runs[^1] = (b, runs[^1].Length + 1);
            }
            else
            {
                runs.Add((b, 1));
            }
        }

        Assert.Equal(16, runs.Count); // each payload is one contiguous run
        Assert.All(runs, r => Assert.Equal(1 + (r.Value * 97), r.Length));
    }

    [Fact]
    public async Task CancellingAQueuedSend_SkipsIt_AndTheQueueMovesOn()
    {
        var channel = new ManualChannel();
        using var cts = new CancellationTokenSource();
        var first = channel.SendAsync(Enumerable.Repeat((byte)'A', 750).ToArray(), Tiny);
        var second = channel.SendAsync(Enumerable.Repeat((byte)'B', 750).ToArray(), Tiny, cancellationToken: cts.Token);
        var third = channel.SendAsync(Enumerable.Repeat((byte)'C', 750).ToArray(), Tiny);
        await Eventually(() => channel.SendCount == 4, "the first transfer parks");

        cts.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => second.Within());

        using var pump = new Timer(_ => channel.DrainAll(), null, 0, 1);
        await Task.WhenAll(first, third).Within();
        Assert.DoesNotContain((byte)'B', channel.Received());
        Assert.Equal(1500, channel.Received().Length);
    }

    [Fact]
    public async Task AFailedTransfer_ReleasesTheChannel_ForTheNextOne()
    {
        var channel = new ManualChannel { DrainOnSend = true };
        channel.BeforeSend = index => { if (index == 1) { throw new IOException("transient"); } };

        await Assert.ThrowsAsync<ChannelErrorException>(() => channel.SendAsync(Payload(500), Tiny).Within());
        channel.BeforeSend = null;
        await channel.SendAsync(Payload(500), Tiny).Within();

        Assert.Equal(0, channel.TotalSubscribers);
    }

    [Fact]
    public async Task AWait_QueuesBehindARunningTransfer()
    {
        var channel = new ManualChannel();
        var transfer = channel.SendAsync(Payload(1000), Tiny);
        await Eventually(() => channel.SendCount == 4, "the transfer parks");

        var wait = channel.WaitForBufferedAmountLowAsync(50).AsTask();
        channel.Drain(300); // low for the transfer, which resumes and refills
        await Eventually(() => channel.SendCount == 7, "the transfer resumes");
        Assert.False(wait.IsCompleted);

        using var pump = new Timer(_ => channel.DrainAll(), null, 0, 1);
        await Task.WhenAll(transfer, wait).Within();
    }
}
