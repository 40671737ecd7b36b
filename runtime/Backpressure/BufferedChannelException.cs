using System;

namespace Backpressure;

/// <summary>
/// A transfer over an <see cref="IBufferedChannel"/> failed. <see cref="BytesSent"/> says how much of the
/// payload was handed to the channel before the failure, so callers can resume or report.
/// </summary>
public class BufferedChannelException : Exception
{
    /// <summary>Initializes a new instance of the <see cref="BufferedChannelException"/> class.</summary>
    /// <param name="message">What went wrong.</param>
    /// <param name="bytesSent">Bytes handed to the channel before the failure.</param>
    /// <param name="innerException">The exception behind the failure, when there is one.</param>
    public BufferedChannelException(string message, long bytesSent, Exception? innerException = null)
        : base(message, innerException)
    {
        BytesSent = bytesSent;
    }

    /// <summary>Gets the number of payload bytes handed to the channel's <c>Send</c> before the failure.</summary>
    public long BytesSent { get; }
}
