using System.Diagnostics;
using System.Text.RegularExpressions;
using Xunit.Abstractions;

namespace Backpressure.Package.Tests;

/// <summary>
/// The packed NuGet package in a real consumer build, outside the repository: the warning shows in the
/// build, fails it under TreatWarningsAsErrors, goes quiet under .editorconfig; `dotnet format` and the
/// installed tool each fix it, and the fixed consumer still sends its payload through the generated adapter.
/// </summary>
public sealed class ConsumerEndToEndTests(ITestOutputHelper output) : IDisposable
{
    private const string ConsumerProgram = """
        using System;
        using System.Security.Cryptography;
        using System.Threading.Tasks;
        using SIPSorcery.Net;

        public static class Program
        {
            public static async Task Main()
            {
                var dc = new RTCDataChannel();
                var payload = new byte[256 * 1024];
                new Random(7).NextBytes(payload);
                for (var offset = 0; offset < payload.Length; offset += 16384)
                {
                    while (dc.bufferedAmount > 32768)
                    {
                        await Task.Delay(5);
                    }

                    dc.send(payload, offset, Math.Min(16384, payload.Length - offset));
                }

                while (dc.Received < payload.Length)
                {
                    await Task.Yield();
                }

                Console.WriteLine($"sent {dc.Received} bytes sha256 {Convert.ToHexString(SHA256.HashData(dc.Bytes()))[..16]}");
                dc.close();
            }
        }
        """;

    /// <summary>SIPSorcery's public surface (no low event), with just enough behaviour to run: a wire thread that drains the queue.</summary>
    private const string SipsorceryStub = """
        using System;
        using System.Collections.Generic;
        using System.Threading;

        namespace SIPSorcery.Net
        {
            public enum RTCDataChannelState { connecting, open, closing, closed }

            public class RTCDataChannel
            {
                private readonly object _lock = new();
                private readonly List<byte> _received = new();
                private ulong _buffered;

                public RTCDataChannel() => new Thread(Wire) { IsBackground = true }.Start();

                public RTCDataChannelState readyState { get; private set; } = RTCDataChannelState.open;
                public ulong bufferedAmount { get { lock (_lock) { return _buffered; } } }
                public ulong bufferedAmountLowThreshold { get; set; }
                public event Action? onclose;
                public event Action<string>? onerror;
                public long Received { get { lock (_lock) { return _received.Count; } } }

                public void send(byte[] data, int offset = 0, int count = -1)
                {
                    if (readyState != RTCDataChannelState.open) { return; }
                    lock (_lock) { _received.AddRange(new ArraySegment<byte>(data, offset, count)); _buffered += (ulong)count; }
                }

                public void close() { readyState = RTCDataChannelState.closed; onclose?.Invoke(); }
                public byte[] Bytes() { lock (_lock) { return _received.ToArray(); } }

                private void Wire()
                {
                    while (readyState == RTCDataChannelState.open)
                    {
                        Thread.Sleep(1);
                        lock (_lock) { _buffered -= Math.Min(_buffered, 8192); }
                    }
                }
            }
        }
        """;

    private readonly string _work = Path.Combine(Path.GetTempPath(), "bp-e2e-" + Guid.NewGuid().ToString("N")[..8]);
    private readonly Dictionary<string, string?> _environment = new();

    public void Dispose() => Directory.Delete(_work, recursive: true);

    /// <summary>A receive loop that polls its queue on a timer: BP0003, which the tool fixes with a signal.</summary>
    private const string ReceiverSource = """
        using System.Collections.Concurrent;
        using System.Threading;

        public sealed class Receiver
        {
            private readonly ConcurrentQueue<byte[]> _incoming = new();

            public void OnDatagram(byte[] datagram) => _incoming.Enqueue(datagram);

            public byte[]? Receive(int timeoutMs)
            {
                var waited = 0;
                while (true)
                {
                    if (_incoming.TryDequeue(out var datagram)) return datagram;
                    Thread.Sleep(25);
                    waited += 25;
                    if (waited > timeoutMs) return null;
                }
            }
        }
        """;

    [Fact]
    public async Task PackedPackage_WarnsInTheBuild_AndFormatAndTheToolFixIt_IntoCodeThatStillRuns()
    {
        var clock = Stopwatch.StartNew();
        var version = "0.1.0-e2e." + DateTime.UtcNow.ToString("yyyyMMddHHmmss") + "." + Guid.NewGuid().ToString("N")[..6];
        var feed = Path.Combine(_work, "feed");
        var repository = RepositoryRoot();

        // 1. Pack from a copy of the sources (so nothing here touches the repository's obj/ while other
        //    suites build it) into a feed of our own; from then on NuGet's cache is private, so the
        //    consumer cannot pick up an older copy of the package.
        var sources = Path.Combine(_work, "repo");
        foreach (var file in new[] { "Directory.Build.props", "Directory.Packages.props", "global.json", ".editorconfig" })
        {
            CopyFile(Path.Combine(repository, file), Path.Combine(sources, file));
        }

        foreach (var folder in new[] { "runtime/Backpressure", "analyzers/Backpressure.Analyzers", "analyzers/Backpressure.CodeFixes", "src/Backpressure.Cli" })
        {
            CopyTree(Path.Combine(repository, folder), Path.Combine(sources, folder));
        }

        await Dotnet(sources, "pack", "runtime/Backpressure", "-c", "Release", "-o", feed, $"-p:Version={version}");
        await Dotnet(sources, "pack", "src/Backpressure.Cli", "-c", "Release", "-o", feed, $"-p:Version={version}");
        Assert.True(File.Exists(Path.Combine(feed, $"Backpressure.{version}.nupkg")));
        _environment["NUGET_PACKAGES"] = Path.Combine(_work, "packages");

        // 2. A consumer outside the repository, whose only package source is that feed.
        var consumer = CreateConsumer("consumer", version, feed);
        var build = await Dotnet(consumer, "build");
        var warning = Regex.Match(build, @"Program\.cs\((\d+),(\d+)\): warning BP0001");
        Assert.True(warning.Success, build);
        Assert.Equal(("15", "13"), (warning.Groups[1].Value, warning.Groups[2].Value));
        Assert.Matches(@"Receiver\.cs\(\d+,\d+\): warning BP0003", build); // the package carries the receive-side rule too

        var strict = await Dotnet(consumer, expectSuccess: false, "build", "--no-incremental", "-p:TreatWarningsAsErrors=true");
        Assert.Contains("error BP0001", strict, StringComparison.Ordinal);

        File.WriteAllText(Path.Combine(consumer, ".editorconfig"), "root = true\n\n[*.cs]\ndotnet_diagnostic.BP0001.severity = none\n");
        Assert.DoesNotContain("BP0001", await Dotnet(consumer, "build", "--no-incremental"), StringComparison.Ordinal);

        var expected = Regex.Match(await Dotnet(consumer, "run", "--no-build"), "sent 262144 bytes sha256 ([0-9A-F]{16})").Groups[1].Value;
        Assert.NotEmpty(expected);

        // 3a. dotnet format applies the packaged code fix.
        var formatted = CreateConsumer("formatted", version, feed);
        await Dotnet(formatted, "restore");
        await Dotnet(formatted, "format", "analyzers", "--diagnostics", "BP0001", "--severity", "warn");
        await AssertFixedAndRuns(formatted, expected, "await dc.AsBufferedChannel().WaitForBufferedAmountLowAsync(32768);");

        // 3b. So does the installed tool.
        var tools = Path.Combine(_work, "tools");
        var fixedByTool = CreateConsumer("tool-fixed", version, feed);
        await Dotnet(_work, "tool", "install", "Backpressure.Cli", "--version", version, "--tool-path", tools, "--configfile", Path.Combine(fixedByTool, "nuget.config"));
        await Dotnet(fixedByTool, "build");
        var fix = await Run(fixedByTool, Path.Combine(tools, "backpressure"), expectSuccess: true, "fix", fixedByTool);
        Assert.Contains("Fixed 2 site(s) in 2 file(s); 0 site(s) left", fix, StringComparison.Ordinal);
        await AssertFixedAndRuns(fixedByTool, expected, "await dc.AsBufferedChannel().SendAsync(payload, "); // the tool's default: the most complete rewrite
        Assert.DoesNotContain("BP0003", await Dotnet(fixedByTool, "build", "--no-incremental"), StringComparison.Ordinal);

        // 4. The analyzer's own cost in a real build (a consumer with no .editorconfig silencing it).
        var timed = await Dotnet(formatted, "build", "--no-incremental", "-p:ReportAnalyzer=true", "-v:d");
        var rows = timed.Split('\n').Select(l => l.Trim()).Where(l => Regex.IsMatch(l, @"^(\d+\.\d+|<\d)") || l.StartsWith("Total analyzer execution time", StringComparison.Ordinal) || l.StartsWith("Total generator execution time", StringComparison.Ordinal));
        foreach (var row in rows.Where(r => r.StartsWith("Total", StringComparison.Ordinal) || r.Contains("Backpressure", StringComparison.Ordinal)))
        {
            output.WriteLine("ReportAnalyzer: " + row);
        }

        output.WriteLine($"end-to-end wall time: {clock.Elapsed.TotalSeconds:F0} s");
    }

    private async Task AssertFixedAndRuns(string consumer, string expectedHash, string expectedCall)
    {
        var source = await File.ReadAllTextAsync(Path.Combine(consumer, "Program.cs"));
        Assert.Contains(expectedCall, source, StringComparison.Ordinal);
        var build = await Dotnet(consumer, "build", "--no-incremental");
        Assert.DoesNotContain("BP0001", build, StringComparison.Ordinal);
        Assert.Contains($"sent 262144 bytes sha256 {expectedHash}", await Dotnet(consumer, "run", "--no-build"), StringComparison.Ordinal);
    }

    private string CreateConsumer(string name, string version, string feed)
    {
        var directory = Path.Combine(_work, name);
        Directory.CreateDirectory(directory);
        File.WriteAllText(Path.Combine(directory, "Consumer.csproj"), $"""
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup>
                <OutputType>Exe</OutputType>
                <TargetFramework>net10.0</TargetFramework>
                <Nullable>enable</Nullable>
              </PropertyGroup>
              <ItemGroup>
                <PackageReference Include="Backpressure" Version="{version}" />
              </ItemGroup>
            </Project>
            """);
        File.WriteAllText(Path.Combine(directory, "nuget.config"), $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <packageSources>
                <clear />
                <add key="local" value="{feed}" />
              </packageSources>
            </configuration>
            """);
        File.WriteAllText(Path.Combine(directory, "Program.cs"), ConsumerProgram);
        File.WriteAllText(Path.Combine(directory, "Sipsorcery.cs"), SipsorceryStub);
        File.WriteAllText(Path.Combine(directory, "Receiver.cs"), ReceiverSource);
        return directory;
    }

    private Task<string> Dotnet(string directory, params string[] args) => Run(directory, "dotnet", expectSuccess: true, args);

    private Task<string> Dotnet(string directory, bool expectSuccess, params string[] args) => Run(directory, "dotnet", expectSuccess, args);

    private async Task<string> Run(string directory, string command, bool expectSuccess, params string[] args)
    {
        var start = new ProcessStartInfo(command) { WorkingDirectory = directory, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        foreach (var (key, value) in _environment)
        {
            start.Environment[key] = value;
        }

        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        // Generous: the whole solution's test assemblies build and run side by side on a small CI machine.
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(10));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{command} {string.Join(' ', args)} did not finish in 10 minutes.");
        }

        var text = await stdout + await stderr;
        if (expectSuccess && process.ExitCode != 0)
        {
            Assert.Fail($"{command} {string.Join(' ', args)} failed ({process.ExitCode}):\n{text}");
        }

        if (!expectSuccess && process.ExitCode == 0)
        {
            Assert.Fail($"{command} {string.Join(' ', args)} succeeded but should have failed:\n{text}");
        }

        return text;
    }

    private static void CopyTree(string from, string to)
    {
        foreach (var file in Directory.EnumerateFiles(from, "*", SearchOption.AllDirectories))
        {
            var relative = Path.GetRelativePath(from, file);
            if (!relative.Split(Path.DirectorySeparatorChar).Any(part => part is "bin" or "obj"))
            {
                CopyFile(file, Path.Combine(to, relative));
            }
        }
    }

    private static void CopyFile(string from, string to)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(to)!);
        File.Copy(from, to);
    }

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
