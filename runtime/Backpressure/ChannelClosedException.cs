using System;

namespace Backpressure;

/// <summary>The channel was closing or closed before the transfer finished.</summary>
public sealed class ChannelClosedException : BufferedChannelException
{
    /// <summary>Initializes a new instance of the <see cref="ChannelClosedException"/> class.</summary>
    /// <param name="message">What went wrong.</param>
    /// <param name="bytesSent">Bytes handed to the channel before it closed.</param>
    /// <param name="innerException">The exception behind the failure, when there is one.</param>
    public ChannelClosedException(string message, long bytesSent, Exception? innerException = null)
        : base(message, bytesSent, innerException)
    {
    }
}
