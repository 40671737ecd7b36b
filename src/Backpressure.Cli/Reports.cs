using System.Text.Json;
using System.Text.Json.Nodes;
using Backpressure.Analyzers;

namespace Backpressure.Cli;

/// <summary>One replacement a fix proposes: the region of the original file (1-based lines and columns, end exclusive) and its new text.</summary>
public sealed record Replacement(int StartLine, int StartColumn, int EndLine, int EndColumn, string Text);

/// <summary>A site a dry run would fix, with the replacements that fix it (in SARIF, its <c>fixes</c>).</summary>
public sealed record ProposedFix(Finding Finding, IReadOnlyList<Replacement> Replacements);

/// <summary>One rule's share of a report: its sites left (found, for check), how many of those have a fix, and how many were fixed.</summary>
public sealed record RuleCount(string Id, int Findings, int Fixable, int Fixed);

/// <summary>What a run reports: its findings and, for fix, what was fixed.</summary>
public sealed record Report(IReadOnlyList<Finding> Findings, int Fixed, int FilesChanged, bool DryRun, Verb Verb)
{
    /// <summary>Gets the unified diff of a dry run (carried inside JSON, printed before the text report).</summary>
    public string? Diff { get; init; }

    /// <summary>Gets the compiler warnings the fix adds, where they are in the fixed files (they do not refuse the fix).</summary>
    public IReadOnlyList<CompilerMessage> NewWarnings { get; init; } = [];

    /// <summary>Gets what loading and analysing warned about (restore warnings, unresolved types, skipped files).</summary>
    public IReadOnlyList<string> Warnings { get; init; } = [];

    /// <summary>Gets, for a dry run, the sites it would fix and how.</summary>
    public IReadOnlyList<ProposedFix> Proposed { get; init; } = [];

    /// <summary>Gets the MSBuild configuration analysed; null for loose files.</summary>
    public string? Configuration { get; init; }

    /// <summary>Gets, for fix, how many sites of each rule were fixed (or would be, in a dry run), by rule id.</summary>
    public IReadOnlyDictionary<string, int> FixedByRule { get; init; } = new Dictionary<string, int>();

    public int Fixable => Findings.Count(f => f.Fixable);

    /// <summary>Gets every rule with a site in the report, fixed or left, in id order.</summary>
    public IReadOnlyList<RuleCount> ByRule =>
        [.. Findings.Select(f => f.Id).Concat(FixedByRule.Where(p => p.Value > 0).Select(p => p.Key)).Distinct().Order(StringComparer.Ordinal)
            .Select(id => new RuleCount(id, Findings.Count(f => f.Id == id), Findings.Count(f => f.Id == id && f.Fixable), FixedByRule.GetValueOrDefault(id)))];
}

/// <summary>Renders a report as MSBuild-style text for people, or JSON and SARIF 2.1.0 for machines.</summary>
public static class Reports
{
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    public static string Render(Report report, ReportFormat format, string sourceRoot, string inputRoot) => format switch
    {
        ReportFormat.Json => Json(report),
        ReportFormat.Sarif => Sarif(report, sourceRoot, inputRoot),
        _ => Text(report),
    };

    public static string Text(Report report)
    {
        var lines = report.Findings.Select(f => $"{f.Path}({f.Line},{f.Column}): {f.Severity} {f.Id}: {f.Message}{Tag(f)}").ToList();
        lines.AddRange(report.NewWarnings.Select(w => $"{w} [added by the fix]"));
        if (report.Configuration is not null)
        {
            lines.Add($"Configuration analysed: {report.Configuration}.");
        }

        lines.Add(Summary(report));
        return string.Join(Environment.NewLine, lines) + Environment.NewLine;
    }

    private static string Tag(Finding finding) => finding.Fixable
        ? string.Empty
        : finding.Reason is null ? " [no automatic fix]" : $" [no automatic fix: {finding.Reason}]";

    public static string Summary(Report report)
    {
        var summary = report.Verb == Verb.Check
            ? $"{report.Findings.Count} finding(s), {report.Fixable} with an automatic fix."
            : $"{(report.DryRun ? "Would fix" : "Fixed")} {report.Fixed} site(s) in {report.FilesChanged} file(s); {report.Findings.Count} site(s) left for a manual fix.";
        if (report.NewWarnings.Count > 0)
        {
            summary += $" The fix {(report.DryRun ? "would add" : "added")} {report.NewWarnings.Count} compiler warning(s).";
        }

        return report.ByRule.Count == 0 ? summary : $"{summary} By rule: {ByRule(report)}.";
    }

    /// <summary>Each rule's share of the summary's counts: "2 BP0001, 1 BP0003" (check), "fixed 2 BP0001; left 1 BP0003" (fix).</summary>
    private static string ByRule(Report report)
    {
        string Counts(Func<RuleCount, int> count) => string.Join(", ", report.ByRule.Where(r => count(r) > 0).Select(r => $"{count(r)} {r.Id}"));
        if (report.Verb == Verb.Check)
        {
            return Counts(r => r.Findings);
        }

        var (fixedCounts, leftCounts) = (Counts(r => r.Fixed), Counts(r => r.Findings));
        return string.Join("; ", new[]
        {
            fixedCounts.Length == 0 ? null : $"{(report.DryRun ? "would fix" : "fixed")} {fixedCounts}",
            leftCounts.Length == 0 ? null : $"left {leftCounts}",
        }.OfType<string>());
    }

    public static string Json(Report report)
    {
        var root = new JsonObject
        {
            ["findings"] = new JsonArray(report.Findings.Select(f => (JsonNode)new JsonObject
            {
                ["id"] = f.Id,
                ["path"] = f.Path,
                ["line"] = f.Line,
                ["column"] = f.Column,
                ["message"] = f.Message,
                ["fixable"] = f.Fixable,
                ["fixes"] = new JsonArray(f.Fixes.Select(k => (JsonNode)JsonValue.Create(k)).ToArray()),
                ["reason"] = f.Reason,
            }).ToArray()),
            ["newWarnings"] = new JsonArray(report.NewWarnings.Select(w => (JsonNode)new JsonObject
            {
                ["id"] = w.Id,
                ["path"] = w.Path,
                ["line"] = w.Line,
                ["column"] = w.Column,
                ["message"] = w.Message,
            }).ToArray()),
            ["warnings"] = new JsonArray(report.Warnings.Select(w => (JsonNode)JsonValue.Create(w)).ToArray()),
            ["configuration"] = report.Configuration,
            ["summary"] = new JsonObject
            {
                ["findings"] = report.Findings.Count,
                ["fixable"] = report.Fixable,
                ["fixed"] = report.Fixed,
                ["filesChanged"] = report.FilesChanged,
                ["dryRun"] = report.DryRun,
                ["byRule"] = new JsonArray(report.ByRule.Select(r => (JsonNode)new JsonObject
                {
                    ["id"] = r.Id,
                    ["findings"] = r.Findings,
                    ["fixable"] = r.Fixable,
                    ["fixed"] = r.Fixed,
                }).ToArray()),
            },
        };
        if (report.Diff is not null)
        {
            root["diff"] = report.Diff;
        }

        return root.ToJsonString(Indented) + Environment.NewLine;
    }

    /// <summary>SARIF 2.1.0 with what code-scanning uploads need: the tool and its rules, results with physical locations.</summary>
    public static string Sarif(Report report, string sourceRoot, string inputRoot)
    {
        // Paths relative to the repository, under a base id a code-scanning upload resolves.
        string Uri(string path) => System.Uri.EscapeDataString(Path.GetRelativePath(sourceRoot, Path.Combine(inputRoot, path)).Replace('\\', '/')).Replace("%2F", "/", StringComparison.Ordinal);

        JsonObject Location(string path, int line, int column) => new()
        {
            ["physicalLocation"] = new JsonObject
            {
                ["artifactLocation"] = new JsonObject { ["uri"] = Uri(path), ["uriBaseId"] = "SRCROOT" },
                ["region"] = new JsonObject { ["startLine"] = line, ["startColumn"] = column },
            },
        };

        // Every rule the tool knows (SARIF lists the rules a tool supports), and the generator's BP0002.
        var descriptors = Rule.All.SelectMany(r => r.Analyzer.SupportedDiagnostics).Append(DiagnosticDescriptors.ChannelNotAdaptable).OrderBy(d => d.Id, StringComparer.Ordinal);
        var rules = new JsonArray(descriptors.Select(d => (JsonNode)new JsonObject
        {
            ["id"] = d.Id,
            ["name"] = PascalCase(d.Title.ToString()),
            ["shortDescription"] = new JsonObject { ["text"] = d.Title.ToString() },
            ["fullDescription"] = new JsonObject { ["text"] = d.Description.ToString() },
            ["helpUri"] = d.HelpLinkUri,
            ["defaultConfiguration"] = new JsonObject { ["level"] = d.DefaultSeverity == Microsoft.CodeAnalysis.DiagnosticSeverity.Error ? "error" : "warning" },
        }).ToArray());

        var results = report.Findings.Select(f => (JsonNode)new JsonObject
        {
            ["ruleId"] = f.Id,
            ["level"] = f.Severity,
            ["message"] = new JsonObject { ["text"] = f.Reason is null ? f.Message : $"{f.Message} No automatic fix: {f.Reason}." },
            ["locations"] = new JsonArray(Location(f.Path, f.Line, f.Column)),
            ["properties"] = new JsonObject
            {
                ["fixable"] = f.Fixable,
                ["fixes"] = new JsonArray(f.Fixes.Select(k => (JsonNode)JsonValue.Create(k)).ToArray()),
                ["noFixReason"] = f.Reason,
            },
        }).Concat(report.Proposed.Where(p => p.Replacements.Count > 0).Select(p => (JsonNode)new JsonObject
        {
            // A dry run's site as it is on disk, with the replacement that would fix it.
            ["ruleId"] = p.Finding.Id,
            ["level"] = p.Finding.Severity,
            ["message"] = new JsonObject { ["text"] = p.Finding.Message },
            ["locations"] = new JsonArray(Location(p.Finding.Path, p.Finding.Line, p.Finding.Column)),
            ["fixes"] = new JsonArray(new JsonObject
            {
                ["description"] = new JsonObject { ["text"] = Rule.Of(p.Finding.Id).FixDescription },
                ["artifactChanges"] = new JsonArray(new JsonObject
                {
                    ["artifactLocation"] = new JsonObject { ["uri"] = Uri(p.Finding.Path), ["uriBaseId"] = "SRCROOT" },
                    ["replacements"] = new JsonArray(p.Replacements.Select(r => (JsonNode)new JsonObject
                    {
                        ["deletedRegion"] = new JsonObject { ["startLine"] = r.StartLine, ["startColumn"] = r.StartColumn, ["endLine"] = r.EndLine, ["endColumn"] = r.EndColumn },
                        ["insertedContent"] = new JsonObject { ["text"] = r.Text },
                    }).ToArray()),
                }),
            }),
            ["properties"] = new JsonObject { ["fixable"] = true, ["fixes"] = new JsonArray(p.Finding.Fixes.Select(k => (JsonNode)JsonValue.Create(k)).ToArray()) },
        })).Concat(report.NewWarnings.Select(w => (JsonNode)new JsonObject
        {
            // The compiler's own warning, in the fixed code: it does not refuse the fix, but someone should look.
            ["ruleId"] = w.Id,
            ["level"] = "warning",
            ["message"] = new JsonObject { ["text"] = $"{w.Message} (added by the fix)" },
            ["locations"] = new JsonArray(Location(w.Path, w.Line, w.Column)),
            ["properties"] = new JsonObject { ["addedByFix"] = true },
        })).ToArray();

        var run = new JsonObject
        {
            ["tool"] = new JsonObject
            {
                ["driver"] = new JsonObject
                {
                    ["name"] = "backpressure",
                    ["informationUri"] = "https://github.com/backpressure-refactor/backpressure",
                    ["semanticVersion"] = typeof(Reports).Assembly.GetName().Version?.ToString(3) ?? "0.1.0",
                    ["rules"] = rules,
                },
            },
            ["originalUriBaseIds"] = new JsonObject { ["SRCROOT"] = new JsonObject { ["uri"] = new System.Uri(sourceRoot.TrimEnd('/') + "/").AbsoluteUri } },
            ["results"] = new JsonArray(results),
        };
        if (report.Configuration is not null)
        {
            run["properties"] = new JsonObject { ["configuration"] = report.Configuration };
        }

        if (report.Warnings.Count > 0)
        {
            run["invocations"] = new JsonArray(new JsonObject
            {
                ["executionSuccessful"] = true,
                ["toolExecutionNotifications"] = new JsonArray(report.Warnings.Select(w => (JsonNode)new JsonObject
                {
                    ["level"] = "warning",
                    ["message"] = new JsonObject { ["text"] = w },
                }).ToArray()),
            });
        }

        var sarif = new JsonObject
        {
            ["$schema"] = "https://json.schemastore.org/sarif-2.1.0.json",
            ["version"] = "2.1.0",
            ["runs"] = new JsonArray(run),
        };
        return sarif.ToJsonString(Indented) + Environment.NewLine;
    }

    /// <summary>"Time-based polling on a channel's buffered amount" becomes TimeBasedPollingOnAChannelsBufferedAmount.</summary>
    public static string PascalCase(string title) => string.Concat(
        title.Replace("'", string.Empty, StringComparison.Ordinal)
            .Split((char[])[' ', '-', '_', '.', ',', ':', '(', ')', '/'], StringSplitOptions.RemoveEmptyEntries)
            .Select(word => char.ToUpperInvariant(word[0]) + word[1..]));
}
