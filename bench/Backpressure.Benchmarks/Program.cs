// Measured harness for the runtime (Release only): `watermark` sweeps the high watermark,
// `alloc` measures allocations per chunk in steady state. Results go to docs/benchmarks.md.
using System.Diagnostics;
using Backpressure;

#if DEBUG
Console.Error.WriteLine("Run benchmarks in Release: dotnet run -c Release --project bench/Backpressure.Benchmarks -- <all|watermark|alloc|strategies|transports|micro|latency|stalls|queue-polling|analyzer-cost|cli-cost [sites n,n,...|sparse files sites]>");
return 2;
#else
switch (args.FirstOrDefault())
{
    case "all":
        return await EndToEnd.RunAsync(args.Length > 1 ? args[1] : "docs/benchmarks-throughput.svg");
    case "watermark":
        await WatermarkSweep.RunAsync();
        return 0;
    case "alloc":
        await AllocationProbe.RunAsync();
        return 0;
    case "analyzer-cost" when args.Length > 1 && args[1] == "versus":
        return await AnalyzerCostVersus.RunAsync(
            args[2],
            args.Length > 3 ? int.Parse(args[3], System.Globalization.CultureInfo.InvariantCulture) : 1000,
            args.Length > 4 ? int.Parse(args[4], System.Globalization.CultureInfo.InvariantCulture) : 10,
            args.Length > 5 ? int.Parse(args[5], System.Globalization.CultureInfo.InvariantCulture) : 10);
    case "analyzer-cost":
        await AnalyzerCost.RunAsync(
            args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 1000,
            args.Length > 2 ? int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture) : 1);
        return 0;
    case "micro":
        MicroBenchmarks.Run(args[1..]);
        return 0;
    case "latency":
        await LowEventLatency.RunAsync(args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 100_000);
        return 0;
    case "transports":
        await TransportComparison.RunAsync();
        return 0;
    case "cli-cost" when args.Length > 1 && args[1] == "sites":
        return await CliCost.RunSitesAsync(
            args.Length > 2 ? [.. args[2].Split(',').Select(n => int.Parse(n, System.Globalization.CultureInfo.InvariantCulture))] : [100, 300, 1000],
            args.Length > 3 ? int.Parse(args[3], System.Globalization.CultureInfo.InvariantCulture) : null);
    case "cli-cost" when args.Length > 1 && args[1] == "sparse":
        return await CliCost.RunSparseAsync(
            args.Length > 2 ? int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture) : 1000,
            args.Length > 3 ? int.Parse(args[3], System.Globalization.CultureInfo.InvariantCulture) : 10,
            args.Length > 4 ? int.Parse(args[4], System.Globalization.CultureInfo.InvariantCulture) : null);
    case "cli-cost":
        return await CliCost.RunAsync(
            args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : null,
            args.Length > 2 ? int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture) : 25,
            args.Length > 3 ? int.Parse(args[3], System.Globalization.CultureInfo.InvariantCulture) : null);
    case "queue-polling":
        await QueuePolling.RunAsync();
        return 0;
    case "stalls":
        MachineStalls.Run(args.Length > 1 ? double.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 10);
        return 0;
    case "strategies":
        await StrategyComparison.RunAsync(
            args.Length > 1 ? args[1] : "docs/benchmarks-throughput.svg",
            args.Length > 2 ? int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture) : 1);
        return 0;
    default:
        Console.Error.WriteLine("usage: Backpressure.Benchmarks <all [chart.svg]|watermark|alloc|strategies [chart.svg] [runs]|transports|micro [BenchmarkDotNet args]|latency [events]|stalls [seconds]|queue-polling|analyzer-cost [files] [transport every n]|analyzer-cost versus <other Backpressure.Analyzers.dll> [files] [transport every n] [pairs]|cli-cost [projects] [files per project] [runs]|cli-cost sites [n,n,...] [runs]|cli-cost sparse [files] [sites] [runs]>");
        return 2;
}
#endif

/// <summary>Every benchmark in turn, each under a heading with the command that runs it alone and its wall time.</summary>
internal static class EndToEnd
{
    public static async Task<int> RunAsync(string chartPath)
    {
        var total = Stopwatch.StartNew();
        Console.WriteLine($"machine: {Environment.ProcessorCount} logical cores, {System.Runtime.InteropServices.RuntimeInformation.OSDescription}, .NET {Environment.Version}");
        (string Command, Func<Task> Run)[] sections =
        [
            ("stalls 5", () =>
            {
                MachineStalls.Run(5); // first: how far this machine's own stalls explain the figures that follow
                return Task.CompletedTask;
            }),
            ($"strategies {chartPath}", () => StrategyComparison.RunAsync(chartPath)),
            ("watermark", WatermarkSweep.RunAsync),
            ("alloc", AllocationProbe.RunAsync),
            ("transports", TransportComparison.RunAsync),
            ("latency", () => LowEventLatency.RunAsync(100_000)),
            ("queue-polling", () => QueuePolling.RunAsync()),
            ("micro", () =>
            {
                MicroBenchmarks.Run([]);
                return Task.CompletedTask;
            }),
            ("analyzer-cost 1000 1", () => AnalyzerCost.RunAsync(1000, 1)),
            ("analyzer-cost 1000 10", () => AnalyzerCost.RunAsync(1000, 10)),
            ("cli-cost", async () =>
            {
                if (await CliCost.RunAsync(null, 25, null) != 0)
                {
                    throw new InvalidOperationException("cli-cost failed");
                }
            }),
        ];

        foreach (var (command, run) in sections)
        {
            Console.WriteLine();
            Console.WriteLine($"## dotnet run -c Release --project bench/Backpressure.Benchmarks -- {command}");
            var clock = Stopwatch.StartNew();
            await run();
            Console.WriteLine(System.FormattableString.Invariant($"({command}: {clock.Elapsed.TotalSeconds:F0} s)"));
        }

        Console.WriteLine();
        Console.WriteLine(System.FormattableString.Invariant($"all benchmarks: {total.Elapsed.TotalMinutes:F1} min"));
        return 0;
    }
}

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
}
