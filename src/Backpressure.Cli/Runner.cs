using DiffPlex;
using DiffPlex.Renderer;
using Microsoft.CodeAnalysis.Text;
using Spectre.Console;

namespace Backpressure.Cli;

/// <summary>One run of check or fix, from a parsed command line to an exit code.</summary>
public static class Runner
{
    public static async Task<int> RunAsync(CliOptions options, TextWriter output, TextWriter error, CancellationToken cancellationToken)
    {
        try
        {
            var input = InputResolver.Resolve(options.Path);
            using var code = await WithProgressAsync(output, "Loading", () => WorkspaceLoader.LoadAsync(input, options.Configuration, cancellationToken));
            foreach (var warning in code.Warnings)
            {
                await error.WriteLineAsync($"warning: {warning}");
            }

            return options.Verb == Verb.Check
                ? await CheckAsync(options, input, code, output, cancellationToken)
                : await FixAsync(options, input, code, output, error, cancellationToken);
        }
        catch (CliException ex)
        {
            await error.WriteLineAsync($"error: {ex.Message}");
            return ex.ExitCode;
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // Whatever else goes wrong is still bad input or an environment problem: one line, no stack trace.
            await error.WriteLineAsync($"error: {ex.Message}");
            return ExitCodes.BadInput;
        }
    }

    private static async Task<int> CheckAsync(CliOptions options, Input input, LoadedCode code, TextWriter output, CancellationToken cancellationToken)
    {
        var analysis = await WithProgressAsync(output, "Analysing", () => Analysis.AnalyzeAsync(code.Solution, withCompiler: false, cancellationToken));
        var findings = Sort(Analysis.Sites(analysis).Select(s => Analysis.ToFinding(s, input.Root, options.FixLevel)));
        await EmitAsync(options, input, new Report(findings, 0, 0, false, Verb.Check) { Warnings = code.Warnings, Configuration = code.Configuration }, output, []);
        return findings.Count == 0 ? ExitCodes.Success : ExitCodes.FindingsRemain;
    }

    private static async Task<int> FixAsync(CliOptions options, Input input, LoadedCode code, TextWriter output, TextWriter error, CancellationToken cancellationToken)
    {
        var result = await WithProgressAsync(output, "Fixing", () => Fixer.FixAsync(code.Solution, input.Root, options.FixLevel, cancellationToken));
        if (result.NewErrors.Count > 0)
        {
            await error.WriteLineAsync($"error: the fix was refused: the fixed code would have {result.NewErrors.Count} new compiler error(s); nothing was written.");
            foreach (var line in result.NewErrors)
            {
                await error.WriteLineAsync(line.ToString());
            }

            return ExitCodes.FixRefused;
        }

        if (result.Misbound.Count > 0)
        {
            await error.WriteLineAsync($"error: the fix was refused: {result.Misbound.Count} rewritten call(s) would not call the runtime; nothing was written.");
            foreach (var line in result.Misbound)
            {
                await error.WriteLineAsync(line);
            }

            return ExitCodes.FixRefused;
        }

        // Each site counts once: what the fixed code still has is left, everything else was fixed. A dry run
        // wrote nothing, so what is left is reported where it is on disk, in the unfixed files.
        var left = new List<Finding>();
        foreach (var site in result.Left)
        {
            var position = options.DryRun ? await Fixer.OriginalPositionAsync(site, code.Solution, result.Fixed, cancellationToken) : (LinePosition?)null;
            var finding = Analysis.ToFinding(site, input.Root, options.FixLevel, position);
            left.Add(result.Refused.TryGetValue(Fixer.Identity(site.Diagnostic), out var reason) ? finding with { Fixable = false, Reason = reason } : finding);
        }

        left = Sort(left);
        var fixedSites = Math.Max(0, result.Found.Length - left.Count);
        var changes = new List<(string Path, string Before, string After)>();
        foreach (var id in result.ChangedDocuments)
        {
            var before = code.Solution.GetDocument(id)!;
            var after = result.Fixed.GetDocument(id)!;
            changes.Add((before.FilePath!, (await before.GetTextAsync(cancellationToken)).ToString(), (await after.GetTextAsync(cancellationToken)).ToString()));
        }

        changes = [.. changes.OrderBy(c => c.Path, StringComparer.Ordinal)];
        var report = new Report(left, fixedSites, changes.Count, options.DryRun, Verb.Fix) { NewWarnings = result.NewWarnings, Warnings = code.Warnings, Configuration = code.Configuration };
        if (options.DryRun)
        {
            var renderer = new UnidiffRenderer(new Differ(), contextLines: 3);
            var diff = string.Concat(changes.Select(c =>
            {
                var name = WorkspaceLoader.Relative(input.Root, c.Path);
                return renderer.Generate(c.Before, c.After, "a/" + name, "b/" + name, ignoreWhitespace: false, ignoreCase: false);
            }));
            report = report with { Diff = diff };
            if (options.Format == ReportFormat.Text)
            {
                await output.WriteAsync(diff);
            }

            await EmitAsync(options, input, report, output, []);
        }
        else
        {
            // The sources and the report go together: all written, or none.
            await EmitAsync(options, input, report, output, changes.Select(c => (c.Path, c.After)).ToList());
        }

        return left.Count == 0 ? ExitCodes.Success : ExitCodes.FindingsRemain;
    }

    private static async Task EmitAsync(CliOptions options, Input input, Report report, TextWriter output, List<(string Path, string Text)> sources)
    {
        var rendered = Reports.Render(report, options.Format, SourceRoot(input.Root), input.Root);
        if (options.OutputFile is null)
        {
            FileWriter.WriteAll(sources);
            await output.WriteAsync(rendered);
            return;
        }

        FileWriter.WriteAll([.. sources, (Path.GetFullPath(options.OutputFile), rendered)]);
        await output.WriteLineAsync(Reports.Summary(report));
    }

    /// <summary>The repository the input lives in (the nearest folder above it with .git), for SARIF's source root.</summary>
    private static string SourceRoot(string root)
    {
        for (var directory = new DirectoryInfo(root); directory is not null; directory = directory.Parent)
        {
            if (Directory.Exists(Path.Combine(directory.FullName, ".git")) || File.Exists(Path.Combine(directory.FullName, ".git")))
            {
                return directory.FullName;
            }
        }

        return root;
    }

    private static List<Finding> Sort(IEnumerable<Finding> findings) =>
        findings.OrderBy(f => f.Path, StringComparer.Ordinal).ThenBy(f => f.Line).ThenBy(f => f.Column).ToList();

    /// <summary>A spinner on a terminal; nothing when the output is redirected or in CI, where it would only be noise.</summary>
    private static async Task<T> WithProgressAsync<T>(TextWriter output, string what, Func<Task<T>> work)
    {
        var interactive = ReferenceEquals(output, Console.Out) && !Console.IsOutputRedirected
            && !string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase);
        return interactive ? await AnsiConsole.Status().StartAsync($"{what}...", _ => work()) : await work();
    }
}
