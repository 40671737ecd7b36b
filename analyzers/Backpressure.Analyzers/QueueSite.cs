using System.Globalization;

namespace Backpressure.Analyzers;

/// <summary>
/// What BP0003 tells its code fix, in <see cref="Microsoft.CodeAnalysis.Diagnostic.Properties"/>: the fix it offers
/// (or why none) and its text edits, each a span of the original document and the text that replaces it.
/// Edits of several diagnostics on one queue repeat each other (the signal field, the releases): fix-all applies each once.
/// </summary>
internal static class QueueSite
{
    /// <summary>The equivalence key of the fix this site offers, when it offers one.</summary>
    public const string FixesKey = PollingSite.FixesKey;

    /// <summary>Present when the site offers no fix: why, in words a user can act on.</summary>
    public const string NoFixKey = PollingSite.NoFixKey;

    /// <summary>How many text edits the fix makes.</summary>
    public const string EditCountKey = "Edit.Count";

    /// <summary>Adds a signal beside the queue, releases it after every write, and waits on it instead of the timer.</summary>
    public const string SignalEquivalenceKey = "BP0003.Signal";

    /// <summary>Folds the sleep into BlockingCollection's own TryTake(out item, timeout).</summary>
    public const string TakeWithTimeoutEquivalenceKey = "BP0003.TakeWithTimeout";

    /// <summary>The key of the span ("start,length") the <paramref name="index"/>th edit replaces.</summary>
    public static string EditSpanKey(int index) => "Edit." + index.ToString(CultureInfo.InvariantCulture) + ".Span";

    /// <summary>The key of the text of the <paramref name="index"/>th edit.</summary>
    public static string EditTextKey(int index) => "Edit." + index.ToString(CultureInfo.InvariantCulture) + ".Text";
}
