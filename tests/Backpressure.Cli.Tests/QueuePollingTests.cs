using System.Text;
using System.Text.Json;

namespace Backpressure.Cli.Tests;

/// <summary>BP0003 through the CLI: reported beside BP0001, fixed with its own rewrite, picked by --diagnostics, silenced by .editorconfig.</summary>
public sealed class QueuePollingTests
{
    private const string Usings = """
        using System.Collections.Concurrent;
        using System.Threading;

        """;

    /// <summary>A private queue every write of which is known: BP0003 offers its signal fix at (16,9) in <see cref="Inbox"/>.</summary>
    private const string InboxClass = """
        public sealed class Inbox
        {
            private readonly ConcurrentQueue<byte[]> _incoming = new();

            public void OnDatagram(byte[] datagram)
            {
                _incoming.Enqueue(datagram);
            }

            public int Receive(byte[] buffer, int timeoutMs)
            {
                var waited = 0;
                while (true)
                {
                    if (_incoming.TryDequeue(out var datagram))
                    {
                        datagram.CopyTo(buffer, 0);
                        return datagram.Length;
                    }

                    Thread.Sleep(25);
                    waited += 25;
                    if (waited > timeoutMs)
                    {
                        return -1;
                    }
                }
            }
        }
        """;

    private const string Inbox = Usings + "\n" + InboxClass;

    /// <summary>A public queue: anyone may add to it without a release, so BP0003 reports it at (11,9) without a fix.</summary>
    private const string Mailbox = Usings + """

        public sealed class Mailbox
        {
            public readonly ConcurrentQueue<int> Items = new();

            public int Take()
            {
                int item;
                while (!Items.TryDequeue(out item))
                {
                    Thread.Sleep(5);
                }

                return item;
            }
        }
        """;

    private const string PublicQueueReason = "'Items' is public: code outside the type can add to it without waking the consumer";

    /// <summary>A BP0001 site at (9,9) and a BP0003 site at (30,9) in one file.</summary>
    private const string Mixed = Usings + Cli.FixableSender + "\n\n" + InboxClass;

    private const string SignalField = "private readonly SemaphoreSlim _incomingSignal = new(0);";

    private const string SignalRelease = "if (_incomingSignal.CurrentCount == 0) _incomingSignal.Release();";

    private const string SignalWait = "_incomingSignal.Wait(25);";

    private static string[] Lines(string output) => output.Split(Environment.NewLine);

    [Fact]
    public async Task Check_ReportsBP0003BesideBP0001_EachUnderItsOwnId_WithItsReason_AndCountsEachRule()
    {
        using var folder = new Cli.LooseFolder();
        folder.Write("Wire.cs", Cli.Channel);
        folder.Write("Sender.cs", Cli.FixableSender);
        folder.Write("Inbox.cs", Inbox);
        folder.Write("Mailbox.cs", Mailbox);

        var (code, text, error) = await Cli.RunAsync("check", folder.Path);
        var (_, json, _) = await Cli.RunAsync("check", folder.Path, "--format", "json");

        Assert.True(code == ExitCodes.FindingsRemain, text + error);
        Assert.Contains("Inbox.cs(16,9): warning BP0003: This loop polls '_incoming' on a timer; wake when something is added instead", Lines(text));
        Assert.Contains($"Mailbox.cs(11,9): warning BP0003: This loop polls 'Items' on a timer; wake when something is added instead [no automatic fix: {PublicQueueReason}]", Lines(text));
        Assert.Contains("Sender.cs(7,9): warning BP0001: This loop polls 'wire.BufferedAmount' on a timer; wait for the low-buffer event instead", Lines(text));
        Assert.Contains("3 finding(s), 2 with an automatic fix. By rule: 1 BP0001, 2 BP0003.", Lines(text));

        var root = JsonDocument.Parse(json).RootElement;
        var findings = root.GetProperty("findings").EnumerateArray().ToList();
        Assert.Equal(["BP0003", "BP0003", "BP0001"], findings.Select(f => f.GetProperty("id").GetString()));
        Assert.Equal(["BP0003.Signal"], findings[0].GetProperty("fixes").EnumerateArray().Select(k => k.GetString()));
        Assert.False(findings[1].GetProperty("fixable").GetBoolean());
        Assert.Equal(PublicQueueReason, findings[1].GetProperty("reason").GetString());
        var byRule = root.GetProperty("summary").GetProperty("byRule").EnumerateArray()
            .Select(r => (r.GetProperty("id").GetString(), r.GetProperty("findings").GetInt32(), r.GetProperty("fixable").GetInt32()));
        Assert.Equal([("BP0001", 1, 1), ("BP0003", 2, 1)], byRule);
    }

    [Fact]
    public async Task Sarif_ListsBP0003InItsRules_AndGivesEachResultItsOwnRuleId_AndTheNoFixReason()
    {
        using var folder = new Cli.LooseFolder();
        folder.Write("Wire.cs", Cli.Channel);
        folder.Write("Sender.cs", Cli.FixableSender);
        folder.Write("Mailbox.cs", Mailbox);

        var (code, sarif, _) = await Cli.RunAsync("check", folder.Path, "--format", "sarif");

        Assert.Equal(ExitCodes.FindingsRemain, code);
        var run = JsonDocument.Parse(sarif).RootElement.GetProperty("runs")[0];
        var rule = Assert.Single(run.GetProperty("tool").GetProperty("driver").GetProperty("rules").EnumerateArray(), r => r.GetProperty("id").GetString() == "BP0003");
        Assert.Equal("TimeBasedPollingOfAQueueForSomethingToArrive", rule.GetProperty("name").GetString());
        Assert.EndsWith("docs/rules/BP0003.md", rule.GetProperty("helpUri").GetString(), StringComparison.Ordinal);
        var results = run.GetProperty("results").EnumerateArray().ToList();
        Assert.Equal(["BP0003", "BP0001"], results.Select(r => r.GetProperty("ruleId").GetString()));
        Assert.Equal("Mailbox.cs", results[0].GetProperty("locations")[0].GetProperty("physicalLocation").GetProperty("artifactLocation").GetProperty("uri").GetString());
        Assert.Equal(PublicQueueReason, results[0].GetProperty("properties").GetProperty("noFixReason").GetString());
        Assert.Contains(PublicQueueReason, results[0].GetProperty("message").GetProperty("text").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task DryRun_Sarif_InAFileWithBothRules_GivesEachSiteItsOwnRewrite()
    {
        using var folder = new Cli.LooseFolder();
        folder.Write("Wire.cs", Cli.Channel);
        folder.Write("Mixed.cs", Mixed);

        var (code, sarif, error) = await Cli.RunAsync("fix", folder.Path, "--dry-run", "--format", "sarif");

        Assert.True(code == ExitCodes.Success, sarif + error);
        Assert.Equal(Mixed, File.ReadAllText(Path.Combine(folder.Path, "Mixed.cs")));
        var results = JsonDocument.Parse(sarif).RootElement.GetProperty("runs")[0].GetProperty("results").EnumerateArray().ToList();
        var queue = Assert.Single(results, r => r.GetProperty("ruleId").GetString() == "BP0003");
        var send = Assert.Single(results, r => r.GetProperty("ruleId").GetString() == "BP0001");
        Assert.Equal("Wake when something is added instead of polling (backpressure fix).", queue.GetProperty("fixes")[0].GetProperty("description").GetProperty("text").GetString());

        // Each site's replacements alone give its own rewrite and nothing of the other's.
        var queueFixed = Cli.ApplyFixes(Mixed, [queue]);
        Assert.Contains(SignalField, queueFixed, StringComparison.Ordinal);
        Assert.Contains(SignalRelease, queueFixed, StringComparison.Ordinal);
        Assert.Contains(SignalWait, queueFixed, StringComparison.Ordinal);
        Assert.Contains("await Task.Delay(50);", queueFixed, StringComparison.Ordinal);
        var sendFixed = Cli.ApplyFixes(Mixed, [send]);
        Assert.Contains("await wire.AsBufferedChannel().WaitForBufferedAmountLowAsync(65536);", sendFixed, StringComparison.Ordinal);
        Assert.Contains("Thread.Sleep(25);", sendFixed, StringComparison.Ordinal);
        Assert.DoesNotContain("_incomingSignal", sendFixed, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Fix_RewritesBothRulesInOneFile_KeepingTheBomAndCrlf_AndNothingIsLeft()
    {
        using var folder = new Cli.LooseFolder();
        folder.Write("Wire.cs", Cli.Channel);
        var path = Path.Combine(folder.Path, "Mixed.cs");
        File.WriteAllBytes(path, [.. Encoding.UTF8.GetPreamble(), .. Encoding.UTF8.GetBytes(Mixed.Replace("\n", "\r\n", StringComparison.Ordinal))]);

        var (code, output, error) = await Cli.RunAsync("fix", folder.Path);

        Assert.True(code == ExitCodes.Success, output + error);
        Assert.Contains("Fixed 2 site(s) in 1 file(s); 0 site(s) left for a manual fix. By rule: fixed 1 BP0001, 1 BP0003.", Lines(output));
        var bytes = File.ReadAllBytes(path);
        Assert.Equal(Encoding.UTF8.GetPreamble(), bytes[..3]);
        var text = Encoding.UTF8.GetString(bytes.AsSpan(3));
        Assert.DoesNotContain("\n", text.Replace("\r\n", string.Empty, StringComparison.Ordinal), StringComparison.Ordinal); // CRLF only
        Assert.Contains($"new();\r\n    {SignalField}\r\n", text, StringComparison.Ordinal);
        Assert.Contains($"_incoming.Enqueue(datagram);\r\n        {SignalRelease}\r\n", text, StringComparison.Ordinal);
        Assert.Contains(SignalWait, text, StringComparison.Ordinal);
        Assert.Contains("await wire.AsBufferedChannel().WaitForBufferedAmountLowAsync(65536);", text, StringComparison.Ordinal);
        Assert.DoesNotContain("Thread.Sleep", text, StringComparison.Ordinal);

        var (after, afterOutput, _) = await Cli.RunAsync("check", folder.Path);
        Assert.Equal(ExitCodes.Success, after);
        Assert.Contains("0 finding(s), 0 with an automatic fix.", Lines(afterOutput));
    }

    [Fact]
    public async Task Fix_InAProjectWithoutTheRuntime_RewritesBP0003_LeavesBP0001WithTheRuntimeReason_AndTheProjectBuilds()
    {
        // BP0003's signal is the BCL's SemaphoreSlim: only BP0001's rewrites need the runtime package.
        using var folder = new Cli.LooseFolder();
        folder.Write("NoRuntime.csproj", """
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup>
                <TargetFramework>net10.0</TargetFramework>
                <TreatWarningsAsErrors>false</TreatWarningsAsErrors>
              </PropertyGroup>
            </Project>
            """);
        var inbox = folder.Write("Inbox.cs", Inbox);
        folder.Write("Pump.cs", SampleWorkspace.SyncPump);
        await SampleWorkspace.DotnetAsync(folder.Path, "restore", "-v", "q");

        var (checkCode, checkOutput, _) = await Cli.RunAsync("check", folder.Path);
        var (code, output, error) = await Cli.RunAsync("fix", folder.Path);

        Assert.Equal(ExitCodes.FindingsRemain, checkCode);
        Assert.Contains("Inbox.cs(16,9): warning BP0003: This loop polls '_incoming' on a timer; wake when something is added instead", Lines(checkOutput));
        Assert.True(code == ExitCodes.FindingsRemain, output + error);
        Assert.Contains("Pump.cs(13,9): warning BP0001: This loop polls 'wire.BufferedAmount' on a timer; wait for the low-buffer event instead [no automatic fix: the project does not reference the runtime package: run 'dotnet add package Backpressure']", Lines(output));
        Assert.Contains("Fixed 1 site(s) in 1 file(s); 1 site(s) left for a manual fix. By rule: fixed 1 BP0003; left 1 BP0001.", Lines(output));
        var text = File.ReadAllText(inbox);
        Assert.Contains(SignalField, text, StringComparison.Ordinal);
        Assert.Contains(SignalWait, text, StringComparison.Ordinal);
        await SampleWorkspace.DotnetAsync(folder.Path, "build", "--no-restore", "-v", "q");
    }

    [Fact]
    public async Task Diagnostics_BP0001_LeavesBP0003SitesAlone_AndBP0003_LeavesBP0001SitesAlone_InCheckAndFix()
    {
        using var folder = new Cli.LooseFolder();
        folder.Write("Wire.cs", Cli.Channel);
        var sender = folder.Write("Sender.cs", Cli.FixableSender);
        var inbox = folder.Write("Inbox.cs", Inbox);

        var (sendCode, sendOnly, _) = await Cli.RunAsync("check", folder.Path, "--diagnostics", "BP0001");
        var (queueCode, queueOnly, _) = await Cli.RunAsync("check", folder.Path, "--diagnostics", "bp0003");

        Assert.Equal(ExitCodes.FindingsRemain, sendCode);
        Assert.Contains("Sender.cs(7,9): warning BP0001: This loop polls 'wire.BufferedAmount' on a timer; wait for the low-buffer event instead", Lines(sendOnly));
        Assert.DoesNotContain("BP0003", sendOnly, StringComparison.Ordinal);
        Assert.Contains("1 finding(s), 1 with an automatic fix. By rule: 1 BP0001.", Lines(sendOnly));
        Assert.Equal(ExitCodes.FindingsRemain, queueCode);
        Assert.Contains("Inbox.cs(16,9): warning BP0003: This loop polls '_incoming' on a timer; wake when something is added instead", Lines(queueOnly));
        Assert.DoesNotContain("BP0001", queueOnly, StringComparison.Ordinal);
        Assert.Contains("1 finding(s), 1 with an automatic fix. By rule: 1 BP0003.", Lines(queueOnly));

        var (fixCode, fixOutput, fixError) = await Cli.RunAsync("fix", folder.Path, "--diagnostics", "BP0003");

        Assert.True(fixCode == ExitCodes.Success, fixOutput + fixError);
        Assert.Contains("Fixed 1 site(s) in 1 file(s); 0 site(s) left for a manual fix. By rule: fixed 1 BP0003.", Lines(fixOutput));
        Assert.Contains(SignalWait, File.ReadAllText(inbox), StringComparison.Ordinal);
        Assert.Equal(Cli.FixableSender, File.ReadAllText(sender));
    }

    [Theory]
    [InlineData("BP0001,BP0009", "error: unknown --diagnostics id 'BP0009': choose from BP0001, BP0003, comma-separated. (see --help)")]
    [InlineData("BP0002", "error: unknown --diagnostics id 'BP0002': choose from BP0001, BP0003, comma-separated. (see --help)")]
    [InlineData(",", "error: --diagnostics needs at least one id: choose from BP0001, BP0003, comma-separated. (see --help)")]
    public async Task Diagnostics_NamingNoRuleTheToolRuns_Exit2_OneLine_NothingWritten(string list, string message)
    {
        using var folder = new Cli.LooseFolder();
        folder.Write("Wire.cs", Cli.Channel);
        var sender = folder.Write("Sender.cs", Cli.FixableSender);
        var inbox = folder.Write("Inbox.cs", Inbox);
        var report = Path.Combine(folder.Path, "report.json");

        var (code, output, error) = await Cli.RunAsync("fix", folder.Path, "--diagnostics", list, "--format", "json", "--output", report);

        Assert.Equal(ExitCodes.BadInput, code);
        Assert.Equal(message, error.Trim());
        Assert.Empty(output);
        Assert.Equal(Cli.FixableSender, File.ReadAllText(sender));
        Assert.Equal(Inbox, File.ReadAllText(inbox));
        Assert.False(File.Exists(report));
    }

    [Fact]
    public async Task EditorConfig_SeverityNone_SilencesBP0003_InCheckAndFix_AndSeverityError_RaisesIt()
    {
        using var folder = new Cli.LooseFolder();
        folder.Write(".editorconfig", "root = true\n\n[*.cs]\ndotnet_diagnostic.BP0003.severity = none\n");
        Directory.CreateDirectory(Path.Combine(folder.Path, "Strict"));
        folder.Write("Strict/.editorconfig", "[*.cs]\ndotnet_diagnostic.BP0003.severity = error\n");
        folder.Write("Wire.cs", Cli.Channel);
        folder.Write("Sender.cs", Cli.FixableSender);
        var silenced = folder.Write("Inbox.cs", Inbox);
        var strict = folder.Write("Strict/StrictInbox.cs", Inbox.Replace("Inbox", "StrictInbox", StringComparison.Ordinal));

        var (code, output, error) = await Cli.RunAsync("check", folder.Path);

        Assert.True(code == ExitCodes.FindingsRemain, output + error);
        Assert.Contains("Strict/StrictInbox.cs(16,9): error BP0003: This loop polls '_incoming' on a timer; wake when something is added instead", Lines(output));
        Assert.DoesNotContain(Lines(output), l => l.StartsWith("Inbox.cs", StringComparison.Ordinal));
        Assert.Contains("2 finding(s), 2 with an automatic fix. By rule: 1 BP0001, 1 BP0003.", Lines(output));

        var (fixCode, fixOutput, fixError) = await Cli.RunAsync("fix", folder.Path);

        Assert.True(fixCode == ExitCodes.Success, fixOutput + fixError);
        Assert.Equal(Inbox, File.ReadAllText(silenced));
        Assert.Contains(SignalWait, File.ReadAllText(strict), StringComparison.Ordinal);
    }
}
