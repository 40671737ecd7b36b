using System.CommandLine;
using System.CommandLine.Help;
using System.Runtime.InteropServices;
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

        // Ctrl-C asks the run to stop (it rolls back any write under way and exits 130) instead of killing
        // the process part-way through replacing files.
        using var interrupted = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) =>
        {
            e.Cancel = true;
            interrupted.Cancel();
        };
        using var terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context =>
        {
            context.Cancel = true;
            interrupted.Cancel();
        });
        return await RunAsync(args, Console.Out, Console.Error, interrupted.Token);
    }

    /// <summary>The whole tool, with its output and error streams given: what the tests call.</summary>
    public static async Task<int> RunAsync(string[] args, TextWriter output, TextWriter error, CancellationToken cancellationToken = default)
    {
        var path = new Argument<string>("path") { Description = "A .sln, .slnx or .csproj; or a folder holding one of them, or only loose .cs files." };
        var format = new Option<string>("--format") { Description = "text (MSBuild-style lines, the default), json or sarif (SARIF 2.1.0).", DefaultValueFactory = _ => "text" };
        format.Validators.Add(result =>
        {
            if (ParseFormat(result.GetValueOrDefault<string>()) is null)
            {
                result.AddError($"unknown --format '{result.GetValueOrDefault<string>()}': choose text, json or sarif.");
            }
        });
        var outputFile = new Option<string?>("--output") { Description = "Write the report to this file instead of the console (never one of the inputs)." };
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
            Description = "The most complete rewrite to apply at a BP0001 site: bounded-wait (only the timer call), wait (the wait loop), send-loop (the whole send loop; the default). Each site gets the most complete one it offers at or below this. A BP0003 site gets the one rewrite it offers, whatever the level.",
            DefaultValueFactory = _ => "send-loop",
        };
        fixLevel.Validators.Add(result =>
        {
            if (FixLevels.Parse(result.GetValueOrDefault<string>() ?? string.Empty) is null)
            {
                result.AddError($"unknown --fix-level '{result.GetValueOrDefault<string>()}': choose bounded-wait, wait or send-loop.");
            }
        });

        var allRules = string.Join(",", Rule.All.Select(r => r.Id));
        var diagnostics = new Option<string>("--diagnostics")
        {
            Description = "The rules to run, as comma-separated ids; the default is every rule the tool knows.",
            DefaultValueFactory = _ => allRules,
        };
        diagnostics.Validators.Add(result =>
        {
            if (Rule.Parse(result.GetValueOrDefault<string>(), out var problem).IsEmpty)
            {
                result.AddError(problem!);
            }
        });

        var check = new Command("check", "Report BP0001 sites (time-based polling on a channel's buffered amount) and BP0003 sites (a consumer polling a queue on a timer).") { path, format, outputFile, configuration, diagnostics };
        var fix = new Command("fix", "Rewrite BP0001 and BP0003 sites into event-driven waits, only if the result compiles with no new error.") { path, format, outputFile, configuration, diagnostics, dryRun, fixLevel };

        // A plain command, not RootCommand, whose name would be the assembly's (Backpressure.Cli) in --help.
        var root = new Command("backpressure", $"Finds and fixes send-queue polling (BP0001) and receive-queue polling (BP0003), Roslyn-checked. {ExitCodes.Help}") { check, fix };
        root.Options.Add(new HelpOption());
        root.Options.Add(new VersionOption());

        CliOptions Options(ParseResult result, Verb verb) =>
            new(verb, result.GetValue(path)!, ParseFormat(result.GetValue(format))!.Value, result.GetValue(outputFile), verb == Verb.Fix && result.GetValue(dryRun))
            {
                FixLevel = verb == Verb.Fix ? FixLevels.Parse(result.GetValue(fixLevel)!)!.Value : FixLevel.SendLoop,
                Configuration = result.GetValue(configuration)!,
                Rules = Rule.Parse(result.GetValue(diagnostics), out _),
            };

        // The token is the caller's (Main's Ctrl-C), not the parser's, which would end the process after a timeout.
        check.SetAction((result, _) => Runner.RunAsync(Options(result, Verb.Check), output, error, cancellationToken));
        fix.SetAction((result, _) => Runner.RunAsync(Options(result, Verb.Fix), output, error, cancellationToken));

        var parsed = root.Parse(args);
        if (parsed.Errors.Count > 0)
        {
            await error.WriteLineAsync($"error: {parsed.Errors[0].Message.Split('\n')[0].Trim()} (see --help)");
            return ExitCodes.BadInput;
        }

        return await parsed.InvokeAsync(new InvocationConfiguration { Output = output, Error = error, ProcessTerminationTimeout = null });
    }

    private static ReportFormat? ParseFormat(string? value) => value switch
    {
        "text" => ReportFormat.Text,
        "json" => ReportFormat.Json,
        "sarif" => ReportFormat.Sarif,
        _ => null,
    };
}
