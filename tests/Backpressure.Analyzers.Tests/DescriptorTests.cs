using System.Reflection;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Diagnostics;

namespace Backpressure.Analyzers.Tests;

/// <summary>Every rule has a help link that resolves to its page in this repository, and is release-tracked.</summary>
public sealed class DescriptorTests
{
    public static TheoryData<string> RuleIds()
    {
        var data = new TheoryData<string>();
        foreach (var descriptor in Descriptors())
        {
            data.Add(descriptor.Id);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(RuleIds))]
    public void EveryRule_HasAHelpLink_ToItsDocPage_ThatExists(string id)
    {
        var descriptor = Descriptors().Single(d => d.Id == id);
        var page = Path.Combine(RepositoryRoot(), "docs", "rules", id + ".md");

        Assert.Equal(DiagnosticDescriptors.HelpLinkBase + id + ".md", descriptor.HelpLinkUri);
        Assert.EndsWith("/docs/rules/" + id + ".md", descriptor.HelpLinkUri, StringComparison.Ordinal);
        Assert.True(File.Exists(page), $"{page} is missing");
        Assert.StartsWith($"# {id}: ", File.ReadAllText(page), StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(RuleIds))]
    public void EveryRule_IsReleaseTracked(string id)
    {
        var folder = Path.Combine(RepositoryRoot(), "analyzers", "Backpressure.Analyzers");
        var tracked = File.ReadAllText(Path.Combine(folder, "AnalyzerReleases.Shipped.md")) + File.ReadAllText(Path.Combine(folder, "AnalyzerReleases.Unshipped.md"));

        Assert.Contains(id + " |", tracked, StringComparison.Ordinal);
    }

    [Fact]
    public void RuleIds_AreTheOnesDeclaredInDiagnosticIds()
    {
        var declared = typeof(DiagnosticIds).GetFields(BindingFlags.Public | BindingFlags.Static).Select(f => (string)f.GetValue(null)!).Order();

        var described = Descriptors().Select(d => d.Id).Order();

        Assert.Equal(declared, described);
        Assert.All(Analyzers().SelectMany(a => a.SupportedDiagnostics), d => Assert.Contains(d, Descriptors()));
    }

    private static IEnumerable<DiagnosticDescriptor> Descriptors() =>
        typeof(DiagnosticDescriptors).GetFields(BindingFlags.Public | BindingFlags.Static)
            .Where(f => f.FieldType == typeof(DiagnosticDescriptor))
            .Select(f => (DiagnosticDescriptor)f.GetValue(null)!);

    private static IEnumerable<DiagnosticAnalyzer> Analyzers() =>
        typeof(DiagnosticIds).Assembly.GetTypes()
            .Where(t => !t.IsAbstract && typeof(DiagnosticAnalyzer).IsAssignableFrom(t))
            .Select(t => (DiagnosticAnalyzer)Activator.CreateInstance(t)!);

    private static string RepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "Refactor.sln")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException("Refactor.sln not found above " + AppContext.BaseDirectory);
    }
}
