using System.Security.Cryptography;

namespace Backpressure.Runtime.Tests.Transports;

/// <summary>
/// Hashes what arrives and pauses every so often, so the sender's transport buffers fill and the
/// channel's own queue has to hold the rest: backpressure is exercised, not bypassed.
/// </summary>
internal sealed class SlowReceiver : IDisposable
{
    private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
    private readonly int _pauseEvery;
    private long _bytes;
    private long _sincePause;

    public SlowReceiver(int pauseEveryBytes = 256 * 1024) => _pauseEvery = pauseEveryBytes;

    public long Bytes => Interlocked.Read(ref _bytes);

    public Action<long>? AfterMessage { get; set; }

    public void OnMessage(ReadOnlyMemory<byte> message)
    {
        _hash.AppendData(message.Span);
        var total = Interlocked.Add(ref _bytes, message.Length);
        _sincePause += message.Length;
        if (_sincePause >= _pauseEvery)
        {
            _sincePause = 0;
            Thread.Sleep(5);
        }

        AfterMessage?.Invoke(total);
    }

    public byte[] Hash() => _hash.GetCurrentHash();

    public void Dispose() => _hash.Dispose();
}
