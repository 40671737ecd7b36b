using System.Security.Cryptography;

namespace FileTransfer;

/// <summary>
/// A small custom transport, shaped like the ones people write around a socket: a send queue drained by a
/// background thread at a fixed rate, a buffered amount, a low-buffer event and a close event.
/// </summary>
public sealed class LoopbackTransport : IDisposable
{
    private readonly object _lock = new();
    private readonly Queue<byte[]> _queue = new();
    private readonly IncrementalHash _received = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
    private readonly Thread _wire;
    private readonly int _bytesPerMillisecond;
    private long _buffered;
    private volatile bool _open = true;

    public LoopbackTransport(int megabitsPerSecond)
    {
        _bytesPerMillisecond = megabitsPerSecond * 1000 / 8;
        _wire = new Thread(Drain) { IsBackground = true, Name = "wire" };
        _wire.Start();
    }

    public event Action? BufferedAmountLow;

    public event Action? Closed;

    public long BufferedAmount => Interlocked.Read(ref _buffered);

    public long BufferedAmountLowThreshold { get; set; }

    public bool IsOpen => _open;

    public long BytesReceived { get; private set; }

    public void Send(byte[] data, int offset, int count)
    {
        if (!_open)
        {
            throw new InvalidOperationException("The transport is closed.");
        }

        lock (_lock)
        {
            _queue.Enqueue(data.AsSpan(offset, count).ToArray());
            _buffered += count;
        }
    }

    public string ReceivedHash()
    {
        lock (_lock)
        {
            return Convert.ToHexString(_received.GetCurrentHash())[..16];
        }
    }

    public void Close()
    {
        _open = false;
        Closed?.Invoke();
    }

    public void Dispose()
    {
        Close();
        _wire.Join();
        _received.Dispose();
    }

    private void Drain()
    {
        // Credit accrues at the link rate while there is something to send, so messages of any size go out.
        long credit = 0;
        while (_open)
        {
            Thread.Sleep(1);
            var crossed = false;
            lock (_lock)
            {
                credit = _queue.Count == 0 ? 0 : credit + _bytesPerMillisecond;
                while (_queue.TryPeek(out var message) && message.Length <= credit)
                {
                    _queue.Dequeue();
                    credit -= message.Length;
                    _received.AppendData(message);
                    BytesReceived += message.Length;
                    var before = _buffered;
                    _buffered -= message.Length;
                    crossed |= before > BufferedAmountLowThreshold && _buffered <= BufferedAmountLowThreshold;
                }
            }

            if (crossed)
            {
                BufferedAmountLow?.Invoke();
            }
        }
    }
}
