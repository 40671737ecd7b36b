namespace Backpressure;

/// <summary>
/// Optional on an <see cref="IBufferedChannel"/>: says whether a <see cref="IBufferedChannel.BufferedAmountLow"/>
/// handler may call <see cref="IBufferedChannel.Send"/> on the thread that raised the event, as a browser's
/// <c>onbufferedamountlow</c> handler may.
/// </summary>
/// <remarks>
/// <para>
/// When it may, <c>SendAsync</c> of a payload in memory refills the queue inside the handler instead of waking a
/// thread-pool thread to do it: on a fast link the queue left at the low threshold lasts microseconds (64 KiB,
/// 52 µs at 10 Gbit/s), less than a wake-up often takes. Only this library's code and the channel's own members run
/// there: a transfer that reports progress to code of the caller's, or reads from a stream, always resumes on the thread
/// pool, and the task <c>SendAsync</c> returns never completes on the channel's thread. The netstandard2.0 build
/// resumes on the thread pool, as for any other channel, when the raising thread has a synchronization context.
/// </para>
/// <para>
/// Return <see langword="true"/> only if the channel raises the event holding no lock that <c>Send</c> waits for,
/// <c>Send</c> never waits for the thread that raises it, and that thread's time is not what the link waits for: a
/// writer loop that raises the event would copy the sender's chunks instead of writing (this library's own
/// <see cref="QueuedMessageChannel"/> transports therefore do not implement it; <see cref="InMemoryLinkChannel"/> does,
/// its thread keeps the link's time by the clock). Channels that do not implement this interface are treated as
/// answering <see langword="false"/>.
/// </para>
/// </remarks>
public interface ILowEventSendChannel : IBufferedChannel
{
    /// <summary>
    /// Gets a value indicating whether a <see cref="IBufferedChannel.BufferedAmountLow"/> handler may call
    /// <see cref="IBufferedChannel.Send"/> on the thread that raised the event.
    /// </summary>
    bool AllowsSendFromLowEvent { get; }
}
