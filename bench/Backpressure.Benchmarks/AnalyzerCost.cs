using System.Collections.Immutable;
using System.Diagnostics;
using System.Reflection;
using Backpressure.Analyzers;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Diagnostics;

/// <summary>
/// BP0001's cost on a generated corpus of transport-like files (most without polling), against the
/// compile itself and, side by side in the same run, AsyncFixer's and Meziantou.Analyzer's rules,
/// from Roslyn's own per-analyzer execution-time telemetry.
/// </summary>
internal static class AnalyzerCost
{
    private const int Repeats = 5;
    private const int PairedRepeats = 16;

    public static async Task RunAsync(int files, int transportEvery = 1)
    {
        var trees = Corpus(files, transportEvery).Select((text, i) => CSharpSyntaxTree.ParseText(text, new CSharpParseOptions(LanguageVersion.Latest), $"File{i}.cs")).ToImmutableArray();
        var references = Basic.Reference.Assemblies.Net100.References.All.Cast<MetadataReference>()
            .Append(MetadataReference.CreateFromFile(typeof(Backpressure.IBufferedChannel).Assembly.Location)).ToImmutableArray();
        var compilation = CSharpCompilation.Create("Corpus", trees, references, new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary));

        var others = LoadAnalyzers("AsyncFixerPath").Concat(LoadAnalyzers("MeziantouPath")).ToImmutableArray();
        var ours = new BP0001BufferedAmountPollingAnalyzer();
        var analyzers = others.Add(ours);

        var compileTimes = new List<double>();
        var telemetry = new Dictionary<string, List<double>>();
        var reports = 0;
        for (var run = 0; run <= Repeats; run++)
        {
            // A fresh compilation each time, so nothing is cached from the previous run.
            var fresh = compilation.RemoveAllSyntaxTrees().AddSyntaxTrees(trees);
            var clock = Stopwatch.StartNew();
            var errors = fresh.GetDiagnostics().Count(d => d.Severity == DiagnosticSeverity.Error);
            var compile = clock.Elapsed.TotalMilliseconds;

            var withAnalyzers = fresh.WithAnalyzers(analyzers, new CompilationWithAnalyzersOptions(new AnalyzerOptions([]), null, concurrentAnalysis: false, logAnalyzerExecutionTime: true));
            var diagnostics = await withAnalyzers.GetAnalyzerDiagnosticsAsync();
            reports = diagnostics.Count(d => d.Id == "BP0001");
            if (run == 0)
            {
                Console.WriteLine($"{files} files, 1 in {transportEvery} a transport, {errors} compile errors, {reports} BP0001 reports, {analyzers.Length} analyzers ({others.Length} from AsyncFixer and Meziantou)");
                continue; // warm-up
            }

            compileTimes.Add(compile);
            foreach (var analyzer in analyzers)
            {
                var info = await withAnalyzers.GetAnalyzerTelemetryInfoAsync(analyzer, CancellationToken.None);
                var name = analyzer.GetType().FullName!;
                (telemetry.TryGetValue(name, out var list) ? list : telemetry[name] = []).Add(info.ExecutionTime.TotalMilliseconds);
            }
        }

        double Median(List<double> values) => values.Order().ElementAt(values.Count / 2);
        var compileMedian = Median(compileTimes);
        Console.WriteLine($"compile (GetDiagnostics, no analyzers): median {compileMedian:F0} ms of {Repeats} runs ({compileTimes.Min():F0}-{compileTimes.Max():F0})");
        Console.WriteLine();
        Console.WriteLine("| analyzer | median ms | % of compile |");
        Console.WriteLine("|---|---|---|");
        var ourName = typeof(BP0001BufferedAmountPollingAnalyzer).FullName!;
        foreach (var (name, times) in telemetry.OrderByDescending(t => Median(t.Value)))
        {
            var shown = name == ourName || name.StartsWith("AsyncFixer", StringComparison.Ordinal) || telemetry.OrderByDescending(t => Median(t.Value)).Take(5).Any(t => t.Key == name);
            if (shown)
            {
                Console.WriteLine($"| {(name == ourName ? "**" + name + " (BP0001)**" : name)} | {Median(times):F1} | {Median(times) / compileMedian * 100:F2} % |");
            }
        }

        // Telemetry charges shared work (building each method's operation tree) to whichever analyzer asks
        // first; BP0001 alone, by wall clock, is what adding it to a build costs.
        // The driver binds the compilation and builds operation trees for any operation analyzer: its cost
        // with one that does nothing is the baseline, and BP0001's own cost is the difference.
        async Task<double> Once(DiagnosticAnalyzer analyzer)
        {
            // A fresh compilation each time, and a collected heap, so neither run inherits the other's work.
            var fresh = compilation.RemoveAllSyntaxTrees().AddSyntaxTrees(trees);
            GC.Collect();
            GC.WaitForPendingFinalizers();
            var clock = Stopwatch.StartNew();
            await fresh.WithAnalyzers([analyzer], new CompilationWithAnalyzersOptions(new AnalyzerOptions([]), null, concurrentAnalysis: false, logAnalyzerExecutionTime: false)).GetAnalyzerDiagnosticsAsync();
            return clock.Elapsed.TotalMilliseconds;
        }

        async Task<List<double>> Wall(DiagnosticAnalyzer analyzer)
        {
            await Once(analyzer); // warm-up
            var times = new List<double>();
            for (var run = 0; run < Repeats; run++)
            {
                times.Add(await Once(analyzer));
            }

            return times;
        }

        // BP0001 against the do-nothing operation analyzer in interleaved pairs (AB, BA, ...): drift in the
        // machine's speed hits both sides of a pair alike, so the pair's difference is what BP0001 adds.
        var empty = new List<double>();
        var alone = new List<double>();
        var differences = new List<double>();
        DiagnosticAnalyzer baseline = new DoNothingAnalyzer(asksForOperations: true);
        await Once(baseline);
        await Once(ours);
        for (var pair = 0; pair < PairedRepeats; pair++)
        {
            var first = pair % 2 == 0 ? baseline : ours;
            var a = await Once(first);
            var b = await Once(first == baseline ? ours : baseline);
            var (withOurs, without) = first == baseline ? (b, a) : (a, b);
            alone.Add(withOurs);
            empty.Add(without);
            differences.Add(withOurs - without);
        }

        differences.Sort();
        var added = Median(differences);
        Console.WriteLine();
        Console.WriteLine(
            $"analysis wall clock over {PairedRepeats} interleaved pairs, BP0001 alone: median {Median(alone):F0} ms against {Median(empty):F0} ms for an operation analyzer that does nothing; " +
            $"BP0001 adds a median {added:F0} ms per pair (interquartile {differences[PairedRepeats / 4]:F0} to {differences[PairedRepeats * 3 / 4]:F0}) = {added / compileMedian * 100:F1} % of compile");

        // Each rule alone, by wall clock: what adding just that rule to a build costs, whatever shared work
        // (binding, operation trees) its kind of action makes the driver do. The same for every row.
        Console.WriteLine();
        Console.WriteLine("| alone in the analysis (wall clock) | median ms | over the syntax-only no-op |");
        Console.WriteLine("|---|---|---|");
        var floor = Median(await Wall(new DoNothingAnalyzer(asksForOperations: false)));
        Console.WriteLine($"| a syntax-tree analyzer that does nothing | {floor:F0} | 0 |");
        Console.WriteLine($"| an operation analyzer that does nothing | {Median(empty):F0} | {Median(empty) - floor:F0} |");
        foreach (var rule in others.Where(a => a.GetType().FullName!.StartsWith("AsyncFixer", StringComparison.Ordinal)).Append(ours))
        {
            var median = rule == ours ? Median(alone) : Median(await Wall(rule));
            var name = rule.GetType().Name;
            Console.WriteLine($"| {(rule == ours ? "**BP0001**" : name)} | {median:F0} | {median - floor:F0} |");
        }

        var asyncFixer = telemetry.Where(t => t.Key.StartsWith("AsyncFixer", StringComparison.Ordinal)).Select(t => Median(t.Value)).DefaultIfEmpty(0).ToList();
        Console.WriteLine();
        Console.WriteLine($"BP0001: {Median(telemetry[ourName]):F1} ms = {Median(telemetry[ourName]) / compileMedian * 100:F2} % of compile; cheapest AsyncFixer rule {asyncFixer.Min():F1} ms; Meziantou's rules in all {telemetry.Where(t => t.Key.StartsWith("Meziantou", StringComparison.Ordinal)).Sum(t => Median(t.Value)):F0} ms");
    }

    private static IEnumerable<DiagnosticAnalyzer> LoadAnalyzers(string metadataKey)
    {
        var root = typeof(AnalyzerCost).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == metadataKey).Value!;
        // Packages that ship one build per Roslyn version: the newest, which the harness's Roslyn 5.12 loads.
        var folder = Path.Combine(root, "analyzers", "dotnet", "cs");
        if (!Directory.Exists(folder))
        {
            folder = Path.Combine(Directory.EnumerateDirectories(Path.Combine(root, "analyzers", "dotnet"), "roslyn*")
                .OrderBy(d => Version.Parse(Path.GetFileName(d)["roslyn".Length..])).Last(), "cs");
        }

        foreach (var dll in Directory.EnumerateFiles(folder, "*.dll"))
        {
            var assembly = Assembly.LoadFrom(dll);
            Type[] types;
            try
            {
                types = assembly.GetTypes();
            }
            catch (ReflectionTypeLoadException ex)
            {
                types = ex.Types.Where(t => t is not null).ToArray()!;
            }

            foreach (var type in types.Where(t => !t.IsAbstract && typeof(DiagnosticAnalyzer).IsAssignableFrom(t) && t.GetCustomAttribute<DiagnosticAnalyzerAttribute>() is { } attribute && attribute.Languages.Contains(LanguageNames.CSharp)))
            {
                yield return (DiagnosticAnalyzer)Activator.CreateInstance(type)!;
            }
        }
    }

    /// <summary>
    /// Realistic files: one in <paramref name="transportEvery"/> is a transport (a channel with a BufferedAmount
    /// that sends, logs, retries and waits on events; one in twenty of those polls, or one file in
    /// <paramref name="pollEvery"/>); the others are the same code about a queue length, as the rest of an
    /// application would be. Types are numbered from <paramref name="first"/>, so several projects' files can
    /// share namespaces without a clash. With <paramref name="lowEvent"/> a transport's channel also has a
    /// low threshold, a low event and a Send(byte[]) overload, as most real ones do (its adapter is then
    /// event-driven); without it the text is what analyzer-cost has always measured.
    /// </summary>
    internal static IEnumerable<string> Corpus(int files, int transportEvery, int first = 0, int? pollEvery = null, bool lowEvent = false)
    {
        for (var i = first; i < first + files; i++)
        {
            var member = i % transportEvery == 0 ? "BufferedAmount" : "QueueLength";
            var lowMembers = lowEvent && member == "BufferedAmount" ? "\n" + """
                        public long BufferedAmountLowThreshold { get; set; }
                        public event Action? BufferedAmountLow;
                        public void Send(byte[] data) => Send(data, 0, data.Length);
                        public void Drained(int count)
                        {
                            BufferedAmount -= count;
                            if (BufferedAmount <= BufferedAmountLowThreshold) { BufferedAmountLow?.Invoke(); }
                        }
                """ : string.Empty;
            var polling = i % (pollEvery ?? 20 * transportEvery) == 0 ? $$"""
                    public async Task DrainAsync(CancellationToken ct)
                    {
                        while (_channel.{{member}} > 65536)
                        {
                            await Task.Delay(50, ct);
                        }
                    }
                """ : string.Empty;
            yield return $$"""
                using System;
                using System.Collections.Generic;
                using System.Threading;
                using System.Threading.Tasks;

                namespace Corpus{{i % 37}}
                {
                    public sealed class Channel{{i}}
                    {
                        public long {{member}} { get; private set; }
                        public event Action? Closed;{{lowMembers}}
                        public void Send(byte[] data, int offset, int count) => {{member}} += count;
                        public void Close() => Closed?.Invoke();
                    }

                    public sealed class Session{{i}}
                    {
                        private readonly Channel{{i}} _channel = new();
                        private readonly SemaphoreSlim _low = new(0);
                        private readonly Dictionary<int, string> _names = new();
                        private int _attempts;

                        public async Task<bool> ConnectAsync(Func<Task<bool>> attempt)
                        {
                            while (_attempts < 3)
                            {
                                if (await attempt().ConfigureAwait(false)) { return true; }
                                _attempts++;
                                await Task.Delay(100 * _attempts).ConfigureAwait(false);
                            }

                            return false;
                        }

                        public async Task SendAllAsync(byte[] payload, CancellationToken ct)
                        {
                            for (var offset = 0; offset < payload.Length; offset += 16384)
                            {
                                if (_channel.{{member}} > 1 << 20) { await _low.WaitAsync(ct).ConfigureAwait(false); }
                                _channel.Send(payload, offset, Math.Min(16384, payload.Length - offset));
                            }
                        }

                        public string Describe(int key) => _names.TryGetValue(key, out var name) ? $"{name}: {_channel.{{member}}} bytes queued" : "unknown";
                {{polling}}
                    }
                }
                """;
        }
    }

    // A measuring baseline run in-process by this harness, never shipped to a compiler: the rules for
    // shipped analyzers (target framework, extended rules, release tracking) do not apply.
#pragma warning disable RS1041, RS1036, RS2008
    [DiagnosticAnalyzer(LanguageNames.CSharp)]
    private sealed class DoNothingAnalyzer(bool asksForOperations) : DiagnosticAnalyzer
    {
        private static readonly DiagnosticDescriptor Nothing = new("NOOP", "nothing", "nothing", "none", DiagnosticSeverity.Hidden, isEnabledByDefault: true);

        public override ImmutableArray<DiagnosticDescriptor> SupportedDiagnostics => [Nothing];

        public override void Initialize(AnalysisContext context)
        {
            context.EnableConcurrentExecution();
            context.ConfigureGeneratedCodeAnalysis(GeneratedCodeAnalysisFlags.None);
            if (asksForOperations)
            {
                // Asks for the same operation trees BP0001 does, and does nothing with them.
                context.RegisterOperationAction(static _ => { }, OperationKind.Loop, OperationKind.Conditional, OperationKind.Invocation);
            }
            else
            {
                // The cheapest analyzer there is: it needs parsed trees only.
                context.RegisterSyntaxTreeAction(static _ => { });
            }
        }
    }
#pragma warning restore RS1041, RS1036, RS2008
}
