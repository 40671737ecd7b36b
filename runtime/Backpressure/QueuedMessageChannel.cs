using System;
using System.Buffers;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;

namespace Backpressure;

/// <summary>
/// The base of a message channel over a transport that writes asynchronously: <see cref="Send"/> copies
/// each message into a queue, a writer loop hands the queue to the transport one message at a time, and
/// <see cref="BufferedAmount"/> is the bytes queued but not yet written. The low event is raised from the
/// writer loop when the amount crosses the threshold; a reader loop delivers incoming messages and
/// notices the remote end closing. Derived classes supply the framing.
/// </summary>
/// <remarks>
/// <see cref="Close"/> is abortive: messages still queued are dropped. To close after everything was
/// written, await <c>WaitForBufferedAmountLowAsync(0)</c> first.
/// </remarks>
public abstract class QueuedMessageChannel : IBufferedChannel, IDisposable
{
    private readonly object _lock = new();
    private readonly Queue<(byte[] Buffer, int Length)> _queue = new();
    private readonly SemaphoreSlim _pending = new(0, int.MaxValue);
    private readonly CancellationTokenSource _stop = new();
    private readonly Action<ReadOnlyMemory<byte>>? _onMessage;
    private long _buffered;
    private long _threshold;
    private long _peakBuffered;
    private int _state = (int)BufferedChannelState.Open;
    private int _finished;
    private Task _loops = Task.CompletedTask;

    /// <summary>Initializes a new instance of the <see cref="QueuedMessageChannel"/> class.</summary>
    /// <param name="options">The message limit; <see cref="MessageChannelOptions.Default"/> when <see langword="null"/>.</param>
    /// <param name="onMessage">Receives each incoming message, in order, on the reader loop; the memory is reused afterwards.</param>
    protected QueuedMessageChannel(MessageChannelOptions? options, Action<ReadOnlyMemory<byte>>? onMessage)
    {
        Options = options ?? MessageChannelOptions.Default;
        _onMessage = onMessage;
    }

    /// <inheritdoc/>
    public event EventHandler? BufferedAmountLow;

    /// <inheritdoc/>
    public event EventHandler? Closed;

    /// <inheritdoc/>
    public event EventHandler<BufferedChannelErrorEventArgs>? Error;

    /// <summary>Gets the channel's options.</summary>
    public MessageChannelOptions Options { get; }

    /// <inheritdoc/>
    public long BufferedAmount => Volatile.Read(ref _buffered);

    /// <inheritdoc/>
    public long BufferedAmountLowThreshold
    {
        get => Volatile.Read(ref _threshold);
        set => Volatile.Write(ref _threshold, value >= 0 ? value : throw new ArgumentOutOfRangeException(nameof(value), value, "The threshold must not be negative."));
    }

    /// <inheritdoc/>
    public bool SupportsBufferedAmountLowEvent => true;

    /// <inheritdoc/>
    public BufferedChannelState State => (BufferedChannelState)Volatile.Read(ref _state);

    /// <inheritdoc/>
    public int MaxMessageSize => Options.MaxMessageSize;

    /// <summary>Gets the largest buffered amount the channel has held, right after a <see cref="Send"/>.</summary>
    public long PeakBufferedAmount => Volatile.Read(ref _peakBuffered);

    /// <summary>Gets a task that completes when the channel's loops have ended (after a close or a failure).</summary>
    public Task Completion => _loops;

    /// <summary>Gets the number of bytes of framing written before each message.</summary>
    protected virtual int FrameHeaderSize => 0;

    /// <inheritdoc/>
    /// <exception cref="ArgumentException">The message is larger than <see cref="MaxMessageSize"/>.</exception>
    /// <exception cref="InvalidOperationException">The channel is not open.</exception>
    public void Send(ReadOnlyMemory<byte> message)
    {
        if (message.Length > Options.MaxMessageSize)
        {
            throw new ArgumentException($"The message is {message.Length} bytes; the channel accepts at most {Options.MaxMessageSize}.", nameof(message));
        }

        var header = FrameHeaderSize;
        var buffer = ArrayPool<byte>.Shared.Rent(header + message.Length);
        WriteFrameHeader(buffer.AsSpan(0, header), message.Length);
        message.Span.CopyTo(buffer.AsSpan(header));
        lock (_lock)
        {
            if (_state != (int)BufferedChannelState.Open)
            {
                ArrayPool<byte>.Shared.Return(buffer);
                throw new InvalidOperationException($"The channel is {State.ToString().ToLowerInvariant()}.");
            }

            _queue.Enqueue((buffer, header + message.Length));

            // Interlocked: the writer loop subtracts without taking the lock.
            var buffered = Interlocked.Add(ref _buffered, message.Length);
            if (buffered > _peakBuffered)
            {
                Volatile.Write(ref _peakBuffered, buffered);
            }
        }

        _pending.Release();
    }

    /// <summary>Closes the channel at once: queued messages are dropped, the transport is closed, and <see cref="Closed"/> is raised.</summary>
    public void Close() => Finish(null);

    /// <summary>Closes the channel; see <see cref="Close"/>.</summary>
    public void Dispose()
    {
        Finish(null);
        GC.SuppressFinalize(this);
    }

    /// <summary>Starts the writer and reader loops. Derived classes call it once, at the end of their constructor.</summary>
    protected void Start() => _loops = Task.WhenAll(Task.Run(WriteLoopAsync), Task.Run(ReadLoopAsync));

    /// <summary>Writes the framing before a message of <paramref name="length"/> bytes.</summary>
    /// <param name="header">Exactly <see cref="FrameHeaderSize"/> bytes.</param>
    /// <param name="length">The message's length.</param>
    protected virtual void WriteFrameHeader(Span<byte> header, int length)
    {
    }

    /// <summary>Writes one framed message to the transport.</summary>
    /// <param name="frame">The framing header and the message.</param>
    /// <param name="cancellationToken">Cancelled when the channel closes.</param>
    /// <returns>A task that completes when the transport has taken the bytes.</returns>
    protected abstract Task WriteFrameAsync(ArraySegment<byte> frame, CancellationToken cancellationToken);

    /// <summary>
    /// Reads the next message into a buffer it rents from <see cref="ArrayPool{T}.Shared"/>, or returns
    /// <see langword="null"/> at the end of the stream (the remote end closed).
    /// </summary>
    /// <param name="cancellationToken">Cancelled when the channel closes.</param>
    /// <returns>The rented buffer and the message's length in it.</returns>
    protected abstract Task<(byte[] Buffer, int Length)?> ReadMessageAsync(CancellationToken cancellationToken);

    /// <summary>Gets a value indicating whether the transport can receive; when it cannot, no reader loop runs.</summary>
    protected abstract bool CanReceive { get; }

    /// <summary>Closes the transport. Called once, from any thread, when the channel closes or fails.</summary>
    protected abstract void CloseTransport();

    private async Task WriteLoopAsync()
    {
        var token = _stop.Token;
        try
        {
            while (true)
            {
                await _pending.WaitAsync(token).ConfigureAwait(false);
                (byte[] Buffer, int Length) frame;
                lock (_lock)
                {
                    // The writer owns a frame from here until its write ends; a close frees only what is still queued.
                    if (_queue.Count == 0)
                    {
                        continue;
                    }

                    frame = _queue.Dequeue();
                }

                try
                {
                    await WriteFrameAsync(new ArraySegment<byte>(frame.Buffer, 0, frame.Length), token).ConfigureAwait(false);
                }
                finally
                {
                    ArrayPool<byte>.Shared.Return(frame.Buffer);
                }

                var written = frame.Length - FrameHeaderSize;
                var after = Interlocked.Add(ref _buffered, -written);
                var threshold = Volatile.Read(ref _threshold);

                // W3C semantics: the low event fires only when the amount crosses the threshold downwards.
                if (after <= threshold && after + written > threshold)
                {
                    BufferedAmountLow?.Invoke(this, EventArgs.Empty);
                }
            }
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
        }
        catch (Exception ex)
        {
            Finish(ex);
        }
    }

    private async Task ReadLoopAsync()
    {
        if (!CanReceive)
        {
            return;
        }

        var token = _stop.Token;
        try
        {
            while (await ReadMessageAsync(token).ConfigureAwait(false) is { } message)
            {
                try
                {
                    _onMessage?.Invoke(new ReadOnlyMemory<byte>(message.Buffer, 0, message.Length));
                }
                finally
                {
                    ArrayPool<byte>.Shared.Return(message.Buffer);
                }
            }

            Finish(null); // the remote end closed
        }
        catch (Exception) when (token.IsCancellationRequested)
        {
        }
        catch (Exception ex)
        {
            Finish(ex);
        }
    }

    /// <summary>Ends the channel once: stops both loops, drops the queue, closes the transport, then raises Error (on failure) and Closed.</summary>
    private void Finish(Exception? failure)
    {
        if (Interlocked.Exchange(ref _finished, 1) != 0)
        {
            return;
        }

        lock (_lock)
        {
            // A failure is reported by the Error event before the state leaves Open, as W3C does.
            if (failure is null)
            {
                Volatile.Write(ref _state, (int)BufferedChannelState.Closing);
            }
        }

        _stop.Cancel();
        try
        {
            CloseTransport();
        }
        catch (Exception ex) when (failure is null)
        {
            failure = ex;
        }

        if (failure is not null)
        {
            Error?.Invoke(this, new BufferedChannelErrorEventArgs(failure.Message, failure));
        }

        lock (_lock)
        {
            Volatile.Write(ref _state, (int)BufferedChannelState.Closed);
            while (_queue.Count > 0)
            {
                ArrayPool<byte>.Shared.Return(_queue.Dequeue().Buffer);
            }
        }

        Closed?.Invoke(this, EventArgs.Empty);
    }
}
