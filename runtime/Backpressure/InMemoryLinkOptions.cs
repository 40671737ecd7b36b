using System;

namespace Backpressure;

/// <summary>The shape of an <see cref="InMemoryLinkChannel"/>: its bandwidth, latency and message limit.</summary>
public sealed class InMemoryLinkOptions
{
    /// <summary>The default maximum message size: 256 KiB, as SCTP-based WebRTC stacks use.</summary>
    public const int DefaultMaxMessageSize = 256 * 1024;

    /// <summary>The longest latency a link accepts: one hour.</summary>
    public static readonly TimeSpan MaxLatency = TimeSpan.FromHours(1);

    /// <summary>Initializes a new instance of the <see cref="InMemoryLinkOptions"/> class.</summary>
    /// <param name="bitsPerSecond">The link's bandwidth: the queue drains at this rate.</param>
    /// <param name="latency">The one-way delay between a message leaving the queue and its delivery.</param>
    /// <param name="maxMessageSize">The largest message <see cref="InMemoryLinkChannel.Send"/> accepts.</param>
    /// <param name="raisesBufferedAmountLow">
    /// <see langword="false"/> makes the link behave like a channel with no low event (SIPSorcery today),
    /// so senders must fall back to pacing by drain rate.
    /// </param>
    /// <exception cref="ArgumentOutOfRangeException">The bandwidth or message size is not positive, or the latency is negative or above <see cref="MaxLatency"/>.</exception>
    public InMemoryLinkOptions(
        long bitsPerSecond,
        TimeSpan latency = default,
        int maxMessageSize = DefaultMaxMessageSize,
        bool raisesBufferedAmountLow = true)
    {
        if (bitsPerSecond <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(bitsPerSecond), bitsPerSecond, "The bandwidth must be positive.");
        }

        if (latency < TimeSpan.Zero || latency > MaxLatency)
        {
            throw new ArgumentOutOfRangeException(nameof(latency), latency, $"The latency must be between zero and {MaxLatency}.");
        }

        if (maxMessageSize <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(maxMessageSize), maxMessageSize, "The maximum message size must be positive.");
        }

        BitsPerSecond = bitsPerSecond;
        Latency = latency;
        MaxMessageSize = maxMessageSize;
        RaisesBufferedAmountLow = raisesBufferedAmountLow;
    }

    /// <summary>Gets the link's bandwidth in bits per second.</summary>
    public long BitsPerSecond { get; }

    /// <summary>Gets the one-way delay between a message leaving the queue and its delivery.</summary>
    public TimeSpan Latency { get; }

    /// <summary>Gets the largest message the link accepts.</summary>
    public int MaxMessageSize { get; }

    /// <summary>Gets a value indicating whether the link raises <see cref="IBufferedChannel.BufferedAmountLow"/>.</summary>
    public bool RaisesBufferedAmountLow { get; }
}
