using System.Collections.Concurrent;
using Backpressure;

namespace Backpressure.Runtime.Tests;

/// <summary>
/// A hand-pumped channel: nothing drains unless the test calls <see cref="Drain"/>, so each test decides
/// exactly when the low event fires and on which thread. Counts its event subscribers for leak checks.
/// </summary>
internal sealed class ManualChannel : IBufferedChannel
{
    private readonly object _lock = new();
    private readonly List<byte[]> _messages = new();
    private readonly ConcurrentQueue<int> _sendThreads = new();
    private EventHandler? _low;
    private EventHandler? _closed;
    private EventHandler<BufferedChannelErrorEventArgs>? _error;
    private long _buffered;
    private long _threshold;
    private int _state = (int)BufferedChannelState.Open;
    private int _sendCount;
    private long _peakBuffered;
    private string? _failOnStateRead;

    public ManualChannel(bool supportsLowEvent = true, int maxMessageSize = int.MaxValue)
    {
        SupportsBufferedAmountLowEvent = supportsLowEvent;
        MaxMessageSize = maxMessageSize;
    }

    public event EventHandler? BufferedAmountLow
    {
        add { lock (_lock) { _low += value; } }
        remove { lock (_lock) { _low -= value; } }
    }

    public event EventHandler? Closed
    {
        add { lock (_lock) { _closed += value; } }
        remove { lock (_lock) { _closed -= value; } }
    }

    public event EventHandler<BufferedChannelErrorEventArgs>? Error
    {
        add { lock (_lock) { _error += value; } }
        remove { lock (_lock) { _error -= value; } }
    }

    /// <summary>Runs inside <see cref="Send"/> before the message is queued; it may throw or change the channel.</summary>
    public Action<int>? BeforeSend { get; set; }

    /// <summary>Runs inside the <see cref="BufferedAmount"/> getter after the value to return was read.</summary>
    public Action<long>? AfterBufferedAmountRead { get; set; }

    /// <summary>When set, sent bytes never enter the queue: an infinitely fast link.</summary>
    public bool DrainOnSend { get; set; }

    public long BufferedAmount
    {
        get
        {
            var value = Volatile.Read(ref _buffered);
            AfterBufferedAmountRead?.Invoke(value);
            return value;
        }
    }

    public long BufferedAmountLowThreshold
    {
        get => Volatile.Read(ref _threshold);
        set => Volatile.Write(ref _threshold, value);
    }

    public bool SupportsBufferedAmountLowEvent { get; }

    public BufferedChannelState State
    {
        get
        {
            if (Interlocked.Exchange(ref _failOnStateRead, null) is { } error)
            {
                RaiseError(error);
                Volatile.Write(ref _state, (int)BufferedChannelState.Closed);
            }

            return (BufferedChannelState)Volatile.Read(ref _state);
        }

        set => Volatile.Write(ref _state, (int)value);
    }

    public int MaxMessageSize { get; }

    public int SendCount => Volatile.Read(ref _sendCount);

    /// <summary>Gets the largest buffered amount seen right after a send.</summary>
    public long PeakBuffered
    {
        get
        {
            lock (_lock)
            {
                return _peakBuffered;
            }
        }
    }

    public int LowSubscribers => Count(_low);

    /// <summary>Gets a value indicating whether anyone listens to the low event; unlike <see cref="LowSubscribers"/>, it allocates nothing.</summary>
    public bool HasLowSubscriber => Volatile.Read(ref _low) is not null;

    public int ClosedSubscribers => Count(_closed);

    public int ErrorSubscribers => Count(_error);

    public int TotalSubscribers => LowSubscribers + ClosedSubscribers + ErrorSubscribers;

    public IReadOnlyCollection<int> SendThreadIds => _sendThreads;

    public void Send(ReadOnlyMemory<byte> message)
    {
        BeforeSend?.Invoke(SendCount);
        if (message.Length > MaxMessageSize)
        {
            throw new ArgumentException($"Message of {message.Length} bytes exceeds {MaxMessageSize}.");
        }

        lock (_lock)
        {
            _messages.Add(message.ToArray());
            if (!DrainOnSend)
            {
                _buffered += message.Length;
                _peakBuffered = Math.Max(_peakBuffered, _buffered);
            }
        }

        _sendThreads.Enqueue(Environment.CurrentManagedThreadId);
        Interlocked.Increment(ref _sendCount);
    }

    public void Close() => RaiseClosed();

    /// <summary>Adds <paramref name="bytes"/> to the queue without recording a message: a send that allocates nothing.</summary>
    public void Fill(long bytes)
    {
        lock (_lock)
        {
            _buffered += bytes;
        }
    }

    /// <summary>Removes up to <paramref name="bytes"/> from the queue, raising the low event on this thread when the threshold is crossed.</summary>
    public void Drain(long bytes)
    {
        EventHandler? raise = null;
        lock (_lock)
        {
            var before = _buffered;
            _buffered = Math.Max(0, before - bytes);
            if (SupportsBufferedAmountLowEvent && before > _threshold && _buffered <= _threshold)
            {
                raise = _low;
            }
        }

        raise?.Invoke(this, EventArgs.Empty);
    }

    public void DrainAll() => Drain(long.MaxValue);

    /// <summary>Raises the low event regardless of the amount, as a buggy or spurious transport might.</summary>
    public void RaiseLow() => Snapshot(ref _low)?.Invoke(this, EventArgs.Empty);

    public void RaiseClosed()
    {
        State = BufferedChannelState.Closed;
        Snapshot(ref _closed)?.Invoke(this, EventArgs.Empty);
    }

    public void RaiseError(string message) =>
        Snapshot(ref _error)?.Invoke(this, new BufferedChannelErrorEventArgs(message));

    /// <summary>
    /// Plays a failing link's own thread, which raises Error and then moves to Closed, running just as the
    /// sender next reads the state.
    /// </summary>
    public void FailOnNextStateRead(string error) => Volatile.Write(ref _failOnStateRead, error);

    public byte[][] Messages()
    {
        lock (_lock)
        {
            return _messages.ToArray();
        }
    }

    public byte[] Received() => Messages().SelectMany(m => m).ToArray();

    private static int Count(Delegate? handler) => handler?.GetInvocationList().Length ?? 0;

    private T? Snapshot<T>(ref T? field)
        where T : Delegate
    {
        lock (_lock)
        {
            return field;
        }
    }
}
