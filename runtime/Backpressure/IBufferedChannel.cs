using System;

namespace Backpressure;

/// <summary>
/// A message channel with a send queue, modelled on the W3C <c>RTCDataChannel</c> in .NET naming.
/// </summary>
/// <remarks>
/// <para>
/// Implementations may raise their events on any thread. Handlers attached by this library only
/// record a signal and return: they never block and never throw. The one exception is a channel that
/// implements <see cref="ILowEventSendChannel"/> and allows it: there a <see cref="BufferedAmountLow"/>
/// handler may also send the next chunks of a payload in memory before it returns.
/// </para>
/// <para>
/// A channel that cannot raise <see cref="BufferedAmountLow"/> (SIPSorcery's <c>RTCDataChannel</c>
/// today) returns <see langword="false"/> from <see cref="SupportsBufferedAmountLowEvent"/>; the sender
/// then uses its documented drain-rate fallback instead of the event.
/// </para>
/// </remarks>
public interface IBufferedChannel
{
    /// <summary>Gets the number of bytes handed to <see cref="Send"/> and not yet transmitted.</summary>
    long BufferedAmount { get; }

    /// <summary>
    /// Gets or sets the threshold at or below which the queue counts as low: <see cref="BufferedAmountLow"/>
    /// is raised when <see cref="BufferedAmount"/> decreases from above this value to at or below it.
    /// </summary>
    long BufferedAmountLowThreshold { get; set; }

    /// <summary>
    /// Gets a value indicating whether the channel raises <see cref="BufferedAmountLow"/>. When
    /// <see langword="false"/>, subscribing to the event is allowed but it never fires.
    /// </summary>
    bool SupportsBufferedAmountLowEvent { get; }

    /// <summary>Gets the channel's state.</summary>
    BufferedChannelState State { get; }

    /// <summary>Gets the largest message, in bytes, that <see cref="Send"/> accepts (<see cref="int.MaxValue"/> when unlimited).</summary>
    int MaxMessageSize { get; }

    /// <summary>
    /// Raised, on any thread, when <see cref="BufferedAmount"/> crosses from above
    /// <see cref="BufferedAmountLowThreshold"/> to at or below it.
    /// </summary>
    event EventHandler? BufferedAmountLow;

    /// <summary>Raised, on any thread, once the channel has closed.</summary>
    event EventHandler? Closed;

    /// <summary>Raised, on any thread, when the channel reports an error.</summary>
    event EventHandler<BufferedChannelErrorEventArgs>? Error;

    /// <summary>
    /// Queues one message for transmission. The channel copies what it needs before returning: the
    /// caller may reuse <paramref name="message"/> afterwards.
    /// </summary>
    /// <param name="message">The message; at most <see cref="MaxMessageSize"/> bytes.</param>
    void Send(ReadOnlyMemory<byte> message);

    /// <summary>Starts closing the channel; <see cref="Closed"/> is raised when it has closed.</summary>
    void Close();
}
