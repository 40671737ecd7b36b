using System.Text;
using System.Text.Json;

namespace Backpressure.Cli.Tests;

[Collection(SampleCollection.Name)]
public sealed class CheckAndFixTests(SampleWorkspace sample) : IDisposable
{
    public void Dispose() => sample.Reset();

    public static TheoryData<string> SampleInputs() => new()
    {
        "samples/FileTransfer/FileTransfer.csproj",
        "samples/FileTransfer",
        "solutions/Sample.sln",
        "solutions/Sample.slnx",
    };

    [Theory]
    [MemberData(nameof(SampleInputs))]
    public async Task Check_FindsTheSamplesFiveSites_EachWithAFix_Exit1(string input)
    {
        var (code, output, error) = await Cli.RunAsync("check", Path.Combine(sample.Root, input));

        Assert.True(code == ExitCodes.FindingsRemain, $"exit {code}: {error}");
        Assert.Equal(5, output.Split('\n').Count(l => l.Contains("warning BP0001:", StringComparison.Ordinal)));
        Assert.Contains("FileSender.cs(14,13): warning BP0001: This loop polls 'transport.BufferedAmount'", output, StringComparison.Ordinal);
        Assert.Contains("FileSender.cs(76,9): warning BP0001: This loop polls 'transport.BufferedAmount'", output, StringComparison.Ordinal); // drain before close
        Assert.DoesNotContain("no automatic fix", output, StringComparison.Ordinal);
        Assert.Contains("5 finding(s), 5 with an automatic fix.", output, StringComparison.Ordinal);
        Assert.DoesNotContain("error", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Fix_AtTheDefaultLevel_ReplacesTheSendLoopWithSendAsync_AndWaitsElsewhere_AndTheSampleStillBuildsAndRuns()
    {
        var (code, output, _) = await Cli.RunAsync("fix", sample.Sample);

        Assert.Equal(ExitCodes.Success, code);
        Assert.Contains("Fixed 5 site(s) in 1 file(s); 0 site(s) left for a manual fix.", output, StringComparison.Ordinal);
        var fixedText = await File.ReadAllTextAsync(sample.SenderFile);
        Assert.Equal(1, CountOf(fixedText, ".SendAsync(file, "));
        Assert.Equal(2, CountOf(fixedText, "WaitForBufferedAmountLowAsync"));
        Assert.Equal(1, CountOf(fixedText, "DelayUntilBufferedAmountLowAsync(0, 20)")); // the deadline loop keeps its loop
        Assert.Equal(1, CountOf(fixedText, "SleepUntilBufferedAmountLow(HighWater, 5)")); // and the synchronous one stays synchronous
        Assert.DoesNotContain("Task.Delay", fixedText, StringComparison.Ordinal);
        Assert.DoesNotContain("Thread.Sleep", fixedText, StringComparison.Ordinal);

        var (after, afterOutput, _) = await Cli.RunAsync("check", sample.Sample);
        Assert.Equal(ExitCodes.Success, after);
        Assert.Contains("0 finding(s)", afterOutput, StringComparison.Ordinal);

        // The proof that counts: the fixed sample builds with the generated adapter and still delivers every byte.
        await SampleWorkspace.DotnetAsync(sample.Root, "build", "samples/FileTransfer", "-v", "q");
        var run = await SampleWorkspace.DotnetAsync(sample.Root, "run", "--project", "samples/FileTransfer", "--no-build");
        Assert.Contains("received 2098180 bytes", run, StringComparison.Ordinal);
        Assert.Contains("(intact)", run, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Fix_AtFixLevelWait_ReplacesEveryWaitLoop_AndNoSendLoop()
    {
        var (code, output, error) = await Cli.RunAsync("fix", sample.Sample, "--fix-level", "wait");

        Assert.True(code == ExitCodes.Success, $"exit {code}: {error}");
        Assert.Contains("Fixed 5 site(s) in 1 file(s); 0 site(s) left for a manual fix.", output, StringComparison.Ordinal);
        var fixedText = await File.ReadAllTextAsync(sample.SenderFile);
        Assert.Equal(3, CountOf(fixedText, "WaitForBufferedAmountLowAsync"));
        Assert.Equal(1, CountOf(fixedText, "DelayUntilBufferedAmountLowAsync"));
        Assert.Equal(1, CountOf(fixedText, "SleepUntilBufferedAmountLow"));
        Assert.DoesNotContain("SendAsync", fixedText, StringComparison.Ordinal);
    }

    [Fact]
    public async Task DryRun_AtFixLevelBoundedWait_ChangesOnlyTheTimerCalls_AtEverySite()
    {
        var before = await File.ReadAllBytesAsync(sample.SenderFile);

        var (code, output, error) = await Cli.RunAsync("fix", sample.Sample, "--dry-run", "--fix-level", "bounded-wait", "--format", "json");

        Assert.True(code == ExitCodes.Success, $"exit {code}: {error}");
        Assert.Equal(before, await File.ReadAllBytesAsync(sample.SenderFile));
        using var json = JsonDocument.Parse(output);
        var diff = json.RootElement.GetProperty("diff").GetString()!;
        Assert.DoesNotContain("WaitForBufferedAmountLowAsync", diff, StringComparison.Ordinal);
        Assert.DoesNotContain("SendAsync(", diff, StringComparison.Ordinal);
        var added = diff.Split('\n').Where(l => l.StartsWith('+') && !l.StartsWith("+++", StringComparison.Ordinal) && l.Trim() != "+").ToList();
        Assert.Equal(4, added.Count(l => l.Contains("DelayUntilBufferedAmountLowAsync", StringComparison.Ordinal)));
        Assert.Equal(1, added.Count(l => l.Contains("SleepUntilBufferedAmountLow", StringComparison.Ordinal)));
        Assert.Equal(6, added.Count); // the five calls and the using: the loops themselves are untouched
        Assert.Equal(5, json.RootElement.GetProperty("summary").GetProperty("fixed").GetInt32());
        Assert.Empty(json.RootElement.GetProperty("findings").EnumerateArray());
    }

    [Fact]
    public async Task DryRun_CountsEachSiteOnce_FixedPlusLeftIsWhatCheckFound()
    {
        var (_, checkOutput, _) = await Cli.RunAsync("check", sample.Sample, "--format", "json");
        var found = JsonDocument.Parse(checkOutput).RootElement.GetProperty("summary").GetProperty("findings").GetInt32();

        foreach (var level in new[] { "wait", "send-loop" })
        {
            var (_, output, _) = await Cli.RunAsync("fix", sample.Sample, "--dry-run", "--format", "json", "--fix-level", level);
            using var json = JsonDocument.Parse(output);
            var summary = json.RootElement.GetProperty("summary");
            Assert.Equal(found, summary.GetProperty("fixed").GetInt32() + summary.GetProperty("findings").GetInt32());
        }
    }

    [Fact]
    public async Task Fix_OnTwoProjects_ReportsWhatIsLeftInTheProjectItDidNotChange()
    {
        // Only the changed project is analysed again after the fix; the other's findings must still count.
        var (code, output, error) = await Cli.RunAsync("fix", Path.Combine(sample.Solutions, "Two.sln"));

        Assert.True(code == ExitCodes.FindingsRemain, $"exit {code}: {error}");
        Assert.Contains("Fixed 5 site(s) in 1 file(s); 1 site(s) left for a manual fix.", output, StringComparison.Ordinal);
        Assert.Contains("Pump.cs(13,9): warning BP0001:", output, StringComparison.Ordinal);
        Assert.Equal(2, CountOf(await File.ReadAllTextAsync(sample.SenderFile), "WaitForBufferedAmountLowAsync"));
    }

    [Fact]
    public async Task NoFix_InAProjectWithoutTheRuntime_SaysWhy_AndNamesTheRemedy_InTextJsonAndSarif()
    {
        var project = Path.Combine(sample.Bystander, "Bystander.csproj");
        const string Remedy = "the project does not reference the runtime package: run 'dotnet add package Backpressure'";

        var (code, text, _) = await Cli.RunAsync("check", project);
        var (_, json, _) = await Cli.RunAsync("check", project, "--format", "json");
        var (_, sarif, _) = await Cli.RunAsync("check", project, "--format", "sarif");

        Assert.Equal(ExitCodes.FindingsRemain, code);
        Assert.Contains($"Pump.cs(13,9): warning BP0001: This loop polls 'wire.BufferedAmount' on a timer; wait for the low-buffer event instead [no automatic fix: {Remedy}]", text, StringComparison.Ordinal);
        Assert.Equal(Remedy, JsonDocument.Parse(json).RootElement.GetProperty("findings")[0].GetProperty("reason").GetString());
        var result = JsonDocument.Parse(sarif).RootElement.GetProperty("runs")[0].GetProperty("results")[0];
        Assert.Equal(Remedy, result.GetProperty("properties").GetProperty("noFixReason").GetString());
        Assert.Contains(Remedy, result.GetProperty("message").GetProperty("text").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task DryRun_PrintsAUnifiedDiff_AndWritesNothing()
    {
        var before = await File.ReadAllBytesAsync(sample.SenderFile);

        var (code, output, _) = await Cli.RunAsync("fix", sample.Sample, "--dry-run");

        Assert.Equal(ExitCodes.Success, code);
        Assert.Equal(before, await File.ReadAllBytesAsync(sample.SenderFile));
        Assert.Contains("--- a/FileSender.cs", output, StringComparison.Ordinal);
        Assert.Contains("+++ b/FileSender.cs", output, StringComparison.Ordinal);
        Assert.Contains("-                await Task.Delay(50, cancellationToken);", output, StringComparison.Ordinal);
        Assert.Contains("+        await transport.AsBufferedChannel().SendAsync(file, ", output, StringComparison.Ordinal);
        Assert.Contains("+                await transport.AsBufferedChannel().WaitForBufferedAmountLowAsync(HighWater - 1, cancellationToken)", output, StringComparison.Ordinal);
        Assert.Contains("+            transport.AsBufferedChannel().SleepUntilBufferedAmountLow(HighWater, 5);", output, StringComparison.Ordinal);
        Assert.Contains("+            await transport.AsBufferedChannel().DelayUntilBufferedAmountLowAsync(0, 20);", output, StringComparison.Ordinal);
        Assert.Contains("Would fix 5 site(s) in 1 file(s); 0 site(s) left for a manual fix.", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task EveryTargetFramework_IsAnalysed_AndFixed_ASiteOnlyNet8Compiles_Included_AndBothTargetsBuild()
    {
        var (checkCode, checkOutput, _) = await Cli.RunAsync("check", sample.Multi);

        Assert.Equal(ExitCodes.FindingsRemain, checkCode);
        Assert.Contains("Sender.cs(15,9): warning BP0001:", checkOutput, StringComparison.Ordinal);
        Assert.Contains("Sender.cs(25,9): warning BP0001:", checkOutput, StringComparison.Ordinal); // under #if NET8_0
        Assert.Contains("2 finding(s), 2 with an automatic fix.", checkOutput, StringComparison.Ordinal);

        var (code, output, error) = await Cli.RunAsync("fix", sample.Multi);

        Assert.True(code == ExitCodes.Success, output + error);
        Assert.Contains("Fixed 2 site(s) in 1 file(s); 0 site(s) left for a manual fix.", output, StringComparison.Ordinal);
        Assert.Equal(2, CountOf(await File.ReadAllTextAsync(Path.Combine(sample.Multi, "Sender.cs")), "WaitForBufferedAmountLowAsync"));
        await SampleWorkspace.DotnetAsync(sample.Multi, "build", "-v", "q");
    }

    [Fact]
    public async Task Fix_ThatOneTargetFrameworkWouldNotCompile_IsRefused_Exit3_NamingTheTarget_NothingWritten()
    {
        // The runtime is referenced for net10.0 only: the rewrite compiles there and breaks net8.0.
        var file = Path.Combine(sample.Partial, "Sender.cs");
        var before = await File.ReadAllBytesAsync(file);

        var (code, _, error) = await Cli.RunAsync("fix", sample.Partial);

        Assert.Equal(ExitCodes.FixRefused, code);
        Assert.Equal(before, await File.ReadAllBytesAsync(file));
        Assert.Contains("the fix was refused", error, StringComparison.Ordinal);
        Assert.Contains("(net8.0)]", error, StringComparison.Ordinal);
        Assert.DoesNotContain("(net10.0)", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Fix_ThatWouldNotCompile_IsRefused_Exit3_NothingWritten_ErrorsListed()
    {
        var file = Path.Combine(sample.Refusal, "Sender.cs");
        var before = await File.ReadAllBytesAsync(file);

        var (code, _, error) = await Cli.RunAsync("fix", Path.Combine(sample.Refusal, "Refusal.csproj"));

        Assert.Equal(ExitCodes.FixRefused, code);
        Assert.Equal(before, await File.ReadAllBytesAsync(file));
        Assert.Contains("the fix was refused", error, StringComparison.Ordinal);
        Assert.Contains("Sender.cs(", error, StringComparison.Ordinal);
        Assert.Contains("error CS1061", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Json_RoundTrips_AndAgreesWithTheTextReport()
    {
        var (code, output, _) = await Cli.RunAsync("check", sample.Sample, "--format", "json");

        Assert.Equal(ExitCodes.FindingsRemain, code);
        var report = JsonSerializer.Deserialize<JsonReport>(output, new JsonSerializerOptions(JsonSerializerDefaults.Web))!;
        Assert.Equal(5, report.Findings.Count);
        Assert.Equal(5, report.Summary.Findings);
        Assert.Equal(5, report.Summary.Fixable);
        Assert.All(report.Findings, f => Assert.Equal("FileSender.cs", f.Path));
        Assert.Equal([14, 30, 49, 61, 76], report.Findings.Select(f => f.Line));
        Assert.All(report.Findings, f => Assert.True(f.Fixable));
        Assert.Equal([new JsonRuleCount("BP0001", 5, 5, 0)], report.Summary.ByRule);
        Assert.Equal(output, JsonSerializer.Serialize(report, new JsonSerializerOptions(JsonSerializerDefaults.Web) { WriteIndented = true }) + Environment.NewLine);
    }

    [Fact]
    public async Task Sarif_HasTheRequiredShapeOf210_ForCodeScanning()
    {
        var report = Path.Combine(sample.Root, "report.sarif");
        var (code, output, _) = await Cli.RunAsync("check", sample.Sample, "--format", "sarif", "--output", report);

        Assert.Equal(ExitCodes.FindingsRemain, code);
        Assert.Contains("5 finding(s)", output, StringComparison.Ordinal);
        using var sarif = JsonDocument.Parse(await File.ReadAllTextAsync(report));
        var root = sarif.RootElement;
        Assert.Equal("2.1.0", root.GetProperty("version").GetString());
        var run = Assert.Single(root.GetProperty("runs").EnumerateArray());
        var driver = run.GetProperty("tool").GetProperty("driver");
        Assert.Equal("backpressure", driver.GetProperty("name").GetString());
        Assert.Contains(driver.GetProperty("rules").EnumerateArray(), r => r.GetProperty("id").GetString() == "BP0001" && r.GetProperty("helpUri").GetString()!.EndsWith("docs/rules/BP0001.md", StringComparison.Ordinal));
        var results = run.GetProperty("results").EnumerateArray().ToList();
        Assert.Equal(5, results.Count);
        Assert.StartsWith("file:///", run.GetProperty("originalUriBaseIds").GetProperty("SRCROOT").GetProperty("uri").GetString(), StringComparison.Ordinal);
        Assert.All(results, r =>
        {
            Assert.Equal("BP0001", r.GetProperty("ruleId").GetString());
            Assert.False(string.IsNullOrEmpty(r.GetProperty("message").GetProperty("text").GetString()));
            var location = r.GetProperty("locations")[0].GetProperty("physicalLocation");
            Assert.Equal("FileSender.cs", location.GetProperty("artifactLocation").GetProperty("uri").GetString());
            Assert.Equal("SRCROOT", location.GetProperty("artifactLocation").GetProperty("uriBaseId").GetString());
            Assert.True(location.GetProperty("region").GetProperty("startLine").GetInt32() > 0);
        });
    }

    [Fact]
    public async Task Configuration_IsTakenFromTheOption_AndSaid_AndAnAnalyzerNotBuiltInIt_IsNamed()
    {
        var (code, output, error) = await Cli.RunAsync("check", sample.Sample);
        var (releaseCode, releaseOutput, releaseError) = await Cli.RunAsync("check", sample.Sample, "--configuration", "Release", "--format", "json");

        Assert.Equal(ExitCodes.FindingsRemain, code);
        Assert.Contains("Configuration analysed: Debug.", output, StringComparison.Ordinal);
        Assert.DoesNotContain("warning", error, StringComparison.Ordinal);
        Assert.Equal(ExitCodes.FindingsRemain, releaseCode);
        Assert.Equal("Release", JsonDocument.Parse(releaseOutput).RootElement.GetProperty("configuration").GetString());
        Assert.Contains("Backpressure.Analyzers.dll' does not exist in configuration Release", releaseError, StringComparison.Ordinal);
    }

    [Fact]
    public async Task DryRun_Sarif_ListsTheSitesItWouldFix_WithSarifFixes_AndPascalCaseRuleNames()
    {
        var (code, output, _) = await Cli.RunAsync("fix", sample.Sample, "--dry-run", "--format", "sarif");

        Assert.Equal(ExitCodes.Success, code);
        var run = JsonDocument.Parse(output).RootElement.GetProperty("runs")[0];
        Assert.All(run.GetProperty("tool").GetProperty("driver").GetProperty("rules").EnumerateArray(), r =>
            Assert.Matches("^[A-Z][A-Za-z0-9]*$", r.GetProperty("name").GetString()!));
        var results = run.GetProperty("results").EnumerateArray().ToList();
        Assert.Equal(5, results.Count); // every site, each with the fix it would get
        var withFixes = results.Where(r => r.TryGetProperty("fixes", out _)).ToList();
        Assert.Equal([14, 30, 49, 61, 76], withFixes.Select(r => r.GetProperty("locations")[0].GetProperty("physicalLocation").GetProperty("region").GetProperty("startLine").GetInt32()).Order());

        // The replacements are minimal text edits whose cut points may vary; applied to the file on disk, they must give the fix.
        var applied = Cli.ApplyFixes(await File.ReadAllTextAsync(sample.SenderFile), withFixes);

        Assert.Contains("await transport.AsBufferedChannel().SendAsync(file, ", applied, StringComparison.Ordinal);
        Assert.Contains("WaitForBufferedAmountLowAsync(0)", applied, StringComparison.Ordinal);
        Assert.Contains("transport.AsBufferedChannel().SleepUntilBufferedAmountLow(HighWater, 5);", applied, StringComparison.Ordinal);
        Assert.Contains("await transport.AsBufferedChannel().DelayUntilBufferedAmountLowAsync(0, 20);", applied, StringComparison.Ordinal);
        Assert.DoesNotContain("Task.Delay", applied, StringComparison.Ordinal);
        Assert.DoesNotContain("Thread.Sleep", applied, StringComparison.Ordinal);
    }

    [Fact]
    public async Task UnrestoredProject_Exit2_SaysSo_InOneLine()
    {
        using var folder = new Cli.LooseFolder();
        folder.Write("Fresh.csproj", """<Project Sdk="Microsoft.NET.Sdk"><PropertyGroup><TargetFramework>net10.0</TargetFramework></PropertyGroup></Project>""");
        folder.Write("A.cs", "class A { }");

        var (code, output, error) = await Cli.RunAsync("check", folder.Path);

        Assert.Equal(ExitCodes.BadInput, code);
        Assert.Equal("error: 'Fresh.csproj' is not restored: run 'dotnet restore' first.", error.Trim());
        Assert.Empty(output);
    }

    private static int CountOf(string text, string what) => (text.Length - text.Replace(what, string.Empty, StringComparison.Ordinal).Length) / what.Length;

    private sealed record JsonReport(List<JsonFinding> Findings, List<JsonMessage> NewWarnings, List<string> Warnings, string? Configuration, JsonSummary Summary);

    private sealed record JsonFinding(string Id, string Path, int Line, int Column, string Message, bool Fixable, List<string> Fixes, string? Reason);

    private sealed record JsonMessage(string Id, string Path, int Line, int Column, string Message);

    private sealed record JsonSummary(int Findings, int Fixable, int Fixed, int FilesChanged, bool DryRun, List<JsonRuleCount> ByRule);

    private sealed record JsonRuleCount(string Id, int Findings, int Fixable, int Fixed);
}

public sealed class InputTests
{
    [Fact]
    public async Task MissingPath_Exit2_OneLine()
    {
        var (code, output, error) = await Cli.RunAsync("check", "/nonexistent/place");

        Assert.Equal(ExitCodes.BadInput, code);
        Assert.Equal("error: '/nonexistent/place' does not exist.", error.Trim());
        Assert.Empty(output);
    }

    [Fact]
    public async Task TwoSolutionsInOneFolder_Exit2_ListsThem()
    {
        using var folder = new Cli.LooseFolder();
        folder.Write("A.sln", string.Empty);
        folder.Write("B.slnx", "<Solution />");

        var (code, _, error) = await Cli.RunAsync("check", folder.Path);

        Assert.Equal(ExitCodes.BadInput, code);
        Assert.Single(error.Trim().Split('\n'));
        Assert.Contains("more than one solution: A.sln, B.slnx; name one.", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task UnparsableFile_IsSkippedWithItsError_TheRestIsAnalysedAndFixed_AndItIsLeftAlone()
    {
        using var folder = new Cli.LooseFolder();
        const string Garbage = "class {{{ while (wire.BufferedAmount > 1) { await Task.Delay(5); } ";
        var garbage = folder.Write("Broken.cs", Garbage);
        var sender = folder.Write("Sender.cs", Cli.FixableSender);
        folder.Write("Wire.cs", Cli.Channel);

        var (checkCode, checkOutput, checkError) = await Cli.RunAsync("check", folder.Path);
        var (code, output, error) = await Cli.RunAsync("fix", folder.Path);

        Assert.Equal(ExitCodes.FindingsRemain, checkCode);
        Assert.Contains("Sender.cs(7,9): warning BP0001:", checkOutput, StringComparison.Ordinal);
        Assert.Contains("1 finding(s)", checkOutput, StringComparison.Ordinal);
        var line = Assert.Single(checkError.Trim().Split('\n'));
        Assert.StartsWith("warning: Broken.cs(1,7): skipped, does not parse: CS", line, StringComparison.Ordinal);
        Assert.True(code == ExitCodes.Success, output + error);
        Assert.StartsWith("warning: Broken.cs(1,7): skipped", error, StringComparison.Ordinal);
        Assert.Contains("WaitForBufferedAmountLowAsync", File.ReadAllText(sender), StringComparison.Ordinal);
        Assert.Equal(Garbage, File.ReadAllText(garbage));
    }

    [Fact]
    public async Task ReadOnlyFile_Exit2_OneLine_NothingWritten()
    {
        using var folder = new Cli.LooseFolder();
        var sender = folder.Write("Sender.cs", Cli.FixableSender);
        folder.Write("Wire.cs", Cli.Channel);
        File.SetAttributes(sender, FileAttributes.ReadOnly);

        var (code, _, error) = await Cli.RunAsync("fix", folder.Path);

        Assert.Equal(ExitCodes.BadInput, code);
        Assert.Single(error.Trim().Split('\n'));
        Assert.Contains("is read-only; nothing was written.", error, StringComparison.Ordinal);
        Assert.Equal(Cli.FixableSender, File.ReadAllText(sender));
    }

    [Fact]
    public async Task UnknownOption_Exit2()
    {
        var (code, _, error) = await Cli.RunAsync("check", ".", "--frobnicate");

        Assert.Equal(ExitCodes.BadInput, code);
        Assert.StartsWith("error:", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task UnknownFixLevel_Exit2_ListsTheChoices()
    {
        var (code, output, error) = await Cli.RunAsync("fix", ".", "--fix-level", "everything");

        Assert.Equal(ExitCodes.BadInput, code);
        Assert.Equal("error: unknown --fix-level 'everything': choose bounded-wait, wait or send-loop. (see --help)", error.Trim());
        Assert.Empty(output);
    }

    [Fact]
    public async Task Help_DocumentsTheExitCodes()
    {
        var (code, output, _) = await Cli.RunAsync("--help");

        Assert.Equal(0, code);
        Assert.Contains("3 fix refused because the fixed code would not compile", output, StringComparison.Ordinal);
    }
}

public sealed class LooseFolderTests
{
    [Fact]
    public async Task Fix_WithAReportIntoAMissingFolder_Exit2_AndLeavesTheSourcesAlone()
    {
        using var folder = new Cli.LooseFolder();
        var sender = folder.Write("Sender.cs", Cli.FixableSender);
        folder.Write("Wire.cs", Cli.Channel);

        var (code, _, error) = await Cli.RunAsync("fix", folder.Path, "--format", "json", "--output", Path.Combine(folder.Path, "missing", "r.json"));

        Assert.Equal(ExitCodes.BadInput, code);
        Assert.Single(error.Trim().Split('\n'));
        Assert.Contains("nothing was written", error, StringComparison.Ordinal);
        Assert.Equal(Cli.FixableSender, File.ReadAllText(sender));
    }

    [Fact]
    public async Task Fix_RefusesAFileThatIsNeitherUtf8NorBomMarked_InsteadOfCorruptingIt()
    {
        using var folder = new Cli.LooseFolder();
        folder.Write("Wire.cs", Cli.Channel);
        var sender = Path.Combine(folder.Path, "Sender.cs");
        var latin1 = Encoding.Latin1.GetBytes("// Grüße\n" + Cli.FixableSender);
        File.WriteAllBytes(sender, latin1);

        var (code, _, error) = await Cli.RunAsync("fix", folder.Path);

        Assert.Equal(ExitCodes.BadInput, code);
        Assert.Contains("neither UTF-8 nor marked with a byte order mark", error, StringComparison.Ordinal);
        Assert.Equal(latin1, File.ReadAllBytes(sender));
    }

    [Fact]
    public async Task Fix_WritesThroughASymbolicLink_WhichStaysALink()
    {
        using var folder = new Cli.LooseFolder();
        using var elsewhere = new Cli.LooseFolder();
        var target = elsewhere.Write("Sender.txt", Cli.FixableSender);
        var link = Path.Combine(folder.Path, "Sender.cs");
        File.CreateSymbolicLink(link, target);
        folder.Write("Wire.cs", Cli.Channel);

        var (code, _, _) = await Cli.RunAsync("fix", folder.Path);

        Assert.Equal(ExitCodes.Success, code);
        Assert.NotNull(new FileInfo(link).LinkTarget);
        Assert.Contains("WaitForBufferedAmountLowAsync", File.ReadAllText(target), StringComparison.Ordinal);
    }

    [Fact]
    public async Task DryRun_AsJson_IsOneValidDocument_CarryingTheDiff()
    {
        using var folder = new Cli.LooseFolder();
        var sender = folder.Write("Sender.cs", Cli.FixableSender);
        folder.Write("Wire.cs", Cli.Channel);

        var (code, output, _) = await Cli.RunAsync("fix", folder.Path, "--dry-run", "--format", "json");

        Assert.Equal(ExitCodes.Success, code);
        using var json = JsonDocument.Parse(output);
        Assert.Contains("+++ b/Sender.cs", json.RootElement.GetProperty("diff").GetString(), StringComparison.Ordinal);
        Assert.Equal(1, json.RootElement.GetProperty("summary").GetProperty("fixed").GetInt32());
        Assert.Equal(Cli.FixableSender, File.ReadAllText(sender));
    }

    [Fact]
    public async Task AFolderWithProjectsOnlyInSubfolders_IsNotTakenAsLooseFiles()
    {
        using var folder = new Cli.LooseFolder();
        Directory.CreateDirectory(Path.Combine(folder.Path, "App"));
        folder.Write("App/App.csproj", "<Project Sdk=\"Microsoft.NET.Sdk\" />");
        folder.Write("App/Program.cs", "class P { }");

        var (code, _, error) = await Cli.RunAsync("check", folder.Path);

        Assert.Equal(ExitCodes.BadInput, code);
        Assert.Contains("holds projects in subfolders (App/App.csproj); name a project or a solution.", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task EmptyPath_Exit2_OneLine()
    {
        var (code, _, error) = await Cli.RunAsync("check", string.Empty);

        Assert.Equal(ExitCodes.BadInput, code);
        Assert.Equal("error: no path given: name a .sln, .slnx, .csproj or folder.", error.Trim());
    }

    [Fact]
    public async Task Fix_OnLooseFiles_RewritesWithTheGeneratedAdapter_Exit0()
    {
        using var folder = new Cli.LooseFolder();
        var sender = folder.Write("Sender.cs", Cli.FixableSender);
        folder.Write("Wire.cs", Cli.Channel);

        var (code, output, error) = await Cli.RunAsync("fix", folder.Path);

        Assert.True(code == ExitCodes.Success, output + error);
        Assert.Contains("Fixed 1 site(s) in 1 file(s); 0 site(s) left", output, StringComparison.Ordinal);
        Assert.Contains("await wire.AsBufferedChannel().WaitForBufferedAmountLowAsync(65536);", File.ReadAllText(sender), StringComparison.Ordinal);
        Assert.Equal(ExitCodes.Success, (await Cli.RunAsync("check", folder.Path)).Code);
    }

    [Fact]
    public async Task Fix_KeepsTheBomAndCrlf_AndEveryByteOutsideTheChangedLines()
    {
        using var folder = new Cli.LooseFolder();
        folder.Write("Wire.cs", Cli.Channel);
        var path = Path.Combine(folder.Path, "Sender.cs");
        var original = Cli.FixableSender.Replace("\n", "\r\n", StringComparison.Ordinal) + "\r\n// trailing comment\r\n";
        File.WriteAllBytes(path, [.. Encoding.UTF8.GetPreamble(), .. Encoding.UTF8.GetBytes(original)]);

        var (code, _, _) = await Cli.RunAsync("fix", folder.Path);

        Assert.Equal(ExitCodes.Success, code);
        var bytes = File.ReadAllBytes(path);
        Assert.Equal(Encoding.UTF8.GetPreamble(), bytes[..3]);
        var text = Encoding.UTF8.GetString(bytes.AsSpan(3));
        Assert.DoesNotContain("\n", text.Replace("\r\n", string.Empty, StringComparison.Ordinal), StringComparison.Ordinal); // CRLF only
        var originalLines = original.Split("\r\n");
        var fixedLines = text.Split("\r\n");
        Assert.Equal(originalLines[1..5], fixedLines[2..6]);   // up to the method's opening brace (after the added using)
        Assert.Equal(originalLines[^6..], fixedLines[^6..]);   // from the send to the end
    }

    [Fact]
    public async Task Fix_ThatAddsACompilerWarning_IsApplied_AndListsTheWarningWithFileAndLine_InTextJsonAndSarif()
    {
        // The wait loop was the only reader of 'pause': after the rewrite it is assigned and never used (CS0219).
        const string Sender = """
            using System.Threading.Tasks;

            public static class Sender
            {
                public static async Task PumpAsync(Wire wire, byte[] chunk)
                {
                    var pause = 50;
                    while (wire.BufferedAmount > 65536)
                    {
                        await Task.Delay(pause);
                    }

                    wire.Send(chunk, 0, chunk.Length);
                }
            }
            """;
        using var folder = new Cli.LooseFolder();
        var sender = folder.Write("Sender.cs", Sender);
        folder.Write("Wire.cs", Cli.Channel);

        var (_, json, _) = await Cli.RunAsync("fix", folder.Path, "--dry-run", "--format", "json");
        var (_, sarif, _) = await Cli.RunAsync("fix", folder.Path, "--dry-run", "--format", "sarif");
        var (code, text, error) = await Cli.RunAsync("fix", folder.Path);

        Assert.True(code == ExitCodes.Success, text + error);
        Assert.Contains("WaitForBufferedAmountLowAsync", File.ReadAllText(sender), StringComparison.Ordinal);
        Assert.Contains("Sender.cs(8,13): warning CS0219: ", text, StringComparison.Ordinal);
        Assert.Contains("[added by the fix]", text, StringComparison.Ordinal);
        Assert.Contains("Fixed 1 site(s) in 1 file(s); 0 site(s) left for a manual fix. The fix added 1 compiler warning(s).", text, StringComparison.Ordinal);
        var warning = Assert.Single(JsonDocument.Parse(json).RootElement.GetProperty("newWarnings").EnumerateArray());
        Assert.Equal(("CS0219", "Sender.cs", 8), (warning.GetProperty("id").GetString(), warning.GetProperty("path").GetString(), warning.GetProperty("line").GetInt32()));
        var result = Assert.Single(JsonDocument.Parse(sarif).RootElement.GetProperty("runs")[0].GetProperty("results").EnumerateArray(), r => r.GetProperty("ruleId").GetString() != "BP0001");
        Assert.Equal("CS0219", result.GetProperty("ruleId").GetString());
        Assert.Equal(8, result.GetProperty("locations")[0].GetProperty("physicalLocation").GetProperty("region").GetProperty("startLine").GetInt32());
    }

    [Fact]
    public async Task Fix_WhoseRewrittenCallWouldBindToTheUsersOwnMethod_LeavesThatSiteWithTheReason_AndFixesTheRest()
    {
        using var folder = new Cli.LooseFolder();
        folder.Write("Wire.cs", Cli.Channel);
        folder.Write("Other.cs", Cli.FixableSender.Replace("class Sender", "class OtherSender", StringComparison.Ordinal));
        var sender = folder.Write("Sender.cs", "namespace App;\n\n" + Cli.FixableSender);
        // Found before the runtime's extension (same namespace as the caller): it compiles, and waits for nothing.
        folder.Write("Mine.cs", """
            using System.Threading;
            using System.Threading.Tasks;

            namespace App;

            public static class MyChannelExtensions
            {
                public static ValueTask WaitForBufferedAmountLowAsync(this Backpressure.IBufferedChannel channel, long threshold, CancellationToken cancellationToken = default) => default;
            }
            """);

        var (code, output, error) = await Cli.RunAsync("fix", folder.Path);

        Assert.True(code == ExitCodes.FindingsRemain, output + error);
        Assert.Contains("Fixed 1 site(s) in 1 file(s); 1 site(s) left for a manual fix.", output, StringComparison.Ordinal);
        Assert.Contains("Sender.cs(9,9): warning BP0001:", output, StringComparison.Ordinal);
        Assert.Contains("[no automatic fix: the rewrite's call 'WaitForBufferedAmountLowAsync' would bind to 'App.MyChannelExtensions.WaitForBufferedAmountLowAsync'", output, StringComparison.Ordinal);
        Assert.Equal("namespace App;\n\n" + Cli.FixableSender, File.ReadAllText(sender));
        Assert.Contains("WaitForBufferedAmountLowAsync", File.ReadAllText(Path.Combine(folder.Path, "Other.cs")), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Check_OnLooseFiles_ReadsTheEditorConfigs_MemberNamesAndSeverity()
    {
        using var folder = new Cli.LooseFolder();
        folder.Write(".editorconfig", "root = true\n\n[*.cs]\nBP0001.member_names = QueuedBytes\n");
        Directory.CreateDirectory(Path.Combine(folder.Path, "Strict"));
        folder.Write("Strict/.editorconfig", "[*.cs]\ndotnet_diagnostic.BP0001.severity = error\n");
        const string Pipe = """
            using System.Threading.Tasks;

            public sealed class Pipe
            {
                public long QueuedBytes { get; }

                public void Send(byte[] data) { }
            }

            public static class Drain
            {
                public static async Task WaitAsync(Pipe pipe)
                {
                    while (pipe.QueuedBytes > 1024)
                    {
                        await Task.Delay(10);
                    }
                }
            }
            """;
        folder.Write("Pipe.cs", Pipe);
        folder.Write("Strict/Strict.cs", Pipe.Replace("Pipe", "StrictPipe", StringComparison.Ordinal).Replace("Drain", "StrictDrain", StringComparison.Ordinal));

        var (code, output, error) = await Cli.RunAsync("check", folder.Path);

        Assert.True(code == ExitCodes.FindingsRemain, output + error);
        Assert.Contains("Pipe.cs(14,9): warning BP0001: This loop polls 'pipe.QueuedBytes'", output, StringComparison.Ordinal);
        Assert.Contains("Strict/Strict.cs(14,9): error BP0001:", output, StringComparison.Ordinal);
        Assert.Contains("2 finding(s)", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Check_OnLooseFiles_NamesTheTypesThatDidNotResolve_OnStderrJsonAndSarif()
    {
        using var folder = new Cli.LooseFolder();
        folder.Write("Peer.cs", """
            using System.Threading.Tasks;
            using SIPSorcery.Net;

            public static class Peer
            {
                public static async Task DrainAsync(RTCDataChannel channel)
                {
                    while (channel.bufferedAmount > 65536)
                    {
                        await Task.Delay(50);
                    }
                }
            }
            """);

        var (code, output, error) = await Cli.RunAsync("check", folder.Path);
        var (_, json, _) = await Cli.RunAsync("check", folder.Path, "--format", "json");
        var (_, sarif, _) = await Cli.RunAsync("check", folder.Path, "--format", "sarif");

        Assert.Equal(ExitCodes.Success, code);
        Assert.Contains("0 finding(s)", output, StringComparison.Ordinal);
        var line = Assert.Single(error.Trim().Split('\n'));
        Assert.StartsWith("warning: 2 type or namespace name(s) did not resolve", line, StringComparison.Ordinal);
        Assert.Contains(": SIPSorcery, RTCDataChannel;", line, StringComparison.Ordinal);
        Assert.Contains("RTCDataChannel", Assert.Single(JsonDocument.Parse(json).RootElement.GetProperty("warnings").EnumerateArray()).GetString(), StringComparison.Ordinal);
        var notification = Assert.Single(JsonDocument.Parse(sarif).RootElement.GetProperty("runs")[0].GetProperty("invocations")[0].GetProperty("toolExecutionNotifications").EnumerateArray());
        Assert.Contains("SIPSorcery", notification.GetProperty("message").GetProperty("text").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Check_OnCleanLooseFiles_Exit0()
    {
        using var folder = new Cli.LooseFolder();
        folder.Write("Wire.cs", Cli.Channel);

        var (code, output, _) = await Cli.RunAsync("check", folder.Path);

        Assert.Equal(ExitCodes.Success, code);
        Assert.Contains("0 finding(s)", output, StringComparison.Ordinal);
    }
}

/// <summary>Small SDK projects restored in a temporary folder, as a user's would be.</summary>
public sealed class ProjectLoadingTests
{
    private static string ProjectFile(string items, string frameworks = "<TargetFramework>net10.0</TargetFramework>") => $"""
        <Project Sdk="Microsoft.NET.Sdk">
          <PropertyGroup>
            {frameworks}
            <TreatWarningsAsErrors>false</TreatWarningsAsErrors>
          </PropertyGroup>
          <ItemGroup>
        {items}
          </ItemGroup>
        </Project>
        """;

    [Fact]
    public async Task RestoreWarnings_NU1603AndNU1510_AreWarnings_NotLoadFailures()
    {
        using var folder = new Cli.LooseFolder();
        // 4.5.6 is not served (NU1603, the next one is taken); both are part of net10.0 (NU1510).
        folder.Write("Warned.csproj", ProjectFile("""
                <PackageReference Include="System.Memory" Version="4.5.6" />
                <PackageReference Include="System.Text.Json" Version="10.0.0" />
            """));
        folder.Write("Sender.cs", Cli.FixableSender);
        folder.Write("Wire.cs", Cli.Channel);
        await SampleWorkspace.DotnetAsync(folder.Path, "restore", "-v", "q");

        var (code, output, error) = await Cli.RunAsync("check", folder.Path);
        var (_, json, _) = await Cli.RunAsync("check", folder.Path, "--format", "json");

        Assert.True(code == ExitCodes.FindingsRemain, output + error);
        Assert.Contains("Sender.cs(7,9): warning BP0001:", output, StringComparison.Ordinal);
        Assert.Contains("warning: Warned.csproj: NU1603: ", error, StringComparison.Ordinal);
        Assert.Contains("warning: Warned.csproj: NU1510: ", error, StringComparison.Ordinal);
        Assert.DoesNotContain("error", error, StringComparison.Ordinal);
        Assert.Contains(JsonDocument.Parse(json).RootElement.GetProperty("warnings").EnumerateArray(), w => w.GetString()!.Contains("NU1603", StringComparison.Ordinal));
    }

    [Fact]
    public async Task StaleRestore_APackageAddedSince_Exit2_SaysSo_LikeUnrestored()
    {
        using var folder = new Cli.LooseFolder();
        var project = folder.Write("Stale.csproj", ProjectFile(string.Empty));
        folder.Write("A.cs", "class A { }");
        await SampleWorkspace.DotnetAsync(folder.Path, "restore", "-v", "q");
        File.WriteAllText(project, ProjectFile("""<PackageReference Include="Backpressure" Version="0.1.0" />"""));

        var (code, output, error) = await Cli.RunAsync("check", folder.Path);

        Assert.Equal(ExitCodes.BadInput, code);
        Assert.Equal("error: 'Stale.csproj' changed since its last restore (package 'Backpressure' is not in its restore): run 'dotnet restore' first.", error.Trim());
        Assert.Empty(output);
    }
}

/// <summary>Interruptions and failures in the write phase, through the entry point; the hook acts only on its own folder.</summary>
public sealed class SafeWriteTests
{
    private const string SecondSender = """
        using System.Threading.Tasks;

        public static class SecondSender
        {
            public static async Task PumpAsync(Wire wire, byte[] chunk)
            {
                while (wire.BufferedAmount > 1024)
                {
                    await Task.Delay(5);
                }

                wire.Send(chunk, 0, chunk.Length);
            }
        }
        """;

    private static async Task<(int Code, string Output, string Error)> RunWithHookAsync(Cli.LooseFolder folder, Action<string, int, CancellationTokenSource> onReplace)
    {
        using var cancellation = new CancellationTokenSource();
        var count = 0;
        FileWriter.BeforeReplace = target =>
        {
            if (target.StartsWith(folder.Path, StringComparison.Ordinal))
            {
                onReplace(target, count++, cancellation);
            }
        };
        try
        {
            using var output = new StringWriter();
            using var error = new StringWriter();
            var code = await Program.RunAsync(["fix", folder.Path], output, error, cancellation.Token);
            return (code, output.ToString(), error.ToString());
        }
        finally
        {
            FileWriter.BeforeReplace = null;
        }
    }

    private static (Cli.LooseFolder Folder, string First, string Second) TwoFixableFiles()
    {
        var folder = new Cli.LooseFolder();
        folder.Write("Wire.cs", Cli.Channel);
        return (folder, folder.Write("A.cs", Cli.FixableSender), folder.Write("B.cs", SecondSender));
    }

    private static void AssertUntouched(Cli.LooseFolder folder, string first, string second)
    {
        Assert.Equal(Cli.FixableSender, File.ReadAllText(first));
        Assert.Equal(SecondSender, File.ReadAllText(second));
        Assert.Equal(["A.cs", "B.cs", "Wire.cs"], Directory.GetFiles(folder.Path).Select(Path.GetFileName).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task CtrlC_DuringTheWrite_Exit130_OneLine_EveryFileAsItWas_NoTemporaryLeft()
    {
        var (folder, first, second) = TwoFixableFiles();
        using var _ = folder;

        // Interrupted after the first file was replaced: it must be put back.
        var (code, _, error) = await RunWithHookAsync(folder, (_, index, cancellation) =>
        {
            if (index == 1)
            {
                cancellation.Cancel();
            }
        });

        Assert.Equal(ExitCodes.Interrupted, code);
        Assert.Equal("error: interrupted; nothing was written (any file already replaced was put back).", error.Trim());
        AssertUntouched(folder, first, second);
    }

    [Fact]
    public async Task CtrlC_BeforeAnything_Exit130_OneLine()
    {
        using var folder = new Cli.LooseFolder();
        var sender = folder.Write("Sender.cs", Cli.FixableSender);
        folder.Write("Wire.cs", Cli.Channel);
        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();
        using var output = new StringWriter();
        using var error = new StringWriter();

        var code = await Program.RunAsync(["fix", folder.Path], output, error, cancelled.Token);

        Assert.Equal(ExitCodes.Interrupted, code);
        Assert.Single(error.ToString().Trim().Split('\n'));
        Assert.Equal(Cli.FixableSender, File.ReadAllText(sender));
    }

    [Fact]
    public async Task AFailedReplace_PutsBackWhatWasReplaced_Exit2_NoTemporaryOrBackupLeft()
    {
        var (folder, first, second) = TwoFixableFiles();
        using var _ = folder;

        var (code, _, error) = await RunWithHookAsync(folder, (_, index, _) =>
        {
            if (index == 1)
            {
                throw new IOException("disk full (simulated)");
            }
        });

        Assert.Equal(ExitCodes.BadInput, code);
        Assert.Equal("error: could not write: disk full (simulated); nothing was written.", error.Trim());
        AssertUntouched(folder, first, second);
    }

    [Fact]
    public async Task AFileEditedWhileFixRuns_IsLeftAlone_Exit2_AndNothingElseIsWritten()
    {
        var (folder, first, second) = TwoFixableFiles();
        using var _ = folder;
        const string Edit = "// edited by someone else meanwhile\n";

        var (code, _, error) = await RunWithHookAsync(folder, (_, index, _) =>
        {
            if (index == 0)
            {
                File.WriteAllText(second, Edit + SecondSender);
            }
        });

        Assert.Equal(ExitCodes.BadInput, code);
        Assert.Single(error.Trim().Split('\n'));
        Assert.Contains("B.cs' changed on disk while fix was writing; it was left alone and nothing was written.", error, StringComparison.Ordinal);
        Assert.Equal(Cli.FixableSender, File.ReadAllText(first));
        Assert.Equal(Edit + SecondSender, File.ReadAllText(second));
    }
}

public sealed class OptionTests
{
    [Fact]
    public async Task Output_NamingASourceFile_IsRefused_Exit2_AndTheSourceIsKept()
    {
        using var folder = new Cli.LooseFolder();
        var sender = folder.Write("Sender.cs", Cli.FixableSender);
        folder.Write("Wire.cs", Cli.Channel);

        var (code, _, error) = await Cli.RunAsync("fix", folder.Path, "--output", sender);

        Assert.Equal(ExitCodes.BadInput, code);
        Assert.Equal($"error: --output '{sender}' is one of the inputs; the report would replace it. Name another file. Nothing was written.", error.Trim());
        Assert.Equal(Cli.FixableSender, File.ReadAllText(sender));
    }

    [Fact]
    public async Task Output_InAMissingFolder_IsRefusedBeforeAnyAnalysis()
    {
        // The path does not even exist: only a check made before loading can answer about --output first.
        var (code, _, error) = await Cli.RunAsync("check", "/nonexistent/place", "--output", "/nonexistent/folder/r.json");

        Assert.Equal(ExitCodes.BadInput, code);
        Assert.Equal("error: the folder of --output '/nonexistent/folder/r.json' does not exist; nothing was written.", error.Trim());
    }

    [Fact]
    public async Task Output_Empty_OneCleanLine()
    {
        var (code, _, error) = await Cli.RunAsync("check", ".", "--output", string.Empty);

        Assert.Equal(ExitCodes.BadInput, code);
        Assert.Equal("error: --output needs a file name; nothing was written.", error.Trim());
    }

    [Fact]
    public async Task UnknownFormat_ListsTheChoices()
    {
        var (code, _, error) = await Cli.RunAsync("check", ".", "--format", "xml");

        Assert.Equal(ExitCodes.BadInput, code);
        Assert.Equal("error: unknown --format 'xml': choose text, json or sarif. (see --help)", error.Trim());
    }

    [Fact]
    public async Task Help_NamesTheCommand_backpressure()
    {
        var (code, output, _) = await Cli.RunAsync("--help");
        var (fixCode, fixHelp, _) = await Cli.RunAsync("fix", "--help");

        Assert.Equal(0, code);
        Assert.Contains("backpressure [command] [options]", output, StringComparison.Ordinal);
        Assert.DoesNotContain("Backpressure.Cli", output, StringComparison.Ordinal);
        Assert.Equal(0, fixCode);
        Assert.Contains("backpressure fix <path> [options]", fixHelp, StringComparison.Ordinal);
        Assert.Contains("--fix-level", fixHelp, StringComparison.Ordinal);
    }

    [Fact]
    public void SarifRuleNames_ArePascalCaseIdentifiers()
    {
        Assert.Equal("TimeBasedPollingOnAChannelsBufferedAmount", Reports.PascalCase("Time-based polling on a channel's buffered amount"));
    }
}
