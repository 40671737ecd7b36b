using Backpressure;

/// <summary>Counts bytes instead of copying them; a thread drains 16 KiB at a time and raises the low event.</summary>
internal sealed class CountingChannel : IBufferedChannel, IDisposable
{
    private readonly Thread _drain;
    private long _buffered;
    private long _threshold;
    private volatile bool _stop;
    private int _crossings;

    public CountingChannel()
    {
        _drain = new Thread(Drain) { IsBackground = true };
        _drain.Start();
    }

    public event EventHandler? BufferedAmountLow;

    public event EventHandler? Closed { add { } remove { } }

    public event EventHandler<BufferedChannelErrorEventArgs>? Error { add { } remove { } }

    public long BufferedAmount => Volatile.Read(ref _buffered);

    public long BufferedAmountLowThreshold { get => Volatile.Read(ref _threshold); set => Volatile.Write(ref _threshold, value); }

    public bool SupportsBufferedAmountLowEvent => true;

    public BufferedChannelState State => BufferedChannelState.Open;

    public int MaxMessageSize => int.MaxValue;

    public int Crossings => Volatile.Read(ref _crossings);

    public void Send(ReadOnlyMemory<byte> message) => Interlocked.Add(ref _buffered, message.Length);

    public void Close() => _stop = true;

    public void Dispose()
    {
        _stop = true;
        _drain.Join();
    }

    private void Drain()
    {
        while (!_stop)
        {
            var before = Volatile.Read(ref _buffered);
            if (before == 0)
            {
                Thread.Yield();
                continue;
            }

            var after = Interlocked.Add(ref _buffered, -Math.Min(before, 16 * 1024));
            var threshold = Volatile.Read(ref _threshold);
            if (after <= threshold && after + Math.Min(before, 16 * 1024) > threshold)
            {
                _crossings++;
                BufferedAmountLow?.Invoke(this, EventArgs.Empty);
            }
        }
    }
}
