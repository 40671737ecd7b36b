using System.Collections.Immutable;
using Backpressure.Analyzers;
using Backpressure.CodeFixes;
using Microsoft.CodeAnalysis;

namespace Backpressure.Cli;

/// <summary>How far <c>fix</c> may go at one site, from the least to the most complete rewrite.</summary>
public enum FixLevel
{
    /// <summary>Only the timer call becomes an event-driven wait bounded by the same delay.</summary>
    BoundedWait,

    /// <summary>The wait loop becomes one awaited wait for the low-buffer event.</summary>
    Wait,

    /// <summary>The whole chunked-send loop becomes one SendAsync.</summary>
    SendLoop,
}

/// <summary>
/// BP0001's rewrites, by equivalence key, and which one a site gets at a given level. Other rules' rewrites
/// (BP0003's) have no levels: --fix-level does not govern them, and a site gets the one it offers.
/// </summary>
public static class FixLevels
{
    public const string BoundedWaitKey = BP0001BufferedAmountPollingCodeFix.BoundedWaitEquivalenceKey;
    public const string ReplaceWaitKey = BP0001BufferedAmountPollingCodeFix.ReplaceWaitEquivalenceKey;
    public const string ReplaceSendLoopKey = BP0001BufferedAmountPollingCodeFix.ReplaceSendLoopEquivalenceKey;

    /// <summary>The analyzer's property listing a site's equivalence keys, separated by ';'.</summary>
    public const string FixesProperty = PollingSite.FixesKey;

    /// <summary>The analyzer's property saying, for people, why a site has no rewrite.</summary>
    public const string NoFixProperty = PollingSite.NoFixKey;

    /// <summary>BP0001's keys in level order: a key's index is the lowest <see cref="FixLevel"/> that allows it.</summary>
    public static readonly ImmutableArray<string> Keys = [BoundedWaitKey, ReplaceWaitKey, ReplaceSendLoopKey];

    public static string OptionValue(FixLevel level) => level switch
    {
        FixLevel.BoundedWait => "bounded-wait",
        FixLevel.Wait => "wait",
        _ => "send-loop",
    };

    public static FixLevel? Parse(string value) => value switch
    {
        "bounded-wait" => FixLevel.BoundedWait,
        "wait" => FixLevel.Wait,
        "send-loop" => FixLevel.SendLoop,
        _ => null,
    };

    /// <summary>The equivalence keys the site's rule offers at this site, from the analyzer's <see cref="FixesProperty"/>.</summary>
    public static ImmutableArray<string> Offered(Diagnostic diagnostic) =>
        diagnostic.Properties.TryGetValue(FixesProperty, out var fixes) && fixes is not null
            ? [.. fixes.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Where(Rule.Of(diagnostic.Id).FixKeys.Contains)]
            : [];

    /// <summary>The most complete rewrite offered at the site that <paramref name="level"/> allows, or null.</summary>
    public static string? Choose(Diagnostic diagnostic, FixLevel level) =>
        Offered(diagnostic).Where(key => Rank(key) <= (int)level).OrderByDescending(Rank).FirstOrDefault();

    /// <summary>The lowest level that allows <paramref name="key"/>, one of BP0001's.</summary>
    public static FixLevel LevelOf(string key) => (FixLevel)Rank(key);

    /// <summary>How complete a rewrite is, for ordering: BP0001's by level, -1 for a key without levels (every level allows it).</summary>
    public static int Rank(string key) => Keys.IndexOf(key);
}
