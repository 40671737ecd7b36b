using DiffPlex;
using DiffPlex.Renderer;
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
            using var code = await WithProgressAsync(output, "Loading", () => WorkspaceLoader.LoadAsync(input, cancellationToken));
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
    }

    private static async Task<int> CheckAsync(CliOptions options, Input input, LoadedCode code, TextWriter output, CancellationToken cancellationToken)
    {
        var diagnostics = await WithProgressAsync(output, "Analysing", () => Analysis.DiagnosticsAsync(code.Solution, cancellationToken));
        var findings = Sort(diagnostics.Select(d => Analysis.ToFinding(d, input.Root)));
        await EmitAsync(options, new Report(findings, 0, 0, false, Verb.Check), output);
        return findings.Count == 0 ? ExitCodes.Success : ExitCodes.FindingsRemain;
    }

    private static async Task<int> FixAsync(CliOptions options, Input input, LoadedCode code, TextWriter output, TextWriter error, CancellationToken cancellationToken)
    {
        var result = await WithProgressAsync(output, "Fixing", () => Fixer.FixAsync(code.Solution, input.Root, cancellationToken));
        if (result.NewErrors.Count > 0)
        {
            await error.WriteLineAsync($"error: the fix was refused: the fixed code would have {result.NewErrors.Count} new compiler error(s); nothing was written.");
            foreach (var line in result.NewErrors)
            {
                await error.WriteLineAsync(line);
            }

            return ExitCodes.FixRefused;
        }

        var remaining = Sort((await Analysis.DiagnosticsAsync(result.Fixed, cancellationToken)).Select(d => Analysis.ToFinding(d, input.Root)));
        var changes = new List<(string Path, string Before, string After)>();
        foreach (var id in result.ChangedDocuments)
        {
            var before = code.Solution.GetDocument(id)!;
            var after = result.Fixed.GetDocument(id)!;
            changes.Add((before.FilePath!, (await before.GetTextAsync(cancellationToken)).ToString(), (await after.GetTextAsync(cancellationToken)).ToString()));
        }

        if (options.DryRun)
        {
            var renderer = new UnidiffRenderer(new Differ(), contextLines: 3);
            foreach (var (path, before, after) in changes)
            {
                var name = WorkspaceLoader.Relative(input.Root, path);
                await output.WriteAsync(renderer.Generate(before, after, "a/" + name, "b/" + name, ignoreWhitespace: false, ignoreCase: false));
            }
        }
        else
        {
            FileWriter.WriteAll(changes.Select(c => (c.Path, c.After)).ToList());
        }

        await EmitAsync(options, new Report(remaining, result.SitesFixed, changes.Count, options.DryRun, Verb.Fix), output);
        return remaining.Count == 0 ? ExitCodes.Success : ExitCodes.FindingsRemain;
    }

    private static async Task EmitAsync(CliOptions options, Report report, TextWriter output)
    {
        var rendered = Reports.Render(report, options.Format);
        if (options.OutputFile is null)
        {
            await output.WriteAsync(rendered);
            return;
        }

        var path = Path.GetFullPath(options.OutputFile);
        if (!File.Exists(path))
        {
            await File.WriteAllTextAsync(path, string.Empty);
        }

        FileWriter.WriteAll([(path, rendered)]);
        if (options.Format != ReportFormat.Text)
        {
            await output.WriteLineAsync(Reports.Summary(report));
        }
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
