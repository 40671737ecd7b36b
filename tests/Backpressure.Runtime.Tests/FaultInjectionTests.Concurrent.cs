using Backpressure;
using CsCheck;
using static Backpressure.Runtime.Tests.TestUtil;

namespace Backpressure.Runtime.Tests;

/// <summary>
/// Several transfers and waits started at once on one channel, with the same faults: each transfer's chunks arrive
/// in call order, never interleaved with another's, and a stop ends the one running and every one after it.
/// </summary>
public sealed partial class FaultInjectionTests
{
    public enum OpKind
    {
        SendMemory,
        SendStream,
        WaitForLow,
    }

    private static readonly Fault[] ConcurrentFaults =
    [
        Fault.None, Fault.CloseEventAtSend, Fault.ClosingStateAtSend, Fault.ErrorThenClosedAtSend,
        Fault.SendThrows, Fault.CancelAtSend, Fault.CloseFromTransportThread,
    ];

    private static readonly Gen<ConcurrentCase> ConcurrentCases =
        from ops in Gen.Select(Gen.Enum<OpKind>(), Gen.Int[0, 6_000]).Array[2, 4]
        from chunk in Gen.Int[16, 1_500]
        from low in Gen.Int[0, 3_000]
        from headroom in Gen.Int[0, 3_000]
        from derived in Gen.Bool
        from withEvent in Gen.Int[0, 3].Select(i => i != 0)
        from fault in Gen.OneOf(ConcurrentFaults)
        from faultAt in Gen.Int[0, 30]
        from seed in Gen.Int
        select new ConcurrentCase(ops, chunk, low, derived ? null : low + headroom, withEvent, fault, faultAt, seed);

    [Fact]
    public async Task RandomConcurrentSends_RunInCallOrder_NeverInterleave_LeakNothing_NeverHang()
    {
        var count = Math.Max(1, Cases / 4);
        await ConcurrentCases.SampleAsync(RunConcurrentCase, iter: count);
        output.WriteLine($"{count} randomized sets of concurrent transfers and waits passed.");
    }

    private static async Task RunConcurrentCase(ConcurrentCase c)
    {
        // A fallback case with tiny chunks would spend its time in real-clock waits; keep it short.
        var chunk = c.WithEvent ? c.Chunk : Math.Max(c.Chunk, 300);
        var options = new BackpressureOptions(chunk, c.Low, c.High);
        var channel = new ManualChannel(c.WithEvent);
        var cts = new CancellationTokenSource();
        var stopOnSenderThread = false;
        channel.BeforeSend = index =>
        {
            if (index != c.FaultAt)
            {
                return;
            }

            switch (c.Fault)
            {
                case Fault.CloseEventAtSend: channel.RaiseClosed(); stopOnSenderThread = true; break;
                case Fault.ClosingStateAtSend: channel.State = BufferedChannelState.Closing; stopOnSenderThread = true; break;
                case Fault.ErrorThenClosedAtSend: channel.RaiseError("injected"); channel.RaiseClosed(); stopOnSenderThread = true; break;
                case Fault.SendThrows: throw new IOException("injected");
                case Fault.CancelAtSend: cts.Cancel(); break;
            }
        };

        var random = new Random(c.Seed);
        var closed = false;
        var transport = new FuzzTransport(i =>
        {
            if (!closed && c.Fault == Fault.CloseFromTransportThread && i >= c.FaultAt)
            {
                closed = true;
                channel.RaiseClosed();
            }

            var before = channel.BufferedAmount;
            channel.Drain(random.Next(1, 2 * chunk));
            return before > 0;
        });

        // Started one after another from this thread: that is the call order the chunks must follow.
        var payloads = new byte[c.Ops.Length][];
        var progress = new RecordingProgress[c.Ops.Length];
        var tasks = new Task[c.Ops.Length];
        for (var i = 0; i < c.Ops.Length; i++)
        {
            var (kind, length) = c.Ops[i];
            payloads[i] = kind == OpKind.WaitForLow ? [] : Payload(length, c.Seed + i);
            progress[i] = new RecordingProgress();
            tasks[i] = kind switch
            {
                OpKind.SendMemory => channel.SendAsync(payloads[i], options, progress[i], cts.Token),
                OpKind.SendStream => channel.SendAsync(new FuzzStream(payloads[i], c.Seed + i, maxRead: 1 + (length / 3)), options, progress[i], cts.Token),
                _ => channel.WaitForBufferedAmountLowAsync(length % (c.Low + 1), cts.Token).AsTask(),
            };
        }

        var failures = new Exception?[c.Ops.Length];
        try
        {
            for (var i = 0; i < tasks.Length; i++)
            {
                failures[i] = await FuzzAssert.EndsAsync(tasks[i], channel, transport, $"operation {i}; {c}");
            }
        }
        finally
        {
            transport.Dispose();
        }

        var context = $"{c}; outcomes: {string.Join(", ", failures.Select(f => f?.GetType().Name ?? "ok"))}";
        FuzzAssert.ChannelLeftClean(channel, transport, context);
        Assert.True(channel.SendsAfterStop <= (stopOnSenderThread ? 0 : 1), $"{channel.SendsAfterStop} sends after the channel reported a stop; {context}");

        // The bytes on the wire are each transfer's prefix, in call order, and no message spans two transfers.
        var boundaries = new HashSet<long> { 0 };
        var expected = new List<byte>();
        for (var i = 0; i < c.Ops.Length; i++)
        {
            var sent = (int)progress[i].Reports.LastOrDefault();
            expected.AddRange(payloads[i].AsSpan(0, sent).ToArray());
            boundaries.Add(expected.Count);
            switch (failures[i])
            {
                case null:
                    Assert.True(sent == payloads[i].Length, $"operation {i} succeeded with {sent} of {payloads[i].Length} bytes; {context}");
                    break;
                case OperationCanceledException:
                    Assert.True(cts.IsCancellationRequested, $"operation {i} cancelled with no cancellation; {context}");
                    break;
                case BufferedChannelException typed:
                    Assert.True(channel.StopReported || c.Fault == Fault.SendThrows, $"operation {i} failed with no fault: {typed}; {context}");
                    if (c.Ops[i].Kind != OpKind.WaitForLow)
                    {
                        Assert.Equal(sent, typed.BytesSent);
                    }

                    break;
                default:
                    Assert.Fail($"operation {i} failed untyped: {failures[i]}; {context}");
                    break;
            }
        }

        Assert.Equal(expected.ToArray(), channel.Received());
        long position = 0;
        foreach (var message in channel.Messages())
        {
            var end = position + message.Length;
            Assert.True(!boundaries.Any(b => b > position && b < end), $"a message spans two transfers at {position}..{end}; {context}");
            position = end;
        }

        // With no fault every operation succeeds; a stop on the sender's thread ends the running one and all after it.
        if (c.Fault == Fault.None)
        {
            Assert.All(failures, f => Assert.Null(f));
        }

        var firstFailure = Array.FindIndex(failures, f => f is not null);
        if (stopOnSenderThread && firstFailure >= 0)
        {
            Assert.All(failures.Skip(firstFailure), f => Assert.IsAssignableFrom<BufferedChannelException>(f));
        }
    }

    public sealed record ConcurrentCase((OpKind Kind, int Length)[] Ops, int Chunk, int Low, long? High, bool WithEvent, Fault Fault, int FaultAt, int Seed)
    {
        public override string ToString() =>
            $"ConcurrentCase {{ Ops = [{string.Join(", ", Ops.Select(o => $"{o.Kind} {o.Length}"))}], Chunk = {Chunk}, Low = {Low}, High = {High?.ToString() ?? "derived"}, WithEvent = {WithEvent}, Fault = {Fault}, FaultAt = {FaultAt}, Seed = {Seed} }}";
    }
}
