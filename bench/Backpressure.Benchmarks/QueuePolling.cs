using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;

/// <summary>
/// BP0003 before and after: the receive loop (a <c>ConcurrentQueue</c> drained by <c>TryDequeue</c> and
/// <c>Thread.Sleep(25)</c>) against the same class after BP0003's code fix, moving the same datagrams. Two producers:
/// a steady stream (per-message latency) and a request/response exchange, where the producer sends the next
/// datagram only once the previous one is received (messages per second, the DTLS handshake's situation).
/// </summary>
internal static class QueuePolling
{
    private interface IReceiver
    {
        void OnDatagram(byte[] datagram);

        int Receive(byte[] buffer, int timeoutMs);
    }

    public static Task RunAsync(int steady = 2000, int exchanges = 150)
    {
        Console.WriteLine("| consumer | producer | messages | elapsed, ms | msgs/s | latency p50, ms | latency p99, ms |");
        Console.WriteLine("|---|---|---|---|---|---|---|");
        foreach (var (name, create) in new (string, Func<IReceiver>)[] { ("polling (`Thread.Sleep(25)`)", () => new PollingReceiver()), ("fixed (BP0003 signal)", () => new SignalledReceiver()) })
        {
            Print(name, "steady, 1 per ms", Steady(create(), steady));
            Print(name, "request/response", PingPong(create(), exchanges));
        }

        return Task.CompletedTask;
    }

    private static void Print(string consumer, string producer, (int Count, double Seconds, List<double> LatenciesMs) run)
    {
        run.LatenciesMs.Sort();
        double Percentile(double p) => run.LatenciesMs[Math.Min(run.LatenciesMs.Count - 1, (int)(p * run.LatenciesMs.Count))];
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"| {consumer} | {producer} | {run.Count} | {run.Seconds * 1000:F1} | {run.Count / run.Seconds:F0} | {Percentile(0.50):F3} | {Percentile(0.99):F3} |"));
    }

    /// <summary>A producer thread enqueues <paramref name="count"/> timestamped datagrams about a millisecond apart; latency is enqueue to receive.</summary>
    private static (int, double, List<double>) Steady(IReceiver receiver, int count)
    {
        var producer = new Thread(() =>
        {
            for (var i = 0; i < count; i++)
            {
                receiver.OnDatagram(Datagram());
                Thread.Sleep(1);
            }
        }) { IsBackground = true };

        var latencies = new List<double>(count);
        var buffer = new byte[1200];
        var clock = Stopwatch.StartNew();
        producer.Start();
        while (latencies.Count < count)
        {
            if (receiver.Receive(buffer, 100) > 0)
            {
                latencies.Add(Stopwatch.GetElapsedTime(BitConverter.ToInt64(buffer)).TotalMilliseconds);
            }
        }

        producer.Join();
        return (latencies.Count, clock.Elapsed.TotalSeconds, latencies);
    }

    /// <summary>The producer sends the next of <paramref name="count"/> datagrams only when the consumer has received the previous one.</summary>
    private static (int, double, List<double>) PingPong(IReceiver receiver, int count)
    {
        using var received = new SemaphoreSlim(0);
        var latencies = new List<double>();
        var consumer = new Thread(() =>
        {
            var buffer = new byte[1200];
            while (receiver.Receive(buffer, 1000) > 0)
            {
                latencies.Add(Stopwatch.GetElapsedTime(BitConverter.ToInt64(buffer)).TotalMilliseconds);
                received.Release();
            }
        }) { IsBackground = true };

        var clock = Stopwatch.StartNew();
        consumer.Start();
        for (var i = 0; i < count; i++)
        {
            receiver.OnDatagram(Datagram());
            received.Wait();
        }

        var elapsed = clock.Elapsed.TotalSeconds;
        consumer.Join(); // it times out once nothing more comes
        return (count, elapsed, latencies);
    }

    private static byte[] Datagram()
    {
        var datagram = new byte[1200];
        BitConverter.TryWriteBytes(datagram, Stopwatch.GetTimestamp());
        return datagram;
    }

    /// <summary>The receive loop, as written (tests/Backpressure.Analyzers.Tests/QueuePollingRuntimeTests.cs has the same source).</summary>
    private sealed class PollingReceiver : IReceiver
    {
        private readonly ConcurrentQueue<byte[]> _incoming = new();

        public void OnDatagram(byte[] datagram)
        {
            _incoming.Enqueue(datagram);
        }

        public int Receive(byte[] buffer, int timeoutMs)
        {
            var waited = 0;
#pragma warning disable BP0003 // the "before" of the measurement
            while (true)
#pragma warning restore BP0003
            {
                if (_incoming.TryDequeue(out var datagram))
                {
                    Array.Copy(datagram, buffer, datagram.Length);
                    return datagram.Length;
                }

                Thread.Sleep(25);
                waited += 25; if (waited > timeoutMs) return -1;
            }
        }
    }

    /// <summary>The same class after BP0003's code fix, verbatim.</summary>
    private sealed class SignalledReceiver : IReceiver
    {
        private readonly ConcurrentQueue<byte[]> _incoming = new();
        private readonly SemaphoreSlim _incomingSignal = new(0);

        public void OnDatagram(byte[] datagram)
        {
            _incoming.Enqueue(datagram);
            if (_incomingSignal.CurrentCount == 0) _incomingSignal.Release();
        }

        public int Receive(byte[] buffer, int timeoutMs)
        {
            var waited = 0;
            while (true)
            {
                if (_incoming.TryDequeue(out var datagram))
                {
                    Array.Copy(datagram, buffer, datagram.Length);
                    return datagram.Length;
                }

                _incomingSignal.Wait(25);
                waited += 25; if (waited > timeoutMs) return -1;
            }
        }
    }
}
