using System.Collections.Concurrent;
using Backpressure;

namespace Backpressure.Runtime.Tests;

/// <summary>
/// A hand-pumped channel: nothing drains unless the test calls <see cref="Drain"/>, so each test decides
/// exactly when the low event fires and on which thread. Counts its event subscribers for leak checks, and
/// records what the fault-injection tests assert: sends after the channel reported a stop, and sends made
/// from inside one of its own event raises (a continuation run inline on the transport's thread). Such sends are a
/// fault unless the channel is made with <c>allowsSendFromLowEvent</c>, which lets a low event's handler send.
/// </summary>
internal sealed class ManualChannel : ILowEventSendChannel
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
    private readonly List<int> _raisingThreads = new();
    private int _stopReported;
    private int _sendsAfterStop;
    private int _sendsFromEventRaise;
    private int _handlersAdded;
    private int _handlersRemoved;

    public ManualChannel(bool supportsLowEvent = true, int maxMessageSize = int.MaxValue, bool allowsSendFromLowEvent = false)
    {
        SupportsBufferedAmountLowEvent = supportsLowEvent;
        MaxMessageSize = maxMessageSize;
        AllowsSendFromLowEvent = allowsSendFromLowEvent;
    }

    public event EventHandler? BufferedAmountLow
    {
        add { lock (_lock) { _low += value; _handlersAdded++; } }
        remove { lock (_lock) { _low -= value; _handlersRemoved++; } }
    }

    public event EventHandler? Closed
    {
        add { lock (_lock) { _closed += value; _handlersAdded++; } }
        remove { lock (_lock) { _closed -= value; _handlersRemoved++; } }
    }

    public event EventHandler<BufferedChannelErrorEventArgs>? Error
    {
        add { lock (_lock) { _error += value; _handlersAdded++; } }
        remove { lock (_lock) { _error -= value; _handlersRemoved++; } }
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

    public bool AllowsSendFromLowEvent { get; }

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

        set
        {
            if (value is BufferedChannelState.Closing or BufferedChannelState.Closed)
            {
                ReportStop();
            }

            Volatile.Write(ref _state, (int)value);
        }
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

    /// <summary>Gets a value indicating whether the channel has moved to Closing or Closed, or raised Error.</summary>
    public bool StopReported => StopCount != 0;

    /// <summary>Gets how many times the channel moved to Closing or Closed, or raised Error.</summary>
    public int StopCount => Volatile.Read(ref _stopReported);

    /// <summary>Gets the number of <see cref="Send"/> calls that began after <see cref="StopReported"/> became true.</summary>
    public int SendsAfterStop => Volatile.Read(ref _sendsAfterStop);

    /// <summary>Gets the number of <see cref="Send"/> calls made on a thread that was inside one of this channel's event raises.</summary>
    public int SendsFromEventRaise => Volatile.Read(ref _sendsFromEventRaise);

    /// <summary>Gets how many handlers were added to, and removed from, the three events over the channel's life.</summary>
    public (int Added, int Removed) HandlerCounts
    {
        get
        {
            lock (_lock)
            {
                return (_handlersAdded, _handlersRemoved);
            }
        }
    }

    /// <summary>Gets a value indicating whether the calling thread is inside one of this channel's event raises.</summary>
    public bool IsRaisingOnCurrentThread
    {
        get
        {
            lock (_raisingThreads)
            {
                return _raisingThreads.Contains(Environment.CurrentManagedThreadId);
            }
        }
    }

    public void Send(ReadOnlyMemory<byte> message)
    {
        if (StopReported)
        {
            Interlocked.Increment(ref _sendsAfterStop);
        }

        if (IsRaisingOnCurrentThread)
        {
            Interlocked.Increment(ref _sendsFromEventRaise);
        }

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

        Raise(raise, EventArgs.Empty);
    }

    public void DrainAll() => Drain(long.MaxValue);

    /// <summary>Raises the low event regardless of the amount, as a buggy or spurious transport might.</summary>
    public void RaiseLow() => Raise(Snapshot(ref _low), EventArgs.Empty);

    public void RaiseClosed()
    {
        State = BufferedChannelState.Closed;
        Raise(Snapshot(ref _closed), EventArgs.Empty);
    }

    public void RaiseError(string message)
    {
        ReportStop();
        Raise(Snapshot(ref _error), new BufferedChannelErrorEventArgs(message));
    }

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

    private void ReportStop() => Interlocked.Increment(ref _stopReported);

    /// <summary>Invokes the handlers with the calling thread marked as raising, so a send made from inside them is seen.</summary>
    private void Raise<TArgs>(Delegate? handlers, TArgs args)
        where TArgs : EventArgs
    {
        if (handlers is null)
        {
            return;
        }

        var thread = Environment.CurrentManagedThreadId;
        lock (_raisingThreads)
        {
            _raisingThreads.Add(thread);
        }

        try
        {
            switch (handlers)
            {
                case EventHandler plain: plain(this, args); break;
                case EventHandler<TArgs> typed: typed(this, args); break;
            }
        }
        finally
        {
            lock (_raisingThreads)
            {
                _raisingThreads.Remove(thread);
            }
        }
    }

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
