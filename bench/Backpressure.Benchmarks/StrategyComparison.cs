using System.Diagnostics;
using System.Globalization;
using System.Text;
using Backpressure;

/// <summary>
/// The event-driven sender against the polling it replaces, over <see cref="InMemoryLinkChannel"/> at four
/// link speeds: throughput as a share of the link, the deepest queue, and process CPU per MiB sent.
/// </summary>
internal static class StrategyComparison
{
    private const int Repeats = 3;
    private const int ChunkSize = 16 * 1024;
    private const long PollLimit = 64 * 1024;
    private static readonly TimeSpan Latency = TimeSpan.FromMilliseconds(2);
    private static readonly TimeSpan WarmUp = TimeSpan.FromSeconds(0.5);

    private sealed record Strategy(string Name, Func<IBufferedChannel, byte[], Task> Send, int MaxPayload);

    /// <summary>One strategy at one speed: the median transfer and the spread, and how many of the transfers fell short of <see cref="Target"/>.</summary>
    private sealed record Row(double Fraction, double Min, double Max, long Peak, double CpuMsPerMiB, int ShortOfTarget);

    /// <summary>The share of the link a transfer should reach (issue 7's A1).</summary>
    private const double Target = 0.97;

    /// <summary>The sender with the low threshold the docs advised for multi-gigabit links before it adapted on its own.</summary>
    private static readonly Strategy Explicit256 = new(
        "event-driven SendAsync, lowThreshold 256 KiB", (c, p) => c.SendAsync(p, new BackpressureOptions(lowThreshold: 256 * 1024)), int.MaxValue);

    /// <summary>
    /// A bounded sender with nothing to wake up from: no event, no thread-pool hop, no timer. A thread of its own
    /// reads the buffered amount without pause and sends the next chunk the moment the queue has room under the
    /// sender's cap (1 MiB, 16 x the default low threshold). It burns a core to do so; it is here only so a run
    /// shows which dips a bounded queue cannot avoid on the machine (a stalled CPU, a late link thread). With a
    /// core to spare it is the most a queue that deep allows; on two vCPUs at 10 Gbit/s its spin also competes
    /// with the link's own thread, so there it bounds nothing and only shows the machine's dips.
    /// </summary>
    private static readonly Strategy Bound = new(
        "bound: a thread spinning on BufferedAmount, queue at most 1 MiB", (c, p) => SpinningSend(c, p, BoundQueue), int.MaxValue);

    private const long BoundQueue = 16 * BackpressureOptions.DefaultLowThreshold;

    private static readonly Strategy[] Strategies =
    [
        new("event-driven SendAsync", (c, p) => c.SendAsync(p), int.MaxValue),
        new("poll every 50 ms (the seed's before)", (c, p) => PollingSend(c, p, 50), 2 << 20),
        new("poll every 10 ms", (c, p) => PollingSend(c, p, 10), 8 << 20),
        new("poll every 1 ms", (c, p) => PollingSend(c, p, 1), 32 << 20),
        new("naive: send all, no backpressure", NaiveSend, 64 << 20),
    ];

    /// <summary>
    /// Runs the whole table <paramref name="runs"/> times, each printed, then (for several) the spread of the
    /// sender's rows across runs: each run's median and the worst, since one run's median hides how much a busy
    /// machine's wake-ups vary from run to run. The bound's row beside them tells the sender's dips from the
    /// machine's: where it dips too, no bounded queue of that depth would have held the link. The chart shows the
    /// median of the runs' medians, with the lowest and highest single transfer as the error bar.
    /// </summary>
    public static async Task RunAsync(string chartPath, int runs = 1)
    {
        long[] rates = [10_000_000, 100_000_000, 1_000_000_000, 10_000_000_000];
        Strategy[] measured = [Strategies[0], Explicit256, Bound, .. Strategies[1..]];
        var allRuns = new List<Dictionary<(string, long), Row>>();
        for (var run = 1; run <= runs; run++)
        {
            if (runs > 1)
            {
                Console.WriteLine();
                Console.WriteLine($"run {run} of {runs}");
            }

            allRuns.Add(await RunTableAsync(rates, measured));
        }

        var results = measured.SelectMany(m => rates.Select(r => (m.Name, r))).ToDictionary(
            key => key,
            key =>
            {
                var rows = allRuns.Select(run => run[key]).ToList();
                var medians = rows.Select(row => row.Fraction).Order().ToList();
                return new Row(medians[medians.Count / 2], rows.Min(row => row.Min), rows.Max(row => row.Max), rows.Max(row => row.Peak), rows.Select(row => row.CpuMsPerMiB).Order().ElementAt(rows.Count / 2), rows.Sum(row => row.ShortOfTarget));
            });

        if (runs > 1)
        {
            Console.WriteLine();
            Console.WriteLine($"The sender across {runs} full runs: each run's median throughput (% of link), the worst run's median, the worst single transfer, how many transfers fell short of {Target * 100:F0} %, and the deepest queue of all runs. The bound and the naive send beside it: what the machine allowed senders that never wait for a wake-up");
            Console.WriteLine($"| link | strategy | each run's median | worst median | worst transfer | transfers under {Target * 100:F0} % | peak queue |");
            Console.WriteLine("|---|---|---|---|---|---|---|");
            foreach (var rate in rates)
            {
                foreach (var strategy in new[] { Strategies[0], Explicit256, Bound, Strategies[4] })
                {
                    var rows = allRuns.Select(run => run[(strategy.Name, rate)]).ToList();
                    Console.WriteLine(FormattableString.Invariant(
                        $"| {rate / 1e6:N0} Mbit/s | {strategy.Name} | {string.Join(", ", rows.Select(row => (row.Fraction * 100).ToString("F1", CultureInfo.InvariantCulture)))} | {rows.Min(row => row.Fraction) * 100:F1} | {rows.Min(row => row.Min) * 100:F1} | {rows.Sum(row => row.ShortOfTarget)} of {rows.Count * Repeats} | {rows.Max(row => row.Peak) / 1024:N0} KiB |"));
                }
            }
        }

        Console.WriteLine();
        Console.WriteLine("No low event (SIPSorcery-shaped): the drain-rate fallback against the 50 ms poller and the naive send");
        Console.WriteLine("| link | strategy | throughput, % of link | peak queue |");
        Console.WriteLine("|---|---|---|---|");
        foreach (var rate in new long[] { 100_000_000, 1_000_000_000 })
        {
            foreach (var strategy in new[] { Strategies[0], Strategies[1], Strategies[4] })
            {
                var payload = new byte[(int)Math.Clamp(rate / 8 * 3 / 10, 1 << 20, Math.Min(64 << 20, strategy.MaxPayload))];
                await WarmUpAsync(rate, strategy, payload, raisesLowEvent: false);
                var transfers = new List<(double Fraction, long Peak, double Cpu, double SenderCpu)>();
                for (var i = 0; i < Repeats; i++)
                {
                    transfers.Add(await MeasureAsync(rate, strategy, payload, raisesLowEvent: false));
                }

                var fractions = transfers.Select(r => r.Fraction).Order().ToArray();
                Console.WriteLine(FormattableString.Invariant(
                    $"| {rate / 1e6:N0} Mbit/s | {(strategy == Strategies[0] ? "SendAsync on the fallback" : strategy.Name)} | {fractions[Repeats / 2] * 100:F1} ({fractions[0] * 100:F1}-{fractions[^1] * 100:F1}) | {transfers.Max(r => r.Peak) / 1024:N0} KiB |"));
            }
        }

        File.WriteAllText(chartPath, Chart(rates, results));
        Console.WriteLine();
        Console.WriteLine($"chart written to {chartPath}");
    }

    private static async Task<Dictionary<(string, long), Row>> RunTableAsync(long[] rates, Strategy[] strategies)
    {
        var results = new Dictionary<(string, long), Row>();
        Console.WriteLine($"latency {Latency.TotalMilliseconds} ms, {ChunkSize / 1024} KiB chunks, pollers wait while more than {PollLimit / 1024} KiB is queued; median of {Repeats} runs (min-max)");
        Console.WriteLine("CPU per MiB: the whole process from the first send until the link has drained. Sender only: the same minus the link simulation's and the background JIT's threads (Linux /proc, 10 ms ticks; mean of the runs)");
        Console.WriteLine("| link | strategy | throughput, % of link | peak queue | CPU ms per MiB | sender only, CPU ms per MiB |");
        Console.WriteLine("|---|---|---|---|---|---|");
        foreach (var rate in rates)
        {
            foreach (var strategy in strategies)
            {
                // About 0.3 s of ideal transfer time, within what each strategy finishes in reasonable time.
                var payload = new byte[(int)Math.Clamp(rate / 8 * 3 / 10, 1 << 20, Math.Min(64 << 20, strategy.MaxPayload))];
                await WarmUpAsync(rate, strategy, payload, raisesLowEvent: true);
                var runs = new List<(double Fraction, long Peak, double Cpu, double SenderCpu)>();
                for (var i = 0; i < Repeats; i++)
                {
                    runs.Add(await MeasureAsync(rate, strategy, payload, raisesLowEvent: true));
                }

                var fractions = runs.Select(r => r.Fraction).Order().ToArray();
                var result = new Row(fractions[Repeats / 2], fractions[0], fractions[^1], runs.Max(r => r.Peak), runs.Select(r => r.Cpu).Order().ElementAt(Repeats / 2), fractions.Count(f => f < Target));
                results[(strategy.Name, rate)] = result;
                var sender = runs.Average(r => r.SenderCpu); // ticks are 10 ms: the mean over the runs resolves more than the median
                Console.WriteLine(FormattableString.Invariant(
                    $"| {rate / 1e6:N0} Mbit/s | {strategy.Name} | {result.Fraction * 100:F1} ({result.Min * 100:F1}-{result.Max * 100:F1}) | {result.Peak / 1024:N0} KiB | {result.CpuMsPerMiB:F1} | {(double.IsNaN(sender) ? "n/a" : sender.ToString("F1", CultureInfo.InvariantCulture))} |"));
            }
        }

        return results;
    }

    /// <summary>
    /// Transfers until <see cref="WarmUp"/> has passed, at least once, and measures nothing. A process settles over the
    /// first few hundred milliseconds of a transfer pattern (the JIT's second tier, compiled on a background thread
    /// that takes a vCPU from the sender or the link; the link's buffer pool; the thread pool): after a single 54 ms
    /// warm-up transfer at 10 Gbit/s the first measured one ran 10 to 20 points below the rest in each of four probes.
    /// </summary>
    private static async Task WarmUpAsync(long rate, Strategy strategy, byte[] payload, bool raisesLowEvent)
    {
        var clock = Stopwatch.StartNew();
        do
        {
            await MeasureAsync(rate, strategy, payload, raisesLowEvent);
        }
        while (clock.Elapsed < WarmUp);
    }

    private static async Task<(double Fraction, long Peak, double Cpu, double SenderCpu)> MeasureAsync(long rate, Strategy strategy, byte[] payload, bool raisesLowEvent)
    {
        using var link = new InMemoryLinkChannel(new InMemoryLinkOptions(rate, Latency, raisesBufferedAmountLow: raisesLowEvent));
        var linkAtStart = LinkThreadTicks();
        var cpuAtStart = Process.GetCurrentProcess().TotalProcessorTime;
        var clock = Stopwatch.StartNew();
        await strategy.Send(link, payload);

        // The run ends when the link has drained what is left. With the event, the link's own thread stamps
        // the moment it empties and this thread blocks meanwhile, costing no CPU and adding no delay; without
        // it (the fallback table, which reports no CPU) this thread spins.
        var seconds = raisesLowEvent ? await DrainedAsync(link, clock) : SpinUntilDrained(link, clock);
        var cpuMs = (Process.GetCurrentProcess().TotalProcessorTime - cpuAtStart).TotalMilliseconds;
        var senderMs = OperatingSystem.IsLinux() ? cpuMs - LinkMilliseconds(linkAtStart, LinkThreadTicks()) : double.NaN;
        var mebibytes = payload.Length / 1048576.0;
        return (payload.Length * 8.0 / rate / seconds, link.PeakBufferedAmount, cpuMs / mebibytes, senderMs / mebibytes);
    }

    private static async Task<double> DrainedAsync(InMemoryLinkChannel link, Stopwatch clock)
    {
        var emptied = new TaskCompletionSource<double>(TaskCreationOptions.RunContinuationsAsynchronously);
        EventHandler onLow = (_, _) =>
        {
            if (link.BufferedAmount == 0)
            {
                emptied.TrySetResult(clock.Elapsed.TotalSeconds);
            }
        };
        link.BufferedAmountLowThreshold = 0;
        link.BufferedAmountLow += onLow;
        try
        {
            if (link.BufferedAmount == 0)
            {
                emptied.TrySetResult(clock.Elapsed.TotalSeconds);
            }

            return await emptied.Task;
        }
        finally
        {
            link.BufferedAmountLow -= onLow;
        }
    }

    private static double SpinUntilDrained(InMemoryLinkChannel link, Stopwatch clock)
    {
        var spin = new SpinWait();
        while (link.BufferedAmount > 0)
        {
            spin.SpinOnce(sleep1Threshold: -1);
        }

        return clock.Elapsed.TotalSeconds;
    }

    /// <summary>CPU time of the link threads between two readings; USER_HZ is 100 on Linux.</summary>
    private static double LinkMilliseconds(Dictionary<string, long> before, Dictionary<string, long> after) =>
        after.Sum(t => t.Value - before.GetValueOrDefault(t.Key)) * 10.0;

    /// <summary>
    /// CPU ticks of each live thread that is not the sender's: the link simulation ("InMemoryLinkChannel",
    /// truncated to 15 characters by Linux) and the runtime's background JIT (".NET Tiered Compilation"),
    /// by thread id, from /proc; empty elsewhere. Per thread, so one that ends in between drops out
    /// of both readings instead of looking like negative CPU.
    /// </summary>
    private static Dictionary<string, long> LinkThreadTicks()
    {
        var ticks = new Dictionary<string, long>();
        if (!OperatingSystem.IsLinux())
        {
            return ticks;
        }

        foreach (var task in Directory.EnumerateDirectories("/proc/self/task"))
        {
            try
            {
                if (File.ReadAllText(Path.Combine(task, "comm")).Trim() is not ("InMemoryLinkCha" or ".NET Tiered Com"))
                {
                    continue;
                }

                // Fields after "(comm) ": state is field 3, utime 14 and stime 15 (1-based), so 11 and 12 here.
                var stat = File.ReadAllText(Path.Combine(task, "stat"));
                var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                ticks[Path.GetFileName(task)] = long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
            }
            catch (IOException)
            {
                // The thread ended between the listing and the read.
            }
        }

        return ticks;
    }

    /// <summary>The C# twin of the seed's setTimeout(sendChunk, interval): check, sleep a fixed interval, check again.</summary>
    private static async Task PollingSend(IBufferedChannel channel, byte[] payload, int intervalMs)
    {
        for (var offset = 0; offset < payload.Length; offset += ChunkSize)
        {
            while (channel.BufferedAmount > PollLimit)
            {
                await Task.Delay(intervalMs);
            }

            channel.Send(payload.AsMemory(offset, Math.Min(ChunkSize, payload.Length - offset)));
        }
    }

    private static Task SpinningSend(IBufferedChannel channel, byte[] payload, long queueLimit)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var thread = new Thread(() =>
        {
            try
            {
                for (var offset = 0; offset < payload.Length;)
                {
                    var length = Math.Min(ChunkSize, payload.Length - offset);
                    if (channel.BufferedAmount + length > queueLimit)
                    {
                        Thread.SpinWait(20);
                        continue;
                    }

                    channel.Send(payload.AsMemory(offset, length));
                    offset += length;
                }

                done.SetResult();
            }
            catch (Exception ex)
            {
                done.SetException(ex);
            }
        })
        { IsBackground = true, Name = "bound sender" };
        thread.Start();
        return done.Task;
    }

    private static Task NaiveSend(IBufferedChannel channel, byte[] payload)
    {
        for (var offset = 0; offset < payload.Length; offset += ChunkSize)
        {
            channel.Send(payload.AsMemory(offset, Math.Min(ChunkSize, payload.Length - offset)));
        }

        return Task.CompletedTask;
    }

    /// <summary>Throughput against link speed, both on log scales, one line per strategy and the link rate as the ceiling.</summary>
    private static string Chart(long[] rates, Dictionary<(string, long), Row> results)
    {
        const int Width = 760, Height = 440, Left = 70, Right = 250, Top = 30, Bottom = 60;
        double minY = Math.Log10(0.1), maxY = Math.Log10(2000); // MB/s
        double X(long rate) => Left + ((Math.Log10(rate) - 7) / 3 * (Width - Left - Right));
        double Y(double megabytesPerSecond) => Top + ((maxY - Math.Log10(Math.Max(megabytesPerSecond, 0.1))) / (maxY - minY) * (Height - Top - Bottom));
        string[] colours = ["#1b7837", "#d73027", "#fc8d59", "#fee090", "#4575b4"];
        var svg = new StringBuilder();
        svg.Append(CultureInfo.InvariantCulture, $"""<svg xmlns="http://www.w3.org/2000/svg" width="{Width}" height="{Height}" font-family="sans-serif" font-size="12">""").AppendLine();
        svg.AppendLine("""<rect width="100%" height="100%" fill="white"/>""");
        svg.Append(CultureInfo.InvariantCulture, $"""<text x="{Left}" y="18" font-size="14">Throughput vs link speed (InMemoryLinkChannel, {Latency.TotalMilliseconds} ms latency)</text>""").AppendLine();
        foreach (var tick in new[] { 0.1, 1, 10, 100, 1000 })
        {
            svg.Append(CultureInfo.InvariantCulture, $"""<line x1="{Left}" x2="{Width - Right}" y1="{Y(tick):F1}" y2="{Y(tick):F1}" stroke="#ddd"/><text x="{Left - 8}" y="{Y(tick) + 4:F1}" text-anchor="end">{tick}</text>""").AppendLine();
        }

        foreach (var rate in rates)
        {
            svg.Append(CultureInfo.InvariantCulture, $"""<text x="{X(rate):F1}" y="{Height - Bottom + 18}" text-anchor="middle">{(rate >= 1_000_000_000 ? $"{rate / 1_000_000_000} Gbit/s" : $"{rate / 1_000_000} Mbit/s")}</text>""").AppendLine();
        }

        svg.Append(CultureInfo.InvariantCulture, $"""<text x="18" y="{(Top + Height - Bottom) / 2}" transform="rotate(-90 18 {(Top + Height - Bottom) / 2})" text-anchor="middle">MB/s (log)</text>""").AppendLine();
        var ceiling = string.Join(" ", rates.Select(r => FormattableString.Invariant($"{X(r):F1},{Y(r / 8e6):F1}")));
        svg.Append(CultureInfo.InvariantCulture, $"""<polyline points="{ceiling}" fill="none" stroke="black" stroke-dasharray="6 4"/>""").AppendLine();
        var legendY = Top + 10;
        svg.Append(CultureInfo.InvariantCulture, $"""<line x1="{Width - Right + 20}" x2="{Width - Right + 45}" y1="{legendY}" y2="{legendY}" stroke="black" stroke-dasharray="6 4"/><text x="{Width - Right + 50}" y="{legendY + 4}">link rate</text>""").AppendLine();
        // The event-driven line is drawn last and widest: it runs on top of the link rate and the naive send.
        string Style(int i) => i switch
        {
            0 => "stroke-width=\"5\"",
            4 => "stroke-width=\"2\" stroke-dasharray=\"2 4\"",
            _ => "stroke-width=\"2.5\"",
        };

        foreach (var i in Enumerable.Range(0, Strategies.Length).Reverse())
        {
            var points = string.Join(" ", rates.Select(r => FormattableString.Invariant($"{X(r):F1},{Y(results[(Strategies[i].Name, r)].Fraction * r / 8e6):F1}")));
            svg.Append(CultureInfo.InvariantCulture, $"""<polyline points="{points}" fill="none" stroke="{colours[i]}" {Style(i)}/>""").AppendLine();
        }

        // The sender's spread: from its worst single transfer to its best, across every run.
        foreach (var rate in rates)
        {
            var (low, high) = (results[(Strategies[0].Name, rate)].Min * rate / 8e6, results[(Strategies[0].Name, rate)].Max * rate / 8e6);
            svg.Append(CultureInfo.InvariantCulture, $"""<line x1="{X(rate):F1}" x2="{X(rate):F1}" y1="{Y(low):F1}" y2="{Y(high):F1}" stroke="{colours[0]}" stroke-width="2"/><line x1="{X(rate) - 6:F1}" x2="{X(rate) + 6:F1}" y1="{Y(low):F1}" y2="{Y(low):F1}" stroke="{colours[0]}" stroke-width="2"/>""").AppendLine();
        }

        for (var i = 0; i < Strategies.Length; i++)
        {
            legendY += 22;
            svg.Append(CultureInfo.InvariantCulture, $"""<line x1="{Width - Right + 20}" x2="{Width - Right + 45}" y1="{legendY}" y2="{legendY}" stroke="{colours[i]}" {Style(i)}/><text x="{Width - Right + 50}" y="{legendY + 4}">{Strategies[i].Name.Split(" (")[0]}</text>""").AppendLine();
        }

        svg.AppendLine("</svg>");
        return svg.ToString();
    }
}
