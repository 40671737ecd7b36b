using Microsoft.CodeAnalysis;

namespace Backpressure.Analyzers;

/// <summary>Every descriptor, built by one factory that also computes its help link.</summary>
internal static class DiagnosticDescriptors
{
    public const string HelpLinkBase = "https://github.com/backpressure-refactor/backpressure/blob/main/docs/rules/";

    public static readonly DiagnosticDescriptor BufferedAmountPolling = Create(
        DiagnosticIds.BufferedAmountPolling,
        title: "Time-based polling on a channel's buffered amount",
        messageFormat: "This {0} polls '{1}' on a timer; wait for the low-buffer event instead{2}",
        category: "Performance",
        DiagnosticSeverity.Warning,
        description: "Waiting for a send queue to drain by sleeping adds up to one interval of dead time per stall, caps throughput on fast links, burns CPU when the interval is short, and usually never notices the channel closing. Wait for the channel's buffered-amount-low event instead: Backpressure's DelayUntilBufferedAmountLowAsync / SleepUntilBufferedAmountLow in place of the timer call (the loop stays), or WaitForBufferedAmountLowAsync / SendAsync in place of the whole loop.");

    public static readonly DiagnosticDescriptor ChannelNotAdaptable = Create(
        DiagnosticIds.ChannelNotAdaptable,
        title: "Channel type cannot be adapted to IBufferedChannel",
        messageFormat: "No IBufferedChannel adapter can be generated for '{0}': {1}",
        category: "Usage",
        DiagnosticSeverity.Error,
        description: "AsBufferedChannel() asks the compile-time generator for an adapter from the channel type to Backpressure.IBufferedChannel. It needs a public integral BufferedAmount and a public synchronous Send taking bytes; the message says what is missing.");

    public static readonly DiagnosticDescriptor QueuePolling = Create(
        DiagnosticIds.QueuePolling,
        title: "Time-based polling of a queue for something to arrive",
        messageFormat: "This {0} polls '{1}' on a timer; wake when something is added instead{2}",
        category: "Performance",
        DiagnosticSeverity.Warning,
        description: "A consumer that asks a queue whether something has arrived and sleeps when it has not adds up to one interval of latency to every message and caps throughput at one message (or batch) per interval. Wake the consumer when the producer adds (a signal released at every write, BlockingCollection's TryTake with a timeout, ChannelReader's WaitToReadAsync), keeping the same bound on the wait.");

    public static string HelpLink(string id) => HelpLinkBase + id + ".md";

    private static DiagnosticDescriptor Create(
        string id, string title, string messageFormat, string category, DiagnosticSeverity severity, string description) =>
        new(id, title, messageFormat, category, severity, isEnabledByDefault: true, description, HelpLink(id));
}
