using System.CommandLine;
using Microsoft.Build.Locator;

namespace Backpressure.Cli;

public static class Program
{
    public static async Task<int> Main(string[] args)
    {
        // Before anything that touches MSBuild types is compiled: the SDK's MSBuild, not a copy of our own.
        if (!MSBuildLocator.IsRegistered)
        {
            MSBuildLocator.RegisterDefaults();
        }

        return await RunAsync(args, Console.Out, Console.Error);
    }

    /// <summary>The whole tool, with its output and error streams given: what the tests call.</summary>
    public static async Task<int> RunAsync(string[] args, TextWriter output, TextWriter error)
    {
        var path = new Argument<string>("path") { Description = "A .sln, .slnx or .csproj; or a folder holding one of them, or only loose .cs files." };
        var format = new Option<ReportFormat>("--format") { Description = "text (MSBuild-style lines), json or sarif.", DefaultValueFactory = _ => ReportFormat.Text };
        var outputFile = new Option<string?>("--output") { Description = "Write the report to this file instead of the console." };
        var dryRun = new Option<bool>("--dry-run") { Description = "Print the changes as a unified diff and write nothing." };
        var configuration = new Option<string>("--configuration", "-c")
        {
            Description = "The MSBuild configuration to load projects in (default Debug, as a build without -c).",
            DefaultValueFactory = _ => "Debug",
        };
        configuration.Validators.Add(result =>
        {
            if (string.IsNullOrWhiteSpace(result.GetValueOrDefault<string>()))
            {
                result.AddError("--configuration needs a name, such as Debug or Release.");
            }
        });
        var fixLevel = new Option<string>("--fix-level")
        {
            Description = "The most complete rewrite to apply at a site: bounded-wait (only the timer call), wait (the wait loop), send-loop (the whole send loop; the default). Each site gets the most complete one it offers at or below this.",
            DefaultValueFactory = _ => "send-loop",
        };
        fixLevel.Validators.Add(result =>
        {
            if (FixLevels.Parse(result.GetValueOrDefault<string>() ?? string.Empty) is null)
            {
                result.AddError($"unknown --fix-level '{result.GetValueOrDefault<string>()}': choose bounded-wait, wait or send-loop.");
            }
        });

        var check = new Command("check", "Report BP0001 sites: time-based polling on a channel's buffered amount.") { path, format, outputFile, configuration };
        var fix = new Command("fix", "Rewrite BP0001 sites into event-driven waits, only if the result compiles with no new error.") { path, format, outputFile, configuration, dryRun, fixLevel };
        var root = new RootCommand($"Finds and fixes send-queue polling (BP0001), Roslyn-checked. {ExitCodes.Help}") { check, fix };

        check.SetAction((result, cancellationToken) => Runner.RunAsync(new CliOptions(Verb.Check, result.GetValue(path)!, result.GetValue(format), result.GetValue(outputFile), false) { Configuration = result.GetValue(configuration)! }, output, error, cancellationToken));
        fix.SetAction((result, cancellationToken) => Runner.RunAsync(new CliOptions(Verb.Fix, result.GetValue(path)!, result.GetValue(format), result.GetValue(outputFile), result.GetValue(dryRun)) { FixLevel = FixLevels.Parse(result.GetValue(fixLevel)!)!.Value, Configuration = result.GetValue(configuration)! }, output, error, cancellationToken));

        var parsed = root.Parse(args);
        if (parsed.Errors.Count > 0)
        {
            await error.WriteLineAsync($"error: {parsed.Errors[0].Message.Split('\n')[0].Trim()} (see --help)");
            return ExitCodes.BadInput;
        }

        return await parsed.InvokeAsync(new InvocationConfiguration { Output = output, Error = error });
    }
}
