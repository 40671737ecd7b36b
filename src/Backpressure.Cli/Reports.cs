using System.Text.Json;
using System.Text.Json.Nodes;
using Backpressure.Analyzers;

namespace Backpressure.Cli;

/// <summary>What a run reports: its findings and, for fix, what was fixed.</summary>
public sealed record Report(IReadOnlyList<Finding> Findings, int Fixed, int FilesChanged, bool DryRun, Verb Verb)
{
    /// <summary>Gets the unified diff of a dry run (carried inside JSON, printed before the text report).</summary>
    public string? Diff { get; init; }

    public int Fixable => Findings.Count(f => f.Fixable);
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
        var lines = report.Findings.Select(f => $"{f.Path}({f.Line},{f.Column}): {f.Severity} {f.Id}: {f.Message}{(f.Fixable ? string.Empty : " [no automatic fix]")}").ToList();
        lines.Add(Summary(report));
        return string.Join(Environment.NewLine, lines) + Environment.NewLine;
    }

    public static string Summary(Report report) => report.Verb == Verb.Check
        ? $"{report.Findings.Count} finding(s), {report.Fixable} with an automatic fix."
        : $"{(report.DryRun ? "Would fix" : "Fixed")} {report.Fixed} site(s) in {report.FilesChanged} file(s); {report.Findings.Count} site(s) left for a manual fix.";

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
            }).ToArray()),
            ["summary"] = new JsonObject
            {
                ["findings"] = report.Findings.Count,
                ["fixable"] = report.Fixable,
                ["fixed"] = report.Fixed,
                ["filesChanged"] = report.FilesChanged,
                ["dryRun"] = report.DryRun,
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

        var rules = new JsonArray(new[] { DiagnosticDescriptors.BufferedAmountPolling, DiagnosticDescriptors.ChannelNotAdaptable }.Select(d => (JsonNode)new JsonObject
        {
            ["id"] = d.Id,
            ["name"] = d.Title.ToString().Replace(" ", string.Empty, StringComparison.Ordinal).Replace("'", string.Empty, StringComparison.Ordinal),
            ["shortDescription"] = new JsonObject { ["text"] = d.Title.ToString() },
            ["fullDescription"] = new JsonObject { ["text"] = d.Description.ToString() },
            ["helpUri"] = d.HelpLinkUri,
            ["defaultConfiguration"] = new JsonObject { ["level"] = d.DefaultSeverity == Microsoft.CodeAnalysis.DiagnosticSeverity.Error ? "error" : "warning" },
        }).ToArray());

        var results = new JsonArray(report.Findings.Select(f => (JsonNode)new JsonObject
        {
            ["ruleId"] = f.Id,
            ["level"] = f.Severity,
            ["message"] = new JsonObject { ["text"] = f.Message },
            ["locations"] = new JsonArray(new JsonObject
            {
                ["physicalLocation"] = new JsonObject
                {
                    ["artifactLocation"] = new JsonObject { ["uri"] = Uri(f.Path), ["uriBaseId"] = "SRCROOT" },
                    ["region"] = new JsonObject { ["startLine"] = f.Line, ["startColumn"] = f.Column },
                },
            }),
            ["properties"] = new JsonObject { ["fixable"] = f.Fixable },
        }).ToArray());

        var sarif = new JsonObject
        {
            ["$schema"] = "https://json.schemastore.org/sarif-2.1.0.json",
            ["version"] = "2.1.0",
            ["runs"] = new JsonArray(new JsonObject
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
                ["results"] = results,
            }),
        };
        return sarif.ToJsonString(Indented) + Environment.NewLine;
    }
}
