using System.Diagnostics;
using System.Runtime.CompilerServices;
using Microsoft.Build.Locator;

namespace Backpressure.Cli.Tests;

internal static class MSBuildSetup
{
    // Before any test touches MSBuild types, as the tool's Main does.
    [ModuleInitializer]
    internal static void Register()
    {
        if (!MSBuildLocator.IsRegistered)
        {
            MSBuildLocator.RegisterDefaults();
        }
    }
}

/// <summary>
/// A copy of the repository's runtime, analyzers and FileTransfer sample in a temporary folder, built
/// once, plus a .sln and a .slnx over the sample and a project that references the runtime but not the
/// generator (where a fix cannot compile). Tests that change files put them back with <see cref="Reset"/>.
/// </summary>
public sealed class SampleWorkspace : IAsyncLifetime
{
    /// <summary>A synchronous BP0001 site over a minimal channel type, in a project that does not reference the runtime.</summary>
    internal const string SyncPump = """
            using System.Threading;

            public sealed class Wire
            {
                public long BufferedAmount { get; }
                public void Send(byte[] data) { }
            }

            public static class Pump
            {
                public static void Drain(Wire wire)
                {
                    while (wire.BufferedAmount > 1024)
                    {
                        Thread.Sleep(10);
                    }
                }
            }
            """;

    private readonly Dictionary<string, byte[]> _originals = new();

    public string Root { get; } = Path.Combine(Path.GetTempPath(), "bp-cli-" + Guid.NewGuid().ToString("N")[..8]);

    public string Sample => Path.Combine(Root, "samples", "FileTransfer");

    public string SenderFile => Path.Combine(Sample, "FileSender.cs");

    public string Solutions => Path.Combine(Root, "solutions");

    public string Refusal => Path.Combine(Root, "refusal");

    public string Bystander => Path.Combine(Root, "bystander");

    /// <summary>A net8.0;net10.0 project with a site only net8.0 compiles.</summary>
    public string Multi => Path.Combine(Root, "multi");

    /// <summary>The same, with the runtime referenced for net10.0 only: a fix would break net8.0.</summary>
    public string Partial => Path.Combine(Root, "partial");

    public async Task InitializeAsync()
    {
        var repository = RepositoryRoot();
        foreach (var file in new[] { "Directory.Build.props", "Directory.Packages.props", "global.json", ".editorconfig" })
        {
            File.Copy(Path.Combine(repository, file), Path.Combine(Root, file).EnsureDirectory());
        }

        foreach (var folder in new[] { "runtime/Backpressure", "analyzers/Backpressure.Analyzers", "analyzers/Backpressure.CodeFixes", "samples/FileTransfer" })
        {
            CopyTree(Path.Combine(repository, folder), Path.Combine(Root, folder));
        }

        Directory.CreateDirectory(Solutions);
        await File.WriteAllTextAsync(Path.Combine(Solutions, "Sample.slnx"), """
            <Solution>
              <Project Path="../samples/FileTransfer/FileTransfer.csproj" />
            </Solution>
            """);
        await DotnetAsync(Solutions, "new", "sln", "--format", "sln", "-n", "Sample");
        await DotnetAsync(Solutions, "sln", "Sample.sln", "add", "../samples/FileTransfer/FileTransfer.csproj");

        Directory.CreateDirectory(Refusal);
        await File.WriteAllTextAsync(Path.Combine(Refusal, "Refusal.csproj"), ProjectFile("""
              <ItemGroup>
                <!-- The runtime but not the generator: AsBufferedChannel() will not exist. -->
                <ProjectReference Include="../runtime/Backpressure/Backpressure.csproj" />
              </ItemGroup>
            """));
        await File.WriteAllTextAsync(Path.Combine(Refusal, "Sender.cs"), """
            using System.Threading.Tasks;

            public sealed class Wire
            {
                public long BufferedAmount { get; }
                public void Send(byte[] data) { }
            }

            public static class Sender
            {
                public static async Task PumpAsync(Wire wire)
                {
                    while (wire.BufferedAmount > 1024)
                    {
                        await Task.Delay(10);
                    }
                }
            }
            """);

        // A second project with one synchronous site (no automatic fix) that no fix touches, and a solution over both.
        Directory.CreateDirectory(Bystander);
        await File.WriteAllTextAsync(Path.Combine(Bystander, "Bystander.csproj"), ProjectFile());
        await File.WriteAllTextAsync(Path.Combine(Bystander, "Pump.cs"), SyncPump);
        await DotnetAsync(Solutions, "new", "sln", "--format", "sln", "-n", "Two");
        await DotnetAsync(Solutions, "sln", "Two.sln", "add", "../samples/FileTransfer/FileTransfer.csproj", "../bystander/Bystander.csproj");

        const string MultiSender = """
            using System.Threading.Tasks;

            public sealed class Wire
            {
                public long BufferedAmount { get; }
                public long BufferedAmountLowThreshold { get; set; }
                public event System.Action? BufferedAmountLow;
                public void Send(byte[] data, int offset, int count) { }
            }

            public static class Sender
            {
                public static async Task PumpAsync(Wire wire, byte[] chunk)
                {
                    while (wire.BufferedAmount > 65536)
                    {
                        await Task.Delay(50);
                    }

                    wire.Send(chunk, 0, chunk.Length);
                }
            #if NET8_0
                public static async Task OldPumpAsync(Wire wire, byte[] chunk)
                {
                    while (wire.BufferedAmount > 1024)
                    {
                        await Task.Delay(20);
                    }

                    wire.Send(chunk, 0, chunk.Length);
                }
            #endif
            }
            """;
        const string Runtime = """
                <ProjectReference Include="../runtime/Backpressure/Backpressure.csproj" />
                <ProjectReference Include="../analyzers/Backpressure.Analyzers/Backpressure.Analyzers.csproj" OutputItemType="Analyzer" ReferenceOutputAssembly="false" />
            """;
        Directory.CreateDirectory(Multi);
        await File.WriteAllTextAsync(Path.Combine(Multi, "Multi.csproj"), ProjectFile($"""
              <ItemGroup>
            {Runtime}
              </ItemGroup>
            """, "net8.0;net10.0"));
        await File.WriteAllTextAsync(Path.Combine(Multi, "Sender.cs"), MultiSender);
        Directory.CreateDirectory(Partial);
        await File.WriteAllTextAsync(Path.Combine(Partial, "Partial.csproj"), ProjectFile($"""
              <ItemGroup Condition="'$(TargetFramework)' == 'net10.0'">
            {Runtime}
              </ItemGroup>
            """, "net8.0;net10.0"));
        await File.WriteAllTextAsync(Path.Combine(Partial, "Sender.cs"), MultiSender);

        await DotnetAsync(Root, "build", "samples/FileTransfer", "-v", "q");
        await DotnetAsync(Root, "restore", "multi", "-v", "q");
        await DotnetAsync(Root, "restore", "partial", "-v", "q");
        await DotnetAsync(Root, "restore", "bystander", "-v", "q");
        await DotnetAsync(Root, "restore", "refusal", "-v", "q");
        foreach (var file in Directory.EnumerateFiles(Root, "*", SearchOption.AllDirectories).Where(f => !f.Contains("/obj/", StringComparison.Ordinal) && !f.Contains("/bin/", StringComparison.Ordinal)))
        {
            _originals[file] = await File.ReadAllBytesAsync(file);
        }
    }

    /// <summary>An SDK project for net10.0 (or <paramref name="frameworks"/>) whose warnings stay warnings, with <paramref name="items"/> inside.</summary>
    private static string ProjectFile(string items = "", string frameworks = "net10.0") => $"""
        <Project Sdk="Microsoft.NET.Sdk">
          <PropertyGroup>
            {(frameworks.Contains(';', StringComparison.Ordinal) ? $"<TargetFrameworks>{frameworks}</TargetFrameworks>" : $"<TargetFramework>{frameworks}</TargetFramework>")}
            <TreatWarningsAsErrors>false</TreatWarningsAsErrors>
          </PropertyGroup>
        {items}</Project>
        """;

    /// <summary>Puts every file the tests may have rewritten back as it was.</summary>
    public void Reset()
    {
        foreach (var (path, bytes) in _originals)
        {
            if (!File.Exists(path) || !File.ReadAllBytes(path).AsSpan().SequenceEqual(bytes))
            {
                File.SetAttributes(path, FileAttributes.Normal);
                File.WriteAllBytes(path, bytes);
            }
        }
    }

    public Task DisposeAsync()
    {
        Directory.Delete(Root, recursive: true);
        return Task.CompletedTask;
    }

    public static async Task<string> DotnetAsync(string directory, params string[] args)
    {
        var start = new ProcessStartInfo("dotnet") { WorkingDirectory = directory, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        // Generous: the whole solution's test assemblies build and run side by side on a small CI machine.
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(10));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"dotnet {string.Join(' ', args)} did not finish in 10 minutes.");
        }

        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"dotnet {string.Join(' ', args)} failed ({process.ExitCode}): {await output}{await error}");
        }

        return await output;
    }

    private static void CopyTree(string from, string to)
    {
        foreach (var file in Directory.EnumerateFiles(from, "*", SearchOption.AllDirectories))
        {
            var relative = Path.GetRelativePath(from, file);
            if (relative.Split(Path.DirectorySeparatorChar).Any(part => part is "bin" or "obj"))
            {
                continue;
            }

            File.Copy(file, Path.Combine(to, relative).EnsureDirectory());
        }
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

[CollectionDefinition(Name)]
public sealed class SampleCollection : ICollectionFixture<SampleWorkspace>
{
    public const string Name = "sample workspace";
}

internal static class PathExtensions
{
    public static string EnsureDirectory(this string path)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        return path;
    }
}
