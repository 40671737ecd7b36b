using System;

namespace Backpressure;

/// <summary>Options of the built-in transports (<see cref="StreamMessageChannel"/>, <see cref="WebSocketMessageChannel"/>).</summary>
public sealed class MessageChannelOptions
{
    /// <summary>The default maximum message size: 1 MiB.</summary>
    public const int DefaultMaxMessageSize = 1024 * 1024;

    /// <summary>Initializes a new instance of the <see cref="MessageChannelOptions"/> class.</summary>
    /// <param name="maxMessageSize">The largest message sent or accepted; a larger incoming one fails the channel.</param>
    /// <param name="leaveOpen">Whether closing the channel leaves the underlying stream open.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxMessageSize"/> is not positive.</exception>
    public MessageChannelOptions(int maxMessageSize = DefaultMaxMessageSize, bool leaveOpen = false)
    {
        if (maxMessageSize <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(maxMessageSize), maxMessageSize, "The maximum message size must be positive.");
        }

        MaxMessageSize = maxMessageSize;
        LeaveOpen = leaveOpen;
    }

    /// <summary>Gets the options used when none are given.</summary>
    public static MessageChannelOptions Default { get; } = new();

    /// <summary>Gets the largest message sent or accepted.</summary>
    public int MaxMessageSize { get; }

    /// <summary>Gets a value indicating whether closing the channel leaves the underlying stream open.</summary>
    public bool LeaveOpen { get; }
}
