using System;

namespace Backpressure;

/// <summary>
/// The channel reported an error, or its <see cref="IBufferedChannel.Send"/> threw, before the transfer finished.
/// </summary>
public sealed class ChannelErrorException : BufferedChannelException
{
    /// <summary>Initializes a new instance of the <see cref="ChannelErrorException"/> class.</summary>
    /// <param name="message">What went wrong.</param>
    /// <param name="bytesSent">Bytes handed to the channel before the error.</param>
    /// <param name="channelError">The channel's own description of the error, when it reported one.</param>
    /// <param name="innerException">The exception behind the failure, when there is one.</param>
    public ChannelErrorException(string message, long bytesSent, string? channelError = null, Exception? innerException = null)
        : base(message, bytesSent, innerException)
    {
        ChannelError = channelError;
    }

    /// <summary>Gets the channel's own description of the error, or <see langword="null"/> when <c>Send</c> threw.</summary>
    public string? ChannelError { get; }
}
