using System.Diagnostics;
using System.Globalization;

/// <summary>
/// How often this machine stops a running thread, with nothing else of ours running: one thread per core reads
/// the clock without pause and records every gap between two readings longer than 200 µs. Such a gap is time the
/// thread was not on a CPU: the operating system or, in a virtual machine, the host ran something else. At
/// 10 Gbit/s a 1 MiB queue lasts 840 µs, so every gap longer than that idles a link whose sender or whose
/// transport thread it hits, whatever the sender does.
/// </summary>
internal static class MachineStalls
{
    private static readonly long Threshold = Stopwatch.Frequency / 5000; // 200 µs

    public static void Run(double seconds)
    {
        var threads = Environment.ProcessorCount;
        var gaps = new List<long>[threads];
        var workers = new Thread[threads];
        for (var i = 0; i < threads; i++)
        {
            var mine = gaps[i] = [];
            workers[i] = new Thread(() => Watch(seconds, mine)) { IsBackground = true, Name = $"stall watch {i}" };
            workers[i].Start();
        }

        foreach (var worker in workers)
        {
            worker.Join();
        }

        Console.WriteLine($"{threads} threads, one per logical core, each reading the clock without pause for {seconds:F0} s; gaps over 0.2 ms between two readings");
        Console.WriteLine("| thread | gaps > 0.2 ms | > 0.84 ms | > 5 ms | time lost, % | longest, ms |");
        Console.WriteLine("|---|---|---|---|---|---|");
        for (var i = 0; i < threads; i++)
        {
            var ms = gaps[i].Select(g => g * 1000.0 / Stopwatch.Frequency).ToList();
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {i} | {ms.Count} | {ms.Count(g => g > 0.84)} | {ms.Count(g => g > 5)} | {ms.Sum() / (seconds * 10):F2} | {(ms.Count == 0 ? 0 : ms.Max()):F1} |"));
        }
    }

    private static void Watch(double seconds, List<long> gaps)
    {
        var last = Stopwatch.GetTimestamp();
        var end = last + (long)(seconds * Stopwatch.Frequency);
        while (last < end)
        {
            var now = Stopwatch.GetTimestamp();
            if (now - last > Threshold)
            {
                gaps.Add(now - last);
            }

            last = now;
        }
    }
}
