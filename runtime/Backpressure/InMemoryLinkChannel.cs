using System;
using System.Buffers;
using System.Collections.Generic;
using System.Diagnostics;
using System.Threading;

namespace Backpressure;

/// <summary>
/// An <see cref="IBufferedChannel"/> that simulates a link of fixed bandwidth and latency in memory. Sent
/// messages wait in a queue that drains at the link's rate on the link's own thread; each is delivered
/// to the receiver after the latency. Every event is raised from the link's thread, as real transports do.
/// </summary>
/// <remarks>
/// Useful as a test double and for benchmarks. The link starts open. The receiver callback runs on the
/// link's thread and gets memory that is reused afterwards: copy what you keep. An exception from the
/// receiver or from an event handler fails the link (<see cref="Error"/>, then <see cref="Closed"/>).
/// </remarks>
public sealed class InMemoryLinkChannel : ILowEventSendChannel, IDisposable
{
    /// <summary>
    /// Buffers for the messages links hold, queued or in flight, shared by every link in the process. At 10 Gbit/s
    /// with 2 ms of latency a link behind a bounded sender holds some 200 messages of 16 KiB, more than the shared pool
    /// keeps per core; each miss was an allocation, and the collections they caused paused for milliseconds the very
    /// threads whose timing the link measures. Up to 1,024 buffers of each size are kept (16 MiB of 16 KiB ones), and
    /// only as many as were once in use at the same time; messages beyond that, or over 256 KiB, are allocated.
    /// </summary>
    private static readonly ArrayPool<byte> s_buffers = ArrayPool<byte>.Create(InMemoryLinkOptions.DefaultMaxMessageSize, 1024);

    private readonly object _lock = new();
    private readonly Queue<Packet> _queue = new();
    private readonly Queue<Packet> _inFlight = new();
    private readonly List<Packet> _arrived = new();
    private readonly ManualResetEventSlim _wake = new(false);
    private readonly Action<ReadOnlyMemory<byte>>? _onMessage;
    private readonly double _ticksPerByte;
    private readonly long _latencyTicks;
    private readonly Thread _thread;

    private long _buffered;
    private long _threshold;
    private long _peakBuffered;
    private long _bytesDelivered;
    private long _headDeparture;
    private long _linkFreeAt;
    private int _state = (int)BufferedChannelState.Open;
    private bool _closeRequested;
    private string? _failure;

    /// <summary>Initializes a new instance of the <see cref="InMemoryLinkChannel"/> class and starts its thread.</summary>
    /// <param name="options">The link's bandwidth, latency and message limit.</param>
    /// <param name="onMessage">Receives each message, in order, on the link's thread after the latency.</param>
    /// <exception cref="ArgumentNullException"><paramref name="options"/> is <see langword="null"/>.</exception>
    public InMemoryLinkChannel(InMemoryLinkOptions options, Action<ReadOnlyMemory<byte>>? onMessage = null)
    {
        Options = options ?? throw new ArgumentNullException(nameof(options));
        _onMessage = onMessage;
        _ticksPerByte = 8.0 * Stopwatch.Frequency / options.BitsPerSecond;
        _latencyTicks = (long)(options.Latency.TotalSeconds * Stopwatch.Frequency);
        _thread = new Thread(Run) { IsBackground = true, Name = "InMemoryLinkChannel" };
        _thread.Start();
    }

    /// <inheritdoc/>
    public event EventHandler? BufferedAmountLow;

    /// <inheritdoc/>
    public event EventHandler? Closed;

    /// <inheritdoc/>
    public event EventHandler<BufferedChannelErrorEventArgs>? Error;

    /// <summary>Gets the link's bandwidth, latency and message limit.</summary>
    public InMemoryLinkOptions Options { get; }

    /// <inheritdoc/>
    public long BufferedAmount => Volatile.Read(ref _buffered);

    /// <inheritdoc/>
    public long BufferedAmountLowThreshold
    {
        get => Volatile.Read(ref _threshold);
        set => Volatile.Write(ref _threshold, value >= 0 ? value : throw new ArgumentOutOfRangeException(nameof(value), value, "The threshold must not be negative."));
    }

    /// <inheritdoc/>
    public bool SupportsBufferedAmountLowEvent => Options.RaisesBufferedAmountLow;

    /// <inheritdoc/>
    /// <remarks>Always <see langword="true"/>: the link raises its events holding no lock, and <see cref="Send"/> only queues.</remarks>
    public bool AllowsSendFromLowEvent => true;

    /// <inheritdoc/>
    public BufferedChannelState State => (BufferedChannelState)Volatile.Read(ref _state);

    /// <inheritdoc/>
    public int MaxMessageSize => Options.MaxMessageSize;

    /// <summary>Gets the largest buffered amount the link has held, right after a <see cref="Send"/>.</summary>
    public long PeakBufferedAmount => Volatile.Read(ref _peakBuffered);

    /// <summary>Gets the number of bytes delivered to the receiver so far.</summary>
    public long BytesDelivered => Volatile.Read(ref _bytesDelivered);

    /// <inheritdoc/>
    /// <exception cref="ArgumentException">The message is larger than <see cref="MaxMessageSize"/>.</exception>
    /// <exception cref="InvalidOperationException">The link is not open.</exception>
    public void Send(ReadOnlyMemory<byte> message)
    {
        if (message.Length > Options.MaxMessageSize)
        {
            throw new ArgumentException($"The message is {message.Length} bytes; the link accepts at most {Options.MaxMessageSize}.", nameof(message));
        }

        var buffer = s_buffers.Rent(Math.Max(message.Length, 1));
        message.Span.CopyTo(buffer);
        bool wasIdle;
        lock (_lock)
        {
            if (_closeRequested || _state != (int)BufferedChannelState.Open)
            {
                s_buffers.Return(buffer);
                throw new InvalidOperationException(_failure is null ? $"The link is {State.ToString().ToLowerInvariant()}." : $"The link failed: {_failure}");
            }

            wasIdle = _queue.Count == 0;
            if (wasIdle)
            {
                _headDeparture = Math.Max(Stopwatch.GetTimestamp(), _linkFreeAt) + TransmitTicks(message.Length);
            }

            _queue.Enqueue(new Packet(buffer, message.Length, 0));
            var buffered = _buffered + message.Length;
            Volatile.Write(ref _buffered, buffered);
            if (buffered > _peakBuffered)
            {
                Volatile.Write(ref _peakBuffered, buffered);
            }
        }

        if (wasIdle)
        {
            _wake.Set();
        }
    }

    /// <summary>
    /// Closes the link at once: the state becomes <see cref="BufferedChannelState.Closing"/>, data still
    /// queued or in flight is dropped, and <see cref="Closed"/> is raised from the link's thread.
    /// </summary>
    public void Close() => RequestClose(null);

    /// <summary>
    /// Fails the link as a transport error would: sends are refused from now on, and the link's thread
    /// raises <see cref="Error"/> and then, with the state <see cref="BufferedChannelState.Closed"/>, <see cref="Closed"/>.
    /// </summary>
    /// <param name="message">The error's description.</param>
    public void Fail(string message) => RequestClose(message ?? throw new ArgumentNullException(nameof(message)));

    /// <summary>Closes the link and waits for its thread to finish.</summary>
    public void Dispose()
    {
        Close();
        if (Thread.CurrentThread != _thread)
        {
            _thread.Join();
        }
    }

    private void RequestClose(string? failure)
    {
        lock (_lock)
        {
            if (_closeRequested)
            {
                return;
            }

            _closeRequested = true;
            _failure = failure;

            // A close goes through Closing; a transport error is reported by the Error event first (W3C).
            if (failure is null)
            {
                Volatile.Write(ref _state, (int)BufferedChannelState.Closing);
            }
        }

        _wake.Set();
    }

    private long TransmitTicks(int length) => (long)Math.Ceiling(length * _ticksPerByte);

    private void Run()
    {
        while (true)
        {
            _wake.Reset();
            var crossedLow = false;
            long nextDue;
            lock (_lock)
            {
                if (_closeRequested)
                {
                    break;
                }

                var now = Stopwatch.GetTimestamp();
                nextDue = Depart(now, ref crossedLow);
                while (_inFlight.Count > 0 && _inFlight.Peek().Due <= now)
                {
                    _arrived.Add(_inFlight.Dequeue());
                }

                if (_inFlight.Count > 0)
                {
                    nextDue = Math.Min(nextDue, _inFlight.Peek().Due);
                }
            }

            try
            {
                Deliver();
                if (crossedLow && Options.RaisesBufferedAmountLow)
                {
                    BufferedAmountLow?.Invoke(this, EventArgs.Empty);
                }
            }
            catch (Exception ex)
            {
                RequestClose($"The link's receiver or an event handler threw: {ex.Message}");
                continue;
            }

            WaitUntil(nextDue);
        }

        Shutdown();
    }

    /// <summary>Moves every packet whose transmission has finished off the queue. Call under the lock.</summary>
    private long Depart(long now, ref bool crossedLow)
    {
        while (_queue.Count > 0 && _headDeparture <= now)
        {
            var packet = _queue.Dequeue();
            var before = _buffered;
            var after = before - packet.Length;
            Volatile.Write(ref _buffered, after);

            // W3C semantics: the low event fires only when the amount crosses the threshold downwards.
            var threshold = Volatile.Read(ref _threshold);
            crossedLow |= before > threshold && after <= threshold;

            _inFlight.Enqueue(packet with { Due = _headDeparture + _latencyTicks });
            _linkFreeAt = _headDeparture;
            if (_queue.Count > 0)
            {
                // Back-to-back transmission: the next packet starts when this one has left.
                _headDeparture += TransmitTicks(_queue.Peek().Length);
            }
        }

        return _queue.Count > 0 ? _headDeparture : long.MaxValue;
    }

    private void Deliver()
    {
        try
        {
            foreach (var packet in _arrived)
            {
                _onMessage?.Invoke(new ReadOnlyMemory<byte>(packet.Buffer, 0, packet.Length));
                Interlocked.Add(ref _bytesDelivered, packet.Length);
            }
        }
        finally
        {
            // After a receiver failure the rest is dropped with the link.
            foreach (var packet in _arrived)
            {
                s_buffers.Return(packet.Buffer);
            }

            _arrived.Clear();
        }
    }

    /// <summary>Sleeps while the next event is far off, yields while it is near, and returns early when woken.</summary>
    private void WaitUntil(long due)
    {
        if (due == long.MaxValue)
        {
            _wake.Wait();
            return;
        }

        while (true)
        {
            var remaining = due - Stopwatch.GetTimestamp();
            if (remaining <= 0 || _wake.IsSet)
            {
                return;
            }

            var milliseconds = remaining * 1000 / Stopwatch.Frequency;
            if (milliseconds > 2)
            {
                // OS sleeps overshoot by about a millisecond; stop short and finish by yielding.
                _wake.Wait((int)Math.Min(milliseconds - 1, 1000));
            }
            else
            {
                Thread.Yield();
            }
        }
    }

    private void Shutdown()
    {
        string? failure;
        lock (_lock)
        {
            failure = _failure;
            foreach (var packet in _queue)
            {
                s_buffers.Return(packet.Buffer);
            }

            foreach (var packet in _inFlight)
            {
                s_buffers.Return(packet.Buffer);
            }

            _queue.Clear();
            _inFlight.Clear();
        }

        // The thread ends here: a throwing handler must not take the process down with it.
        if (failure is not null)
        {
            RaiseIgnoringExceptions(() => Error?.Invoke(this, new BufferedChannelErrorEventArgs(failure)));
        }

        Volatile.Write(ref _state, (int)BufferedChannelState.Closed);
        RaiseIgnoringExceptions(() => Closed?.Invoke(this, EventArgs.Empty));
    }

    private static void RaiseIgnoringExceptions(Action raise)
    {
        try
        {
            raise();
        }
        catch (Exception ex)
        {
            Debug.WriteLine($"InMemoryLinkChannel: an event handler threw during shutdown: {ex}");
        }
    }

    private readonly record struct Packet(byte[] Buffer, int Length, long Due);
}
