using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;

/// <summary>
/// What fixing a whole solution costs: `backpressure fix` against `dotnet format analyzers --diagnostics
/// BP0001`, on a generated solution of transport-like projects (one file in ten polls), restored once.
/// Each tool starts from an identical unfixed copy; it is timed by wall clock, with the peak resident memory
/// of its whole process tree (both load projects through MSBuild build hosts in other processes), and the
/// sites it really fixed are counted in the files it left, so a tool that did nothing shows.
/// </summary>
internal static class CliCost
{
    private const int PollEvery = 10;
    private const string FixedCall = "WaitForBufferedAmountLowAsync(";
    private const string SolutionName = "Corpus.sln";
    private static readonly TimeSpan ToolTimeout = TimeSpan.FromMinutes(15);

    private sealed record Size(int Projects, int FilesPerProject, int Runs)
    {
        public int Files => Projects * FilesPerProject;

        /// <summary>Gets how many files one polling site comes with: 10 by default, 1 for the many-sites curve.</summary>
        public int PollEvery { get; init; } = CliCost.PollEvery;
    }

    private sealed record Tool(string Name, Func<string, string[]> Arguments);

    private sealed record Measured(int ExitCode, bool TimedOut, string Output, string Error, TimeSpan Wall, long PeakBytes, int PeakProcesses)
    {
        public bool Failed => ExitCode != 0 || TimedOut;

        public string Exit => TimedOut ? "timed out" : Invariant($"exit {ExitCode}");
    }

    private sealed record ToolRun(Measured Measured, int SitesFixed, int FilesChanged, string SourcesHash);

    /// <summary>
    /// The many-sites curve: one project whose every file polls, at each of <paramref name="siteCounts"/>, so
    /// time against sites shows whether fixing grows linearly with the sites of one project.
    /// </summary>
    public static Task<int> RunSitesAsync(IReadOnlyList<int> siteCounts, int? runs) =>
        siteCounts.Count == 0 || siteCounts.Any(n => n < 1) || runs < 1
            ? Task.FromResult(Usage())
            : RunAsync([.. siteCounts.Select(n => new Size(1, n, runs ?? 1) { PollEvery = 1 })]);

    /// <summary>
    /// A few sites in one large project, the shape of most real code: the fix changes a few files, so a tool that
    /// re-checks only what the fix can have changed pays for those files, not for the project.
    /// </summary>
    public static Task<int> RunSparseAsync(int files, int sites, int? runs) =>
        files < 1 || sites < 1 || sites > files || runs < 1
            ? Task.FromResult(Usage())
            : RunAsync([new Size(1, files, runs ?? 1) { PollEvery = files / sites }]);

    /// <summary>With no size, the two defaults; a size given runs that size only.</summary>
    public static Task<int> RunAsync(int? projects, int filesPerProject, int? runs) =>
        projects < 1 || filesPerProject < 1 || runs < 1
            ? Task.FromResult(Usage())
            : RunAsync(projects is { } p
                ? [new Size(p, filesPerProject, runs ?? (p * filesPerProject <= 1250 ? 3 : 1))]
                : [new Size(50, 25, runs ?? 3), new Size(200, 25, runs ?? 1)]);

    private static int Usage()
    {
        Console.Error.WriteLine("cli-cost [projects] [files per project] [runs], cli-cost sites <n,n,...> [runs], or cli-cost sparse <files> <sites> [runs]: each at least 1, sites at most files");
        return 2;
    }

    private static async Task<int> RunAsync(Size[] sizes)
    {
        var repository = RepositoryRoot();
        var clock = Stopwatch.StartNew();

        // The CLI and the analyzer assemblies the generated projects load, built as shipped (not timed).
        var build = await MeasureAsync(repository, false, "build", "-c", "Release", Path.Combine(repository, "src", "Backpressure.Cli"), "--disable-build-servers", "-nologo", "-v:q");
        if (build.ExitCode != 0)
        {
            Console.Error.WriteLine($"building the CLI failed ({build.ExitCode}):");
            Console.Error.WriteLine(build.Output + build.Error);
            return 2;
        }

        var cli = Path.Combine(repository, "src", "Backpressure.Cli", "bin", "Release", "net10.0", "Backpressure.Cli.dll");
        var runtime = Path.Combine(repository, "runtime", "Backpressure", "bin", "Release", "net8.0", "Backpressure.dll");
        var analyzers = Path.Combine(repository, "analyzers", "Backpressure.Analyzers", "bin", "Release", "netstandard2.0", "Backpressure.Analyzers.dll");
        var codeFixes = Path.Combine(repository, "analyzers", "Backpressure.CodeFixes", "bin", "Release", "netstandard2.0", "Backpressure.CodeFixes.dll");
        foreach (var file in new[] { cli, runtime, analyzers, codeFixes }.Where(f => !File.Exists(f)))
        {
            Console.Error.WriteLine($"not found after the build: {file}");
            return 2;
        }

        Tool[] tools =
        [
            new("backpressure fix (CLI)", sln => [cli, "fix", sln, "--diagnostics", "BP0001"]), // the same rule as format below
            new("dotnet format analyzers", sln => ["format", "analyzers", sln, "--diagnostics", "BP0001", "--severity", "warn", "--no-restore"]),
        ];

        Console.WriteLine(await MachineAsync());
        Console.WriteLine(Invariant($"CLI built in Release in {build.Wall.TotalSeconds:F0} s (not timed below); project k references project (k-1)/2; peak memory = largest sum of VmRSS over the tool's process and all its descendants, sampled every 50 ms"));

        var rows = new List<string>();
        var notes = new List<string>();
        var allFixed = true;
        foreach (var size in sizes)
        {
            var root = Path.Combine(Path.GetTempPath(), "bp-cli-cost-" + Guid.NewGuid().ToString("N")[..8]);
            try
            {
                // Generated and restored where the tools will run, then kept aside: every run gets a fresh copy at
                // the same path, so the restore's assets files stay valid and both tools see identical sources.
                var work = Path.Combine(root, "work");
                var pristine = Path.Combine(root, "pristine");
                var setup = Stopwatch.StartNew();
                var sites = Generate(work, size, runtime, analyzers, codeFixes);
                var restore = await MeasureAsync(work, false, "restore", Path.Combine(work, SolutionName), "-nologo", "-v:q");
                if (restore.ExitCode != 0)
                {
                    Console.Error.WriteLine($"restoring the generated solution failed ({restore.ExitCode}):");
                    Console.Error.WriteLine(restore.Output + restore.Error);
                    return 2;
                }

                CopyTree(work, pristine);
                Console.WriteLine(Invariant($"{size.Projects} projects x {size.FilesPerProject} files = {size.Files:N0} files, {sites} polling sites (one file in {size.PollEvery}); generated and restored in {setup.Elapsed.TotalSeconds:F0} s (not timed); {size.Runs} run(s) per tool"));

                var results = tools.ToDictionary(t => t.Name, _ => new List<ToolRun>());
                for (var run = 0; run < size.Runs; run++)
                {
                    // Alternate which tool goes first, so neither always inherits the other's warm caches.
                    foreach (var tool in run % 2 == 0 ? tools : tools.AsEnumerable().Reverse().ToArray())
                    {
                        DeleteTree(work);
                        CopyTree(pristine, work);
                        var measured = await MeasureAsync(work, true, tool.Arguments(Path.Combine(work, SolutionName)));
                        var (fixedSites, changed, hash) = CountFixes(work, pristine);
                        results[tool.Name].Add(new ToolRun(measured, fixedSites, changed, hash));
                        Console.WriteLine(
                            Invariant($"  run {run + 1}, {tool.Name}: {measured.Exit}, {measured.Wall.TotalSeconds:F1} s, ") +
                            Invariant($"{measured.PeakBytes / 1048576.0:F0} MiB in at most {measured.PeakProcesses} processes, {fixedSites} of {sites} sites fixed in {changed} files{LastLine(measured.Output)}"));
                        if (measured.Failed)
                        {
                            notes.Add(Invariant($"{size.Files:N0} files, run {run + 1}, {tool.Name}: {measured.Exit}; stderr: {FirstLines(measured.Error, 5)}; stdout ends: {FirstLines(string.Join('\n', measured.Output.Split('\n').TakeLast(5)), 5)}"));
                        }
                    }
                }

                // The same fix applied the same way gives the same text, whichever tool wrote it.
                var outputs = results.Values.SelectMany(r => r).Select(r => r.SourcesHash).Distinct().Count();
                Console.WriteLine(outputs == 1 ? "  every run of both tools left byte-identical sources" : Invariant($"  the runs left {outputs} different versions of the sources"));
                foreach (var tool in tools)
                {
                    var list = results[tool.Name];
                    allFixed &= list.All(r => r.SitesFixed == sites && !r.Measured.Failed);
                    var fixedRange = list.Min(r => r.SitesFixed) == list.Max(r => r.SitesFixed)
                        ? Invariant($"{list[0].SitesFixed} of {sites}")
                        : Invariant($"{list.Min(r => r.SitesFixed)}-{list.Max(r => r.SitesFixed)} of {sites}");
                    var failures = list.Where(r => r.Measured.Failed).Select(r => r.Measured.Exit).Distinct().ToList();
                    rows.Add(
                        Invariant($"| {size.Projects} / {size.Files:N0} / {sites:N0} | {tool.Name} | {Summary(list.Select(r => r.Measured.Wall.TotalSeconds), "F1")} ") +
                        Invariant($"| {Summary(list.Select(r => r.Measured.PeakBytes / 1048576.0), "F0")} | {fixedRange}{(failures.Count > 0 ? " (" + string.Join(", ", failures) + ")" : string.Empty)} |"));
                }
            }
            finally
            {
                DeleteTree(root);
            }
        }

        Console.WriteLine();
        Console.WriteLine(sizes.Any(s => s.Runs > 1) ? "median of the runs (min-max)" : "one run each");
        Console.WriteLine("| size (projects / files / sites) | tool | wall time, s | peak memory (tree), MiB | sites fixed |");
        Console.WriteLine("|---|---|---|---|---|");
        rows.ForEach(Console.WriteLine);
        foreach (var note in notes)
        {
            Console.WriteLine();
            Console.WriteLine(note);
        }

        Console.WriteLine();
        Console.WriteLine(Invariant($"whole command: {clock.Elapsed.TotalSeconds:F0} s"));
        return allFixed ? 0 : 1;
    }

    /// <summary>
    /// A solution of SDK projects with <see cref="AnalyzerCost.Corpus"/>'s files, numbered across the solution,
    /// each referencing the built runtime and loading the analyzer, generator and code fixes as the package would.
    /// Returns the number of polling sites written.
    /// </summary>
    private static int Generate(string root, Size size, string runtime, string analyzers, string codeFixes)
    {
        Directory.CreateDirectory(root);

        // Nothing from the folders above (a Directory.Build.props, an .editorconfig) reaches the generated projects.
        File.WriteAllText(Path.Combine(root, "Directory.Build.props"), "<Project />\n");
        File.WriteAllText(Path.Combine(root, "Directory.Build.targets"), "<Project />\n");
        File.WriteAllText(Path.Combine(root, ".editorconfig"), "root = true\n");

        var sites = 0;
        var solution = new StringBuilder();
        solution.Append("\nMicrosoft Visual Studio Solution File, Format Version 12.00\n# Visual Studio Version 17\nVisualStudioVersion = 17.0.31903.59\nMinimumVisualStudioVersion = 10.0.40219.1\n");
        var configurations = new StringBuilder();
        for (var k = 0; k < size.Projects; k++)
        {
            var name = Invariant($"Transport{k:D3}");
            var folder = Path.Combine(root, name);
            Directory.CreateDirectory(folder);

            // A tree: every project but the first references an earlier one, so each compiles against a few others.
            var reference = k == 0 ? string.Empty : Invariant($"""

                  <ItemGroup>
                    <ProjectReference Include="../Transport{(k - 1) / 2:D3}/Transport{(k - 1) / 2:D3}.csproj" />
                  </ItemGroup>
                """);
            File.WriteAllText(Path.Combine(folder, name + ".csproj"), $"""
                <Project Sdk="Microsoft.NET.Sdk">
                  <PropertyGroup>
                    <TargetFramework>net10.0</TargetFramework>
                    <ImplicitUsings>enable</ImplicitUsings>
                    <Nullable>enable</Nullable>
                  </PropertyGroup>

                  <ItemGroup>
                    <Reference Include="Backpressure" HintPath="{runtime}" />
                    <Analyzer Include="{analyzers}" />
                    <Analyzer Include="{codeFixes}" />
                  </ItemGroup>{reference}
                </Project>

                """);

            var first = k * size.FilesPerProject;
            var i = first;
            foreach (var text in AnalyzerCost.Corpus(size.FilesPerProject, transportEvery: 1, first: first, pollEvery: size.PollEvery, lowEvent: true))
            {
                sites += text.Contains("await Task.Delay(50, ct);", StringComparison.Ordinal) ? 1 : 0;
                File.WriteAllText(Path.Combine(folder, Invariant($"Session{i++}.cs")), text + "\n");
            }

            var guid = "{" + new Guid(k + 1, 0, 0, new byte[8]).ToString("D").ToUpperInvariant() + "}";
            solution.Append(CultureInfo.InvariantCulture, $"Project(\"{{FAE04EC0-301F-11D3-BF4B-00C04F79EFBC}}\") = \"{name}\", \"{name}\\{name}.csproj\", \"{guid}\"\nEndProject\n");
            foreach (var configuration in new[] { "Debug", "Release" })
            {
                configurations.Append(CultureInfo.InvariantCulture, $"\t\t{guid}.{configuration}|Any CPU.ActiveCfg = {configuration}|Any CPU\n\t\t{guid}.{configuration}|Any CPU.Build.0 = {configuration}|Any CPU\n");
            }
        }

        solution.Append("Global\n\tGlobalSection(SolutionConfigurationPlatforms) = preSolution\n\t\tDebug|Any CPU = Debug|Any CPU\n\t\tRelease|Any CPU = Release|Any CPU\n\tEndGlobalSection\n");
        solution.Append("\tGlobalSection(ProjectConfigurationPlatforms) = postSolution\n").Append(configurations).Append("\tEndGlobalSection\nEndGlobal\n");
        File.WriteAllText(Path.Combine(root, SolutionName), solution.ToString());
        return sites;
    }

    /// <summary>
    /// Sites fixed (calls to the runtime's wait in the sources) and files changed, against the unfixed copy, and
    /// a hash of all the sources, to compare what the tools wrote.
    /// </summary>
    private static (int Sites, int Files, string Hash) CountFixes(string work, string pristine)
    {
        var sites = 0;
        var files = 0;
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var file in Sources(work).Order(StringComparer.Ordinal))
        {
            var text = File.ReadAllText(file);
            hash.AppendData(Encoding.UTF8.GetBytes(Path.GetRelativePath(work, file) + "\0" + text + "\0"));
            var original = Path.Combine(pristine, Path.GetRelativePath(work, file));
            files += File.Exists(original) && File.ReadAllText(original) == text ? 0 : 1;
            for (var at = text.IndexOf(FixedCall, StringComparison.Ordinal); at >= 0; at = text.IndexOf(FixedCall, at + 1, StringComparison.Ordinal))
            {
                sites++;
            }
        }

        return (sites, files, Convert.ToHexString(hash.GetHashAndReset()));
    }

    private static IEnumerable<string> Sources(string root) =>
        Directory.EnumerateFiles(root, "*.cs", SearchOption.AllDirectories)
            .Where(f => !Path.GetRelativePath(root, f).Split(Path.DirectorySeparatorChar).Any(part => part is "bin" or "obj"));

    /// <summary>
    /// Runs `dotnet` with these arguments to the end. When measured, a thread sums VmRSS over the process and
    /// every descendant (found by each process's parent in /proc) every 50 ms and keeps the largest sum.
    /// </summary>
    private static async Task<Measured> MeasureAsync(string workingDirectory, bool measure, params string[] args)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        // No MSBuild node or compiler server outlives its run, to be charged to nobody and slow the next one.
        start.Environment["MSBUILDDISABLENODEREUSE"] = "1";
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["DOTNET_NOLOGO"] = "1";

        var clock = Stopwatch.StartNew();
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        long peak = 0;
        var peakProcesses = 0;
        var done = false;
        var tree = new ProcessTree(process.Id);
        var sampler = new Thread(() =>
        {
            while (!Volatile.Read(ref done))
            {
                var (bytes, count) = tree.Sample();
                peak = Math.Max(peak, bytes);
                peakProcesses = Math.Max(peakProcesses, count);
                Thread.Sleep(50);
            }
        })
        { IsBackground = true, Name = "rss sampler" };
        if (measure)
        {
            sampler.Start();
        }

        var timedOut = false;
        using (var timeout = new CancellationTokenSource(ToolTimeout))
        {
            try
            {
                await process.WaitForExitAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                timedOut = true;
                process.Kill(entireProcessTree: true);
                await process.WaitForExitAsync();
            }
        }

        var wall = clock.Elapsed;
        Volatile.Write(ref done, true);
        if (measure)
        {
            sampler.Join();
        }

        return new Measured(process.ExitCode, timedOut, await output, await error, wall, peak, peakProcesses);
    }

    /// <summary>
    /// The resident memory of a process and all its descendants. A process's parent is read once, when it first
    /// shows in /proc, so each sample lists /proc and reads the status of the tree's own members only: the
    /// sampler stays cheap beside the tools it measures on a 2-core machine.
    /// </summary>
    private sealed class ProcessTree(int root)
    {
        private readonly Dictionary<int, int> _parents = [];

        public (long Bytes, int Processes) Sample()
        {
            var alive = new HashSet<int>();
            foreach (var directory in Directory.EnumerateDirectories("/proc"))
            {
                if (int.TryParse(Path.GetFileName(directory), NumberStyles.None, CultureInfo.InvariantCulture, out var pid))
                {
                    alive.Add(pid);
                    if (!_parents.ContainsKey(pid) && Parent(pid) is { } parent)
                    {
                        _parents[pid] = parent;
                    }
                }
            }

            foreach (var gone in _parents.Keys.Where(p => !alive.Contains(p)).ToList())
            {
                _parents.Remove(gone);
            }

            var children = _parents.ToLookup(p => p.Value, p => p.Key);
            long total = 0;
            var count = 0;
            var pending = new Stack<int>([root]);
            while (pending.TryPop(out var pid))
            {
                if (Rss(pid) is { } bytes)
                {
                    total += bytes;
                    count++;
                }

                foreach (var child in children[pid])
                {
                    pending.Push(child);
                }
            }

            return (total, count);
        }

        /// <summary>The fourth field of /proc/&lt;pid&gt;/stat, after the command name in parentheses (which may hold spaces).</summary>
        private static int? Parent(int pid)
        {
            try
            {
                var stat = File.ReadAllText(Invariant($"/proc/{pid}/stat"));
                var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                return int.Parse(fields[1], NumberStyles.None, CultureInfo.InvariantCulture);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                return null; // it ended between the listing and the read
            }
        }

        private static long? Rss(int pid)
        {
            try
            {
                var line = File.ReadLines(Invariant($"/proc/{pid}/status")).FirstOrDefault(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
                return line is null ? 0 : Kib(line) * 1024; // a zombie has no memory left
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                return null;
            }
        }
    }

    private static async Task<string> MachineAsync()
    {
        var sdk = (await MeasureAsync(Environment.CurrentDirectory, false, "--version")).Output.Trim();
        var format = (await MeasureAsync(Environment.CurrentDirectory, false, "format", "--version")).Output.Trim().Split('+')[0];
        var memory = Kib(File.ReadLines("/proc/meminfo").First(l => l.StartsWith("MemTotal:", StringComparison.Ordinal)));
        return Invariant($"machine: {Environment.ProcessorCount} cores, {memory / 1048576.0:F0} GiB, {RuntimeInformation.OSDescription}, .NET SDK {sdk} ({RuntimeInformation.FrameworkDescription}), dotnet format {format}");
    }

    /// <summary>The number in a /proc line such as "VmRSS:     123456 kB".</summary>
    private static long Kib(string line) =>
        long.Parse(line.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries)[1], NumberStyles.None, CultureInfo.InvariantCulture);

    private static string RepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "Refactor.sln")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException($"no Refactor.sln above {AppContext.BaseDirectory}");
    }

    private static void CopyTree(string from, string to)
    {
        foreach (var directory in Directory.EnumerateDirectories(from, "*", SearchOption.AllDirectories))
        {
            Directory.CreateDirectory(Path.Combine(to, Path.GetRelativePath(from, directory)));
        }

        Directory.CreateDirectory(to);
        foreach (var file in Directory.EnumerateFiles(from, "*", SearchOption.AllDirectories))
        {
            File.Copy(file, Path.Combine(to, Path.GetRelativePath(from, file)));
        }
    }

    private static void DeleteTree(string path)
    {
        if (Directory.Exists(path))
        {
            Directory.Delete(path, recursive: true);
        }
    }

    private static string Summary(IEnumerable<double> values, string format)
    {
        var sorted = values.Order().ToArray();
        var median = sorted[sorted.Length / 2].ToString(format, CultureInfo.InvariantCulture);
        return sorted.Length == 1 ? median : $"{median} ({sorted[0].ToString(format, CultureInfo.InvariantCulture)}-{sorted[^1].ToString(format, CultureInfo.InvariantCulture)})";
    }

    private static string LastLine(string output) =>
        output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault() is { } line ? $" (\"{line}\")" : string.Empty;

    private static string FirstLines(string text, int count) =>
        string.Join(" | ", text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Take(count)) is { Length: > 0 } lines ? lines : "(empty)";

    private static string Invariant(FormattableString text) => FormattableString.Invariant(text);
}
