namespace Backpressure.Analyzers;

/// <summary>The ids of every rule this package reports.</summary>
public static class DiagnosticIds
{
    /// <summary>Time-based polling on a channel's buffered amount.</summary>
    public const string BufferedAmountPolling = "BP0001";

    /// <summary>A type asked for as a buffered channel that no adapter can be generated for.</summary>
    public const string ChannelNotAdaptable = "BP0002";

    /// <summary>Time-based polling of a queue (or socket) for something to arrive.</summary>
    public const string QueuePolling = "BP0003";
}
