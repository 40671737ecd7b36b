namespace Backpressure.Analyzers;

/// <summary>
/// What BP0001 tells its code fix, in <see cref="Microsoft.CodeAnalysis.Diagnostic.Properties"/>.
/// The first additional location is the node the fix replaces; any further ones are statements
/// the fix keeps, in order, after the replacement.
/// </summary>
internal static class PollingSite
{
    /// <summary>The key of the span ("start,length") of the <paramref name="index"/>th timer call the bounded wait replaces.</summary>
    public static string BoundedWaitSpanKey(int index) => "BoundedWait." + index.ToString(System.Globalization.CultureInfo.InvariantCulture) + ".Span";

    /// <summary>The key of the code that replaces the <paramref name="index"/>th timer call.</summary>
    public static string BoundedWaitReplacementKey(int index) => "BoundedWait." + index.ToString(System.Globalization.CultureInfo.InvariantCulture) + ".Replacement";

    /// <summary>The shape found (one of the constants below).</summary>
    public const string ShapeKey = "Shape";

    /// <summary>Present when a fix keeps the program's meaning: the fix's kind.</summary>
    public const string FixKey = "Fix";

    /// <summary>The code that replaces the first additional location.</summary>
    public const string ReplacementKey = "Replacement";

    /// <summary>Present when the whole chunked-send loop around the wait can become one SendAsync call.</summary>
    public const string SendLoopReplacementKey = "SendLoopReplacement";

    /// <summary>The span, "start,length", of the send loop that <see cref="SendLoopReplacementKey"/> replaces.</summary>
    public const string SendLoopSpanKey = "SendLoopSpan";

    /// <summary>Spans, "start,length;start,length", of statements the send-loop rewrite removes besides the one it replaces.</summary>
    public const string SendLoopRemoveKey = "SendLoopRemove";

    /// <summary>The equivalence keys of the fixes this site offers, separated by ';', least complete first.</summary>
    public const string FixesKey = "Fixes";

    /// <summary>Present when the site offers no fix: why, in words a user can act on.</summary>
    public const string NoFixKey = "NoFix";

    /// <summary>The reason a site has no fix when the project lacks the runtime, naming the one command that mends it.</summary>
    public const string MissingRuntimeReason = "the project does not reference the runtime package: run 'dotnet add package Backpressure'";

    /// <summary>How the message ends when the site has no fix: the reason follows, then a closing parenthesis.</summary>
    public const string NoFixMessagePrefix = " (no automatic fix: ";

    /// <summary>How many timer calls the bounded-wait fix replaces; each has a span and a replacement, numbered from 0.</summary>
    public const string BoundedWaitCountKey = "BoundedWait.Count";

    public const string ReplaceWaitFix = "ReplaceWait";

    /// <summary>Replaces only the timer call with a wait bounded by the same time that ends early when the queue is low.</summary>
    public const string BoundedWaitEquivalenceKey = "BP0001.BoundedWait";

    /// <summary>Replaces the whole wait loop with one event-driven wait.</summary>
    public const string ReplaceWaitEquivalenceKey = "BP0001.ReplaceWait";

    /// <summary>Replaces the whole chunked-send loop with one SendAsync.</summary>
    public const string ReplaceSendLoopEquivalenceKey = "BP0001.ReplaceSendLoop";

    public const string Loop = "Loop";
    public const string Coroutine = "Coroutine";

    public const string WaitLoop = "WaitLoop";
    public const string BreakLoop = "BreakLoop";
    public const string IfContinue = "IfContinue";
    public const string SetTimeoutTwin = "SetTimeoutTwin";
    public const string TimerReschedule = "TimerReschedule";
    public const string ConditionalWait = "ConditionalWait";
    public const string SpinUntil = "SpinUntil";
    public const string PeriodicTimer = "PeriodicTimer";
}
