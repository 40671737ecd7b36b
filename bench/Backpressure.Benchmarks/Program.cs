// Measured harness for the runtime (Release only): `watermark` sweeps the high watermark,
// `alloc` measures allocations per chunk in steady state. Results go to docs/benchmarks.md.
using System.Diagnostics;
using Backpressure;

#if DEBUG
Console.Error.WriteLine("Run benchmarks in Release: dotnet run -c Release --project bench/Backpressure.Benchmarks -- <watermark|alloc|strategies|transports|analyzer-cost>");
return 2;
#else
switch (args.FirstOrDefault())
{
    case "watermark":
        await WatermarkSweep.RunAsync();
        return 0;
    case "alloc":
        await AllocationProbe.RunAsync();
        return 0;
    case "analyzer-cost":
        await AnalyzerCost.RunAsync(
            args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 1000,
            args.Length > 2 ? int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture) : 1);
        return 0;
    case "transports":
        await TransportComparison.RunAsync();
        return 0;
    case "strategies":
        await StrategyComparison.RunAsync(args.Length > 1 ? args[1] : "docs/benchmarks-throughput.svg");
        return 0;
    default:
        Console.Error.WriteLine("usage: Backpressure.Benchmarks <watermark|alloc|strategies [chart.svg]|transports|analyzer-cost [files] [transport every n]>");
        return 2;
}
#endif

/// <summary>One timed transfer over an <see cref="InMemoryLinkChannel"/>, from the first send until the queue is empty.</summary>
internal readonly record struct LinkRun(double FractionOfLink, double PausesPerMiB, long PeakQueue)
{
    public static async Task<LinkRun> MeasureAsync(long bitsPerSecond, byte[] payload, BackpressureOptions options)
    {
        using var link = new InMemoryLinkChannel(new InMemoryLinkOptions(bitsPerSecond, TimeSpan.FromMilliseconds(1)));
        var pauses = 0;
        link.BufferedAmountLow += (_, _) => Interlocked.Increment(ref pauses);

        var clock = Stopwatch.StartNew();
        await link.SendAsync(payload, options);
        var spin = new SpinWait();
        while (link.BufferedAmount > 0)
        {
            spin.SpinOnce(sleep1Threshold: -1);
        }

        var ideal = payload.Length * 8.0 / bitsPerSecond;
        return new LinkRun(ideal / clock.Elapsed.TotalSeconds, pauses / (payload.Length / 1048576.0), link.PeakBufferedAmount);
    }
}

internal static class WatermarkSweep
{
    private const int Repeats = 5;

    public static async Task RunAsync()
    {
        long[] rates = [100_000_000, 1_000_000_000, 10_000_000_000];
        long[] highs = [64, 80, 96, 128, 192, 256];
        Console.WriteLine($"low threshold 64 KiB, chunk 16 KiB, latency 1 ms; median of {Repeats} runs (min-max)");
        Console.WriteLine("| link | high watermark | throughput, % of link | low events per MiB | peak queue |");
        Console.WriteLine("|---|---|---|---|---|");
        foreach (var rate in rates)
        {
            // About a quarter of a second of transfer at each rate, at least 4 MiB.
            var payload = new byte[Math.Max(4 << 20, (int)Math.Min(128L << 20, rate / 8 / 4))];
            Random.Shared.NextBytes(payload);
            foreach (var highKiB in highs)
            {
                var options = new BackpressureOptions(lowThreshold: 64 * 1024, highWatermark: highKiB * 1024);
                await LinkRun.MeasureAsync(rate, payload, options); // warm-up
                var runs = new List<LinkRun>();
                for (var i = 0; i < Repeats; i++)
                {
                    runs.Add(await LinkRun.MeasureAsync(rate, payload, options));
                }

                var fractions = runs.Select(r => r.FractionOfLink * 100).Order().ToArray();
                Console.WriteLine(
                    $"| {rate / 1e6:N0} Mbit/s | {highKiB} KiB | {fractions[Repeats / 2]:F1} ({fractions[0]:F1}-{fractions[^1]:F1}) " +
                    $"| {runs.Select(r => r.PausesPerMiB).Order().ElementAt(Repeats / 2):F1} | {runs.Max(r => r.PeakQueue) / 1024} KiB |");
            }
        }
    }
}

internal static class AllocationProbe
{
    /// <summary>
    /// Allocations per chunk as a slope: the same transfer at two sizes, so per-call costs (the task, the
    /// transfer object, the subscriptions) cancel out and only what grows with the chunk count remains.
    /// The channel copies nothing and drains on its own thread, raising the low event on every crossing.
    /// </summary>
    public static async Task RunAsync()
    {
        var options = BackpressureOptions.Default;
        var small = new byte[64 << 20];
        var large = new byte[512 << 20];
        await MeasureAsync(small, options); // warm-up: tiered JIT, thread pool

        for (var i = 0; i < 3; i++)
        {
            var (smallBytes, smallPauses) = await MeasureAsync(small, options);
            var (largeBytes, largePauses) = await MeasureAsync(large, options);
            var chunks = (large.Length - small.Length) / options.ChunkSize;
            Console.WriteLine(
                $"run {i + 1}: {small.Length >> 20} MiB: {smallBytes:N0} B allocated, {smallPauses:N0} pauses; " +
                $"{large.Length >> 20} MiB: {largeBytes:N0} B, {largePauses:N0} pauses; " +
                $"slope {(double)(largeBytes - smallBytes) / chunks:F3} B/chunk");
        }
    }

    private static async Task<(long Allocated, int Pauses)> MeasureAsync(byte[] payload, BackpressureOptions options)
    {
        using var channel = new CountingChannel();
        var before = GC.GetTotalAllocatedBytes(precise: true);
        await channel.SendAsync(payload, options);
        return (GC.GetTotalAllocatedBytes(precise: true) - before, channel.Crossings);
    }

    /// <summary>Counts bytes instead of copying them; a thread drains 16 KiB at a time and raises the low event.</summary>
    private sealed class CountingChannel : IBufferedChannel, IDisposable
    {
        private readonly Thread _drain;
        private long _buffered;
        private long _threshold;
        private volatile bool _stop;
        private int _crossings;

        public CountingChannel()
        {
            _drain = new Thread(Drain) { IsBackground = true };
            _drain.Start();
        }

        public event EventHandler? BufferedAmountLow;

        public event EventHandler? Closed { add { } remove { } }

        public event EventHandler<BufferedChannelErrorEventArgs>? Error { add { } remove { } }

        public long BufferedAmount => Volatile.Read(ref _buffered);

        public long BufferedAmountLowThreshold { get => Volatile.Read(ref _threshold); set => Volatile.Write(ref _threshold, value); }

        public bool SupportsBufferedAmountLowEvent => true;

        public BufferedChannelState State => BufferedChannelState.Open;

        public int MaxMessageSize => int.MaxValue;

        public int Crossings => Volatile.Read(ref _crossings);

        public void Send(ReadOnlyMemory<byte> message) => Interlocked.Add(ref _buffered, message.Length);

        public void Close() => _stop = true;

        public void Dispose()
        {
            _stop = true;
            _drain.Join();
        }

        private void Drain()
        {
            while (!_stop)
            {
                var before = Volatile.Read(ref _buffered);
                if (before == 0)
                {
                    Thread.Yield();
                    continue;
                }

                var after = Interlocked.Add(ref _buffered, -Math.Min(before, 16 * 1024));
                var threshold = Volatile.Read(ref _threshold);
                if (after <= threshold && after + Math.Min(before, 16 * 1024) > threshold)
                {
                    _crossings++;
                    BufferedAmountLow?.Invoke(this, EventArgs.Empty);
                }
            }
        }
    }
}
