using System;
using System.Buffers;
using System.Buffers.Binary;
using System.IO;
using System.Threading;
using System.Threading.Tasks;

namespace Backpressure;

/// <summary>
/// A message channel over any <see cref="Stream"/> (<c>NetworkStream</c>, <c>SslStream</c>, pipes): each
/// message is framed by its length as a 4-byte big-endian prefix. Its buffered amount is the bytes queued
/// but not yet written; a readable stream is read too, delivering the peer's messages and noticing when
/// the peer closes.
/// </summary>
public sealed class StreamMessageChannel : QueuedMessageChannel
{
    private const int HeaderSize = 4;
    private readonly Stream _stream;
    private readonly byte[] _header = new byte[HeaderSize];

    /// <summary>Initializes a new instance of the <see cref="StreamMessageChannel"/> class and starts its loops.</summary>
    /// <param name="stream">The stream; read when readable, written when writable.</param>
    /// <param name="options">The message limit and whether to leave the stream open on close.</param>
    /// <param name="onMessage">Receives each incoming message on the reader loop; the memory is reused afterwards.</param>
    /// <exception cref="ArgumentNullException"><paramref name="stream"/> is <see langword="null"/>.</exception>
    public StreamMessageChannel(Stream stream, MessageChannelOptions? options = null, Action<ReadOnlyMemory<byte>>? onMessage = null)
        : base(options, onMessage)
    {
        _stream = stream ?? throw new ArgumentNullException(nameof(stream));
        Start();
    }

    /// <inheritdoc/>
    protected override int FrameHeaderSize => HeaderSize;

    /// <inheritdoc/>
    protected override bool CanReceive => _stream.CanRead;

    /// <inheritdoc/>
    protected override void WriteFrameHeader(Span<byte> header, int length) => BinaryPrimitives.WriteInt32BigEndian(header, length);

    /// <inheritdoc/>
    protected override async Task WriteFrameAsync(ArraySegment<byte> frame, CancellationToken cancellationToken)
    {
        // Header and message in one write: one syscall, and one TLS record on an SslStream.
        await _stream.WriteAsync(frame.Array!, frame.Offset, frame.Count, cancellationToken).ConfigureAwait(false);
        await _stream.FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    protected override async Task<(byte[] Buffer, int Length)?> ReadMessageAsync(CancellationToken cancellationToken)
    {
        if (!await ReadExactlyAsync(_header, HeaderSize, cancellationToken, endAllowed: true).ConfigureAwait(false))
        {
            return null;
        }

        var length = BinaryPrimitives.ReadInt32BigEndian(_header);
        if (length < 0 || length > Options.MaxMessageSize)
        {
            throw new InvalidDataException($"The peer sent a frame of {length} bytes; the channel accepts at most {Options.MaxMessageSize}.");
        }

        var buffer = ArrayPool<byte>.Shared.Rent(Math.Max(length, 1));
        try
        {
            await ReadExactlyAsync(buffer, length, cancellationToken, endAllowed: false).ConfigureAwait(false);
            return (buffer, length);
        }
        catch
        {
            ArrayPool<byte>.Shared.Return(buffer);
            throw;
        }
    }

    /// <inheritdoc/>
    protected override void CloseTransport()
    {
        if (!Options.LeaveOpen)
        {
            _stream.Dispose();
        }
    }

    /// <summary>Fills <paramref name="buffer"/>; at a clean end of stream before any byte returns false when allowed.</summary>
    private async Task<bool> ReadExactlyAsync(byte[] buffer, int count, CancellationToken cancellationToken, bool endAllowed)
    {
        var total = 0;
        while (total < count)
        {
            var read = await _stream.ReadAsync(buffer, total, count - total, cancellationToken).ConfigureAwait(false);
            if (read == 0)
            {
                if (total == 0 && endAllowed)
                {
                    return false;
                }

                throw new EndOfStreamException($"The stream ended inside a frame ({total} of {count} bytes).");
            }

            total += read;
        }

        return true;
    }
}
