using System;
using System.Buffers;
using System.Net.WebSockets;
using System.Threading;
using System.Threading.Tasks;

namespace Backpressure;

/// <summary>
/// A message channel over a <see cref="WebSocket"/> (client or server side): each message is one binary
/// WebSocket message. Its buffered amount is the bytes queued but not yet handed to the socket; incoming
/// messages are delivered, and the peer's close ends the channel.
/// </summary>
public sealed class WebSocketMessageChannel : QueuedMessageChannel
{
    private const int ReceiveChunk = 16 * 1024;
    private readonly WebSocket _socket;

    /// <summary>Initializes a new instance of the <see cref="WebSocketMessageChannel"/> class and starts its loops.</summary>
    /// <param name="socket">An open WebSocket; the channel owns it from now on.</param>
    /// <param name="options">The message limit.</param>
    /// <param name="onMessage">Receives each incoming message on the reader loop; the memory is reused afterwards.</param>
    /// <exception cref="ArgumentNullException"><paramref name="socket"/> is <see langword="null"/>.</exception>
    public WebSocketMessageChannel(WebSocket socket, MessageChannelOptions? options = null, Action<ReadOnlyMemory<byte>>? onMessage = null)
        : base(options, onMessage)
    {
        _socket = socket ?? throw new ArgumentNullException(nameof(socket));
        Start();
    }

    /// <inheritdoc/>
    protected override bool CanReceive => true;

    /// <inheritdoc/>
    protected override Task WriteFrameAsync(ArraySegment<byte> frame, CancellationToken cancellationToken) =>
        _socket.SendAsync(frame, WebSocketMessageType.Binary, endOfMessage: true, cancellationToken);

    /// <inheritdoc/>
    protected override async Task<(byte[] Buffer, int Length)?> ReadMessageAsync(CancellationToken cancellationToken)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(ReceiveChunk);
        var length = 0;
        try
        {
            while (true)
            {
                if (length == buffer.Length)
                {
                    var larger = ArrayPool<byte>.Shared.Rent(buffer.Length * 2);
                    Buffer.BlockCopy(buffer, 0, larger, 0, length);
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = larger;
                }

                var result = await _socket.ReceiveAsync(new ArraySegment<byte>(buffer, length, buffer.Length - length), cancellationToken).ConfigureAwait(false);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    // Complete the closing handshake the peer started, then report the end.
                    if (_socket.State == WebSocketState.CloseReceived)
                    {
                        await _socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, cancellationToken).ConfigureAwait(false);
                    }

                    ArrayPool<byte>.Shared.Return(buffer);
                    return null;
                }

                length += result.Count;
                if (length > Options.MaxMessageSize)
                {
                    throw new WebSocketException(WebSocketError.Faulted, $"The peer sent a message over {Options.MaxMessageSize} bytes.");
                }

                if (result.EndOfMessage)
                {
                    return (buffer, length);
                }
            }
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
        // Abortive, as Close is: a graceful close would wait for the peer.
        _socket.Abort();
        _socket.Dispose();
    }
}
