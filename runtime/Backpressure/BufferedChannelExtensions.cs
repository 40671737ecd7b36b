using System;
using System.Buffers;
using System.IO;
using System.Threading;
using System.Threading.Tasks;
using Backpressure.Internal;

namespace Backpressure;

/// <summary>
/// Event-driven sending over an <see cref="IBufferedChannel"/>: send while the queue is under the high
/// watermark, wait for the low-buffer event when it is over, and clean up on every path.
/// </summary>
/// <remarks>
/// Transfers and waits on one channel object run one at a time, in the order they were called, so the
/// chunks of two concurrent sends never interleave. While one runs, this library owns the channel's
/// <see cref="IBufferedChannel.BufferedAmountLowThreshold"/> (it sets the threshold each time it waits,
/// and leaves the last value in place afterwards): other code should not change it meanwhile. A channel whose
/// <see cref="IBufferedChannel.SupportsBufferedAmountLowEvent"/> is <see langword="false"/> is paced by the
/// <b>drain-rate fallback</b>: the sender measures how fast the queue empties and sleeps as long as that
/// rate says the queue needs to reach the low threshold (between
/// <see cref="BackpressureOptions.FallbackMinimumDelay"/> and <see cref="BackpressureOptions.FallbackMaximumDelay"/>),
/// then checks again. Timers sleep longer than asked (15.6 ms on Windows, several ms on a busy machine), so
/// on a fast link <c>SendAsync</c> raises its thresholds until the queue outlasts the sleep it measured,
/// to at most 16 times the low threshold, and a derived high watermark with them (a given one stays the
/// bound; see <see cref="BackpressureOptions.HighWatermarkIsDerived"/>). <c>WaitForBufferedAmountLowAsync</c>
/// never does, as its threshold is the caller's condition. It is a fallback: a channel that raises the event never uses it.
/// <para>
/// The <b>bounded waits</b>, <c>DelayUntilBufferedAmountLowAsync</c> and <c>SleepUntilBufferedAmountLow</c>, are
/// something else: drop-in replacements for the <c>Task.Delay</c> or <c>Thread.Sleep</c> inside a caller's own
/// polling loop. They wait no longer than the delay they replace, wake early when the queue drains, never throw for
/// the channel's state, and do not queue behind transfers.
/// </para>
/// </remarks>
public static partial class BufferedChannelExtensions
{
    /// <summary>
    /// Sends <paramref name="data"/> in chunks, pausing whenever the channel's queue is over the high
    /// watermark until the channel reports it has drained to the low threshold.
    /// </summary>
    /// <param name="channel">The channel.</param>
    /// <param name="data">The payload. It must not change until the returned task completes.</param>
    /// <param name="options">The pacing; <see cref="BackpressureOptions.Default"/> when <see langword="null"/>.</param>
    /// <param name="progress">Receives the number of bytes handed to the channel so far, after each chunk.</param>
    /// <param name="cancellationToken">Stops the transfer between chunks or while it waits.</param>
    /// <returns>A task that completes once every byte has been handed to the channel.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="channel"/> is <see langword="null"/>.</exception>
    /// <exception cref="ChannelClosedException">The channel was closing or closed before the last chunk was sent.</exception>
    /// <exception cref="ChannelErrorException">The channel reported an error, or its <c>Send</c> threw.</exception>
    /// <exception cref="BufferedChannelException">The channel was not open yet.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public static Task SendAsync(
        this IBufferedChannel channel,
        ReadOnlyMemory<byte> data,
        BackpressureOptions? options = null,
        IProgress<long>? progress = null,
        CancellationToken cancellationToken = default)
    {
        if (channel is null)
        {
            throw new ArgumentNullException(nameof(channel));
        }

        return SendMemoryAsync(channel, data, options ?? BackpressureOptions.Default, progress, cancellationToken);
    }

    /// <summary>
    /// Sends everything <paramref name="source"/> yields until its end, in chunks, with the same pacing as
    /// <see cref="SendAsync(IBufferedChannel, ReadOnlyMemory{byte}, BackpressureOptions?, IProgress{long}?, CancellationToken)"/>.
    /// The stream's length need not be known; at most one chunk of it is held in memory (a pooled buffer).
    /// </summary>
    /// <param name="channel">The channel.</param>
    /// <param name="source">The stream to read from; it is read to its end and not disposed.</param>
    /// <param name="options">The pacing; <see cref="BackpressureOptions.Default"/> when <see langword="null"/>.</param>
    /// <param name="progress">Receives the number of bytes handed to the channel so far, after each chunk.</param>
    /// <param name="cancellationToken">
    /// Stops the transfer between chunks, while it waits, or while it reads (on .NET Framework, a stream
    /// that does not override <c>ReadAsync</c> sees it only between reads).
    /// </param>
    /// <returns>A task that completes once the stream has ended and every byte has been handed to the channel.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="channel"/> or <paramref name="source"/> is <see langword="null"/>.</exception>
    /// <exception cref="ChannelClosedException">The channel was closing or closed before the last chunk was sent.</exception>
    /// <exception cref="ChannelErrorException">The channel reported an error, or its <c>Send</c> threw.</exception>
    /// <exception cref="BufferedChannelException">The channel was not open yet.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    /// <remarks>
    /// Exceptions thrown by <paramref name="source"/> propagate unchanged. A read still pending when the
    /// channel closes or fails is cancelled, and the transfer faults with the channel's exception.
    /// </remarks>
    public static Task SendAsync(
        this IBufferedChannel channel,
        Stream source,
        BackpressureOptions? options = null,
        IProgress<long>? progress = null,
        CancellationToken cancellationToken = default)
    {
        if (channel is null)
        {
            throw new ArgumentNullException(nameof(channel));
        }

        if (source is null)
        {
            throw new ArgumentNullException(nameof(source));
        }

        return SendStreamAsync(channel, source, options ?? BackpressureOptions.Default, progress, cancellationToken);
    }

    /// <summary>
    /// Completes once the channel's buffered amount is at or below <paramref name="threshold"/>: the
    /// event-driven replacement for <c>while (channel.BufferedAmount &gt; threshold) await Task.Delay(...)</c>.
    /// </summary>
    /// <param name="channel">The channel.</param>
    /// <param name="threshold">The buffered amount to wait for; written to the channel's low threshold when the wait cannot complete at once.</param>
    /// <param name="cancellationToken">Stops the wait.</param>
    /// <returns>A task that completes when the channel is ready for more data.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="channel"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="threshold"/> is negative.</exception>
    /// <exception cref="BufferedChannelException">The channel is not open, closed while waiting, or reported an error.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public static ValueTask WaitForBufferedAmountLowAsync(this IBufferedChannel channel, long threshold, CancellationToken cancellationToken = default) =>
        WaitForBufferedAmountLowAsync(channel, threshold, TimeProvider.System, cancellationToken);

    /// <summary>
    /// Completes once the channel's buffered amount is at or below <paramref name="threshold"/>, for code whose
    /// thresholds are <see cref="ulong"/> (SIPSorcery's <c>bufferedAmountLowThreshold</c>). A threshold above
    /// <see cref="long.MaxValue"/> counts as <see cref="long.MaxValue"/>: every queue is under it.
    /// </summary>
    /// <param name="channel">The channel.</param>
    /// <param name="threshold">The buffered amount to wait for.</param>
    /// <param name="cancellationToken">Stops the wait.</param>
    /// <returns>A task that completes when the channel is ready for more data.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="channel"/> is <see langword="null"/>.</exception>
    /// <exception cref="BufferedChannelException">The channel is not open, closed while waiting, or reported an error.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public static ValueTask WaitForBufferedAmountLowAsync(this IBufferedChannel channel, ulong threshold, CancellationToken cancellationToken = default) =>
        WaitForBufferedAmountLowAsync(channel, threshold > long.MaxValue ? long.MaxValue : (long)threshold, TimeProvider.System, cancellationToken);

    /// <summary>
    /// Completes once the channel's buffered amount is at or below <paramref name="threshold"/>, using
    /// <paramref name="timeProvider"/> for the no-event fallback's clock.
    /// </summary>
    /// <param name="channel">The channel.</param>
    /// <param name="threshold">The buffered amount to wait for; written to the channel's low threshold when the wait cannot complete at once.</param>
    /// <param name="timeProvider">The clock and timers of the no-event fallback.</param>
    /// <param name="cancellationToken">Stops the wait.</param>
    /// <returns>A task that completes when the channel is ready for more data.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="channel"/> or <paramref name="timeProvider"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="threshold"/> is negative.</exception>
    /// <exception cref="BufferedChannelException">The channel is not open, closed while waiting, or reported an error.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public static ValueTask WaitForBufferedAmountLowAsync(
        this IBufferedChannel channel, long threshold, TimeProvider timeProvider, CancellationToken cancellationToken = default)
    {
        if (channel is null)
        {
            throw new ArgumentNullException(nameof(channel));
        }

        if (timeProvider is null)
        {
            throw new ArgumentNullException(nameof(timeProvider));
        }

        if (threshold < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(threshold), threshold, "The threshold must not be negative.");
        }

        // The common case, a queue already low and no transfer running, completes synchronously.
        if (!cancellationToken.IsCancellationRequested
            && channel.State == BufferedChannelState.Open
            && channel.BufferedAmount <= threshold)
        {
            var gate = ChannelCoordinator.For(channel).Gate;
            if (gate.TryAcquire())
            {
                gate.Release();
                return default;
            }
        }

        return WaitCoreAsync(channel, threshold, timeProvider, cancellationToken);
    }

    private static async Task SendMemoryAsync(
        IBufferedChannel channel, ReadOnlyMemory<byte> data, BackpressureOptions options, IProgress<long>? progress, CancellationToken cancellationToken)
    {
        using var transfer = await Transfer.BeginAsync(channel, options.LowThreshold, options.ChunkSize, options.TimeProvider, cancellationToken).ConfigureAwait(false);
        transfer.ThrowIfStopped(0);

        // Between waits this loop runs only this library's code and the channel's, unless progress is reported to
        // code of the caller's (a Progress<long> posts its callbacks elsewhere, so it runs none here).
        if (progress is null || progress.GetType() == typeof(Progress<long>))
        {
            transfer.ResumeOnLowEvent();
        }

        try
        {
            var sent = 0;
            while (sent < data.Length)
            {
                await transfer.WaitForSendRoomAsync(options, sent).ConfigureAwait(false);
                var length = Math.Min(transfer.ChunkSize, data.Length - sent);
                transfer.Send(data.Slice(sent, length), sent);
                sent += length;
                progress?.Report(sent);
            }
        }
        finally
        {
            // Whether it ends or fails, the task completes off the channel's thread.
            await transfer.LeaveEventThreadAsync().ConfigureAwait(false);
        }
    }

    private static async Task SendStreamAsync(
        IBufferedChannel channel, Stream source, BackpressureOptions options, IProgress<long>? progress, CancellationToken cancellationToken)
    {
        using var transfer = await Transfer.BeginAsync(channel, options.LowThreshold, options.ChunkSize, options.TimeProvider, cancellationToken).ConfigureAwait(false);
        transfer.ThrowIfStopped(0);

        var buffer = ArrayPool<byte>.Shared.Rent(transfer.ChunkSize);
        var readToken = transfer.CreateReadToken();
        long sent = 0;
        try
        {
            while (true)
            {
                // Reading before waiting lets the next chunk load while the queue drains.
                int length;
                try
                {
                    length = await ReadChunkAsync(source, buffer, transfer.ChunkSize, readToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException ex)
                {
                    transfer.ThrowIfReadStoppedByChannel(ex, sent);
                    throw;
                }

                if (length == 0)
                {
                    return;
                }

                await transfer.WaitForSendRoomAsync(options, sent).ConfigureAwait(false);
                transfer.Send(new ReadOnlyMemory<byte>(buffer, 0, length), sent);
                sent += length;
                progress?.Report(sent);
            }
        }
        finally
        {
            // The channel copies on Send, so the buffer is free again.
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static async ValueTask WaitCoreAsync(IBufferedChannel channel, long threshold, TimeProvider timeProvider, CancellationToken cancellationToken)
    {
        using var transfer = await Transfer.BeginAsync(channel, threshold, chunkSize: null, timeProvider, cancellationToken).ConfigureAwait(false);
        await transfer.WaitForRoomAsync(threshold, threshold, 0).ConfigureAwait(false);
    }

    /// <summary>Reads until <paramref name="count"/> bytes or the end of the stream, so every chunk but the last is full.</summary>
    private static async ValueTask<int> ReadChunkAsync(Stream source, byte[] buffer, int count, CancellationToken cancellationToken)
    {
        var total = 0;
        while (total < count)
        {
#if NET
            var read = await source.ReadAsync(buffer.AsMemory(total, count - total), cancellationToken).ConfigureAwait(false);
#else
            var read = await source.ReadAsync(buffer, total, count - total, cancellationToken).ConfigureAwait(false);
#endif
            if (read == 0)
            {
                break;
            }

            total += read;
        }

        return total;
    }
}
