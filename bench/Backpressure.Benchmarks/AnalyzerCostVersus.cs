using System.Collections.Immutable;
using System.Diagnostics;
using System.Reflection;
using System.Runtime.Loader;
using Backpressure.Analyzers;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Diagnostics;

/// <summary>
/// BP0001 against another build of itself (an earlier commit's Backpressure.Analyzers.dll) in one process, on the
/// analyzer-cost corpus: each analyzer alone in a fresh compilation, in interleaved pairs (AB, BA, ...), so drift in
/// the machine's speed hits both sides alike. Reports Roslyn's telemetry for the rule and the analysis' wall clock.
/// </summary>
internal static class AnalyzerCostVersus
{
    public static async Task<int> RunAsync(string otherAssembly, int files, int transportEvery, int pairs)
    {
        if (!File.Exists(otherAssembly))
        {
            Console.Error.WriteLine($"no analyzer assembly at {otherAssembly}");
            return 2;
        }

        var trees = AnalyzerCost.Corpus(files, transportEvery).Select((text, i) => CSharpSyntaxTree.ParseText(text, new CSharpParseOptions(LanguageVersion.Latest), $"File{i}.cs")).ToImmutableArray();
        var references = Basic.Reference.Assemblies.Net100.References.All.Cast<MetadataReference>()
            .Append(MetadataReference.CreateFromFile(typeof(Backpressure.IBufferedChannel).Assembly.Location)).ToImmutableArray();
        var compilation = CSharpCompilation.Create("Corpus", trees, references, new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary));

        // The other build has this build's assembly name: it gets a load context of its own, sharing Roslyn with this one.
        var context = new IsolatedContext(otherAssembly);
        var otherType = context.LoadFromAssemblyPath(Path.GetFullPath(otherAssembly)).GetType(typeof(BP0001BufferedAmountPollingAnalyzer).FullName!, throwOnError: true)!;
        var other = (DiagnosticAnalyzer)Activator.CreateInstance(otherType)!;
        var ours = new BP0001BufferedAmountPollingAnalyzer();

        async Task<(double Telemetry, double Wall, int Reports)> Once(DiagnosticAnalyzer analyzer)
        {
            var fresh = compilation.RemoveAllSyntaxTrees().AddSyntaxTrees(trees);
            GC.Collect();
            GC.WaitForPendingFinalizers();
            var clock = Stopwatch.StartNew();
            var withAnalyzers = fresh.WithAnalyzers([analyzer], new CompilationWithAnalyzersOptions(new AnalyzerOptions([]), null, concurrentAnalysis: false, logAnalyzerExecutionTime: true));
            var diagnostics = await withAnalyzers.GetAnalyzerDiagnosticsAsync();
            var wall = clock.Elapsed.TotalMilliseconds;
            var info = await withAnalyzers.GetAnalyzerTelemetryInfoAsync(analyzer, CancellationToken.None);
            return (info.ExecutionTime.TotalMilliseconds, wall, diagnostics.Count(d => d.Id == "BP0001"));
        }

        var warmOther = await Once(other);
        var warmOurs = await Once(ours);
        foreach (var f in otherType.Assembly.GetType("Backpressure.Analyzers.Probe")?.GetFields() ?? []) f.SetValue(null, 0L);
        Console.WriteLine($"{files} files, 1 in {transportEvery} a transport; BP0001 reports: this build {warmOurs.Reports}, {otherAssembly} {warmOther.Reports}");
        Console.WriteLine();
        Console.WriteLine("| pair | other: telemetry ms | this: telemetry ms | other: wall ms | this: wall ms |");
        Console.WriteLine("|---|---|---|---|---|");
        var results = new List<((double Telemetry, double Wall, int) Other, (double Telemetry, double Wall, int) This)>();
        for (var pair = 0; pair < pairs; pair++)
        {
            var (a, b) = pair % 2 == 0 ? (other, (DiagnosticAnalyzer)ours) : (ours, other);
            var first = await Once(a);
            var second = await Once(b);
            var (o, t) = a == other ? (first, second) : (second, first);
            results.Add((o, t));
            Console.WriteLine($"| {pair + 1} | {o.Telemetry:F1} | {t.Telemetry:F1} | {o.Wall:F0} | {t.Wall:F0} |");
        }

        static double Median(IEnumerable<double> values)
        {
            var sorted = values.Order().ToList();
            return sorted[sorted.Count / 2];
        }

        Console.WriteLine();
        Console.WriteLine(
            $"medians of {pairs} pairs: telemetry other {Median(results.Select(r => r.Other.Telemetry)):F1} ms, this {Median(results.Select(r => r.This.Telemetry)):F1} ms " +
            $"(paired difference {Median(results.Select(r => r.This.Telemetry - r.Other.Telemetry)):+0.0;-0.0} ms); " +
            $"wall other {Median(results.Select(r => r.Other.Wall)):F0} ms, this {Median(results.Select(r => r.This.Wall)):F0} ms (paired difference {Median(results.Select(r => r.This.Wall - r.Other.Wall)):+0;-0} ms)");
        if (otherType.Assembly.GetType("Backpressure.Analyzers.Probe") is { } probe)
        {
            foreach (var f in probe.GetFields()) Console.WriteLine($"{f.Name}: {(f.Name is "Calls" or "Passed" ? f.GetValue(null) : (long)f.GetValue(null)! * 1000.0 / Stopwatch.Frequency / pairs):F1}");
        }
        return 0;
    }

    private sealed class IsolatedContext(string path) : AssemblyLoadContext(isCollectible: false)
    {
        private readonly AssemblyDependencyResolver _resolver = new(Path.GetFullPath(path));

        // Roslyn and the runtime come from the default context, so both builds see the same compiler types.
        protected override Assembly? Load(AssemblyName name) =>
            name.Name is { } simple && (simple.StartsWith("Microsoft.CodeAnalysis", StringComparison.Ordinal) || simple.StartsWith("System", StringComparison.Ordinal))
                ? null
                : _resolver.ResolveAssemblyToPath(name) is { } resolved ? LoadFromAssemblyPath(resolved) : null;
    }
}
