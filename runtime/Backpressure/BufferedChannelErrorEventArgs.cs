using System;

namespace Backpressure;

/// <summary>Describes an error reported by an <see cref="IBufferedChannel"/>.</summary>
public sealed class BufferedChannelErrorEventArgs : EventArgs
{
    /// <summary>Initializes a new instance of the <see cref="BufferedChannelErrorEventArgs"/> class.</summary>
    /// <param name="message">The channel's description of the error.</param>
    /// <param name="exception">The exception behind the error, when there is one.</param>
    public BufferedChannelErrorEventArgs(string message, Exception? exception = null)
    {
        Message = message ?? throw new ArgumentNullException(nameof(message));
        Exception = exception;
    }

    /// <summary>Gets the channel's description of the error.</summary>
    public string Message { get; }

    /// <summary>Gets the exception behind the error, when there is one.</summary>
    public Exception? Exception { get; }
}
