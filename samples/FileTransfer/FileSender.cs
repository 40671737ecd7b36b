namespace FileTransfer;

/// <summary>Five ways people write "don't outrun the send queue", each polling the buffered amount.</summary>
public sealed class FileSender(LoopbackTransport transport)
{
    private const int ChunkSize = 16 * 1024;
    private const long HighWater = 64 * 1024;

    /// <summary>The classic: a chunk loop that sleeps while the queue is full.</summary>
    public async Task SendFileAsync(byte[] file, CancellationToken cancellationToken)
    {
        for (var offset = 0; offset < file.Length; offset += ChunkSize)
        {
            while (transport.BufferedAmount > HighWater)
            {
                await Task.Delay(50, cancellationToken);
            }

            transport.Send(file, offset, Math.Min(ChunkSize, file.Length - offset));
        }
    }

    /// <summary>A sender that skips a turn while the queue is full.</summary>
    public async Task SendStreamAsync(Stream source, CancellationToken cancellationToken)
    {
        var buffer = new byte[ChunkSize];
        var more = true;
        while (more)
        {
            if (transport.BufferedAmount >= HighWater)
            {
                await Task.Delay(20, cancellationToken).ConfigureAwait(false);
                continue;
            }

            var read = await source.ReadAsync(buffer, cancellationToken);
            more = read > 0;
            if (more)
            {
                transport.Send(buffer, 0, read);
            }
        }
    }

    /// <summary>Waits for the queue to empty before a final message, re-reading the amount into a local.</summary>
    public async Task SendTrailerAsync(byte[] trailer)
    {
        var queued = transport.BufferedAmount;
        while (queued > 0)
        {
            await Task.Delay(10);
            queued = transport.BufferedAmount;
        }

        transport.Send(trailer, 0, trailer.Length);
    }

    /// <summary>A synchronous sender: making it async is the caller's decision, so its fix blocks without a timer.</summary>
    public void SendBlocking(byte[] message)
    {
        while (transport.BufferedAmount > HighWater)
        {
            Thread.Sleep(5);
        }

        transport.Send(message, 0, message.Length);
    }

    /// <summary>
    /// Drains the queue before closing, and closes anyway after a timeout: the commonest shape in real code,
    /// which no whole-loop rewrite fits. Its fix changes only the delay.
    /// </summary>
    public async Task CloseAsync(TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (transport.BufferedAmount > 0 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(20);
        }

        transport.Close();
    }
}
