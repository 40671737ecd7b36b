using DiffPlex;
using DiffPlex.Renderer;
using Microsoft.CodeAnalysis;
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
            CheckOutputPath(options.OutputFile);
            var input = InputResolver.Resolve(options.Path);
            using var code = await WithProgressAsync(output, "Loading", () => WorkspaceLoader.LoadAsync(input, options.Configuration, cancellationToken));
            RejectOutputOnAnInput(options.OutputFile, input, code);
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
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            await error.WriteLineAsync("error: interrupted; nothing was written (any file already replaced was put back).");
            return ExitCodes.Interrupted;
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
        var analysis = await WithProgressAsync(output, "Analysing", () => Analysis.AnalyzeAsync(code.Solution, options.Rules, withCompiler: false, cancellationToken));
        var findings = Sort(Analysis.Sites(analysis).Select(s => Analysis.ToFinding(s, input.Root, options.FixLevel)));
        await EmitAsync(options, input, new Report(findings, 0, 0, false, Verb.Check) { Warnings = code.Warnings, Configuration = code.Configuration }, output, [], cancellationToken);
        return findings.Count == 0 ? ExitCodes.Success : ExitCodes.FindingsRemain;
    }

    private static async Task<int> FixAsync(CliOptions options, Input input, LoadedCode code, TextWriter output, TextWriter error, CancellationToken cancellationToken)
    {
        var result = await WithProgressAsync(output, "Fixing", () => Fixer.FixAsync(code.Solution, input.Root, options.Rules, options.FixLevel, cancellationToken));
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
        var changesByDocument = new Dictionary<DocumentId, List<TextChange>>();
        foreach (var site in result.Left)
        {
            var position = options.DryRun ? await Fixer.OriginalPositionAsync(site, code.Solution, result.Fixed, changesByDocument, cancellationToken) : (LinePosition?)null;
            var finding = Analysis.ToFinding(site, input.Root, options.FixLevel, position);
            left.Add(result.Refused.TryGetValue(Fixer.Identity(site.Diagnostic), out var reason) ? finding with { Fixable = false, Reason = reason } : finding);
        }

        left = Sort(left);
        var fixedByRule = result.Found.GroupBy(s => s.Diagnostic.Id).ToDictionary(g => g.Key, g => Math.Max(0, g.Count() - left.Count(f => f.Id == g.Key)), StringComparer.Ordinal);
        var changes = new List<(string Path, string Before, string After)>();
        foreach (var id in result.ChangedDocuments)
        {
            var before = code.Solution.GetDocument(id)!;
            var after = result.Fixed.GetDocument(id)!;
            changes.Add((before.FilePath!, (await before.GetTextAsync(cancellationToken)).ToString(), (await after.GetTextAsync(cancellationToken)).ToString()));
        }

        changes = [.. changes.OrderBy(c => c.Path, StringComparer.Ordinal)];
        var report = new Report(left, fixedByRule.Values.Sum(), changes.Count, options.DryRun, Verb.Fix)
        {
            FixedByRule = fixedByRule,
            NewWarnings = result.NewWarnings,
            Warnings = code.Warnings,
            Configuration = code.Configuration,
        };
        if (options.DryRun)
        {
            var renderer = new UnidiffRenderer(new Differ(), contextLines: 3);
            var diff = string.Concat(changes.Select(c =>
            {
                var name = WorkspaceLoader.Relative(input.Root, c.Path);
                return renderer.Generate(c.Before, c.After, "a/" + name, "b/" + name, ignoreWhitespace: false, ignoreCase: false);
            }));
            report = report with { Diff = diff, Proposed = await ProposedAsync(code, result, input.Root, options.FixLevel, cancellationToken) };
            if (options.Format == ReportFormat.Text)
            {
                await output.WriteAsync(diff);
            }

            await EmitAsync(options, input, report, output, [], cancellationToken);
        }
        else
        {
            // The sources and the report go together: all written, or none.
            await EmitAsync(options, input, report, output, changes.Select(c => new FileChange(c.Path, c.After, c.Before)).ToList(), cancellationToken);
        }

        return left.Count == 0 ? ExitCodes.Success : ExitCodes.FindingsRemain;
    }

    private static async Task EmitAsync(CliOptions options, Input input, Report report, TextWriter output, List<FileChange> sources, CancellationToken cancellationToken)
    {
        var rendered = Reports.Render(report, options.Format, SourceRoot(input.Root), input.Root);
        if (options.OutputFile is null)
        {
            FileWriter.WriteAll(sources, cancellationToken);
            await output.WriteAsync(rendered);
            return;
        }

        FileWriter.WriteAll([.. sources, new FileChange(Path.GetFullPath(options.OutputFile), rendered)], cancellationToken);
        await output.WriteLineAsync(Reports.Summary(report));
    }

    /// <summary>
    /// The sites a dry run would fix (found, and not left by the same identity), each with the text changes of
    /// its file that fall in the stretches its rewrites replace; a change in no site's stretch (the added
    /// using directive) goes with the file's first site.
    /// </summary>
    private static async Task<List<ProposedFix>> ProposedAsync(LoadedCode code, FixResult result, string root, FixLevel level, CancellationToken cancellationToken)
    {
        var left = result.Left.Select(s => Fixer.Identity(s.Diagnostic)).ToHashSet(StringComparer.Ordinal);
        var proposed = new List<ProposedFix>();
        foreach (var id in result.ChangedDocuments)
        {
            var before = code.Solution.GetDocument(id)!;
            var after = result.Fixed.GetDocument(id)!;
            var text = await before.GetTextAsync(cancellationToken);
            var sites = result.Found
                .Where(s => s.FilePath == before.FilePath && !left.Contains(Fixer.Identity(s.Diagnostic)))
                .OrderBy(s => s.Diagnostic.Location.SourceSpan.Start)
                .ToList();
            if (sites.Count == 0)
            {
                continue;
            }

            var bySite = sites.ToDictionary(s => s, _ => new List<Replacement>());
            foreach (var change in await after.GetTextChangesAsync(before, cancellationToken))
            {
                var owner = sites.FirstOrDefault(s => Fixer.Targets(s.Diagnostic).Any(t => t.IntersectsWith(change.Span) || t.Contains(change.Span.Start) || t.End == change.Span.Start)) ?? sites[0];
                var start = text.Lines.GetLinePosition(change.Span.Start);
                var end = text.Lines.GetLinePosition(change.Span.End);
                bySite[owner].Add(new Replacement(start.Line + 1, start.Character + 1, end.Line + 1, end.Character + 1, change.NewText ?? string.Empty));
            }

            proposed.AddRange(sites.Select(s => new ProposedFix(Analysis.ToFinding(s, root, level), bySite[s])));
        }

        return proposed;
    }

    /// <summary>Checked before any analysis: a bad report path fails in a second, not after minutes of work.</summary>
    private static void CheckOutputPath(string? outputFile)
    {
        if (outputFile is null)
        {
            return;
        }

        if (string.IsNullOrWhiteSpace(outputFile))
        {
            throw new CliException(ExitCodes.BadInput, "--output needs a file name; nothing was written.");
        }

        var full = Path.GetFullPath(outputFile);
        if (Directory.Exists(full))
        {
            throw new CliException(ExitCodes.BadInput, $"--output '{outputFile}' is a directory; name a file. Nothing was written.");
        }

        if (!Directory.Exists(Path.GetDirectoryName(full)))
        {
            throw new CliException(ExitCodes.BadInput, $"the folder of --output '{outputFile}' does not exist; nothing was written.");
        }
    }

    /// <summary>The report must never replace what it reports on: a source, project or solution file of the input.</summary>
    private static void RejectOutputOnAnInput(string? outputFile, Input input, LoadedCode code)
    {
        if (outputFile is null)
        {
            return;
        }

        var target = Canonical(outputFile);
        var inputs = code.Solution.Projects
            .SelectMany(p => p.Documents.Select(d => d.FilePath).Concat(p.AdditionalDocuments.Select(d => d.FilePath)).Concat(p.AnalyzerConfigDocuments.Select(d => d.FilePath)).Append(p.FilePath))
            .Append(code.Solution.FilePath)
            .Append(input.Path)
            .OfType<string>();
        if (inputs.Any(i => string.Equals(Canonical(i), target, StringComparison.Ordinal)))
        {
            throw new CliException(ExitCodes.BadInput, $"--output '{outputFile}' is one of the inputs; the report would replace it. Name another file. Nothing was written.");
        }

        static string Canonical(string path)
        {
            var full = Path.GetFullPath(path);
            return File.Exists(full) && File.ResolveLinkTarget(full, returnFinalTarget: true) is { } link ? link.FullName : full;
        }
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
