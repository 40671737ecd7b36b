namespace Backpressure;

/// <summary>The state of an <see cref="IBufferedChannel"/>, as the W3C <c>RTCDataChannelState</c>.</summary>
public enum BufferedChannelState
{
    /// <summary>The channel is being established; nothing can be sent yet.</summary>
    Connecting,

    /// <summary>The channel is open and accepts messages.</summary>
    Open,

    /// <summary>The channel is closing; messages sent now may be lost.</summary>
    Closing,

    /// <summary>The channel is closed.</summary>
    Closed,
}
