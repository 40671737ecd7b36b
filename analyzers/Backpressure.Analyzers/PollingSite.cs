namespace Backpressure.Analyzers;

/// <summary>
/// What BP0001 tells its code fix, in <see cref="Microsoft.CodeAnalysis.Diagnostic.Properties"/>.
/// The first additional location is the node the fix replaces; any further ones are statements
/// the fix keeps, in order, after the replacement.
/// </summary>
internal static class PollingSite
{
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

    public const string ReplaceWaitFix = "ReplaceWait";

    public const string WaitLoop = "WaitLoop";
    public const string BreakLoop = "BreakLoop";
    public const string IfContinue = "IfContinue";
    public const string SetTimeoutTwin = "SetTimeoutTwin";
    public const string TimerReschedule = "TimerReschedule";
    public const string ConditionalWait = "ConditionalWait";
    public const string SpinUntil = "SpinUntil";
    public const string PeriodicTimer = "PeriodicTimer";
}
