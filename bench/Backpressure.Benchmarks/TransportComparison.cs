using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Net.WebSockets;
using Backpressure;

/// <summary>
/// The sender over real loopback transports against the same chunks written by hand, each awaited, with no
/// backpressure layer: what the library costs where the transport itself is the bottleneck. The far end
/// reads as fast as it can; a run ends when it has read every byte.
/// </summary>
internal static class TransportComparison
{
    private const int Repeats = 5;
    private const int PayloadSize = 256 << 20;

    private enum Transport
    {
        Tcp,
        WebSocket,
    }

    public static async Task RunAsync()
    {
        var payload = new byte[PayloadSize];
        Random.Shared.NextBytes(payload);
        Console.WriteLine(FormattableString.Invariant(
            $"{PayloadSize >> 20} MiB over 127.0.0.1, the receiver reads as fast as it can; median of {Repeats} runs (min-max), the two ways alternating"));
        Console.WriteLine("| transport | chunk | raw awaited writes, MB/s | SendAsync, MB/s | SendAsync / raw | peak queue |");
        Console.WriteLine("|---|---|---|---|---|---|");
        foreach (var transport in new[] { Transport.Tcp, Transport.WebSocket })
        {
            foreach (var chunk in new[] { 16 * 1024, 64 * 1024 })
            {
                await RunOnceAsync(transport, chunk, payload, useSender: false); // warm-up: JIT, socket buffers
                await RunOnceAsync(transport, chunk, payload, useSender: true);
                var raw = new List<double>();
                var sender = new List<double>();
                long peak = 0;
                for (var i = 0; i < Repeats; i++)
                {
                    raw.Add((await RunOnceAsync(transport, chunk, payload, useSender: false)).MegabytesPerSecond);
                    var run = await RunOnceAsync(transport, chunk, payload, useSender: true);
                    sender.Add(run.MegabytesPerSecond);
                    peak = Math.Max(peak, run.PeakQueue);
                }

                raw.Sort();
                sender.Sort();
                var name = transport == Transport.Tcp ? "TCP, StreamMessageChannel" : "WebSocket, WebSocketMessageChannel";
                var (r, s) = (raw[Repeats / 2], sender[Repeats / 2]);
                Console.WriteLine(FormattableString.Invariant(
                    $"| {name} | {chunk / 1024} KiB | {r:N0} ({raw[0]:N0}-{raw[^1]:N0}) | {s:N0} ({sender[0]:N0}-{sender[^1]:N0}) | {s / r * 100:F1} % | {peak / 1024:N0} KiB |"));
            }
        }
    }

    private static async Task<(double MegabytesPerSecond, long PeakQueue)> RunOnceAsync(Transport transport, int chunk, byte[] payload, bool useSender)
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        using var client = new TcpClient { NoDelay = true };
        await client.ConnectAsync(IPAddress.Loopback, ((IPEndPoint)listener.LocalEndpoint).Port);
        using var server = await listener.AcceptTcpClientAsync();
        server.NoDelay = true;
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(1));

        Stream sendStream = client.GetStream();
        Stream receiveStream = server.GetStream();
        using var sendSocket = transport == Transport.WebSocket ? WebSocket.CreateFromStream(sendStream, isServer: false, subProtocol: null, Timeout.InfiniteTimeSpan) : null;
        using var receiveSocket = transport == Transport.WebSocket ? WebSocket.CreateFromStream(receiveStream, isServer: true, subProtocol: null, Timeout.InfiniteTimeSpan) : null;

        var chunks = (payload.Length + chunk - 1) / chunk;
        var expected = transport == Transport.Tcp ? payload.Length + (4L * chunks) : payload.Length;
        var clock = Stopwatch.StartNew();
        var receiving = receiveSocket is null ? DrainStreamAsync(receiveStream, expected, timeout.Token) : DrainWebSocketAsync(receiveSocket, expected, timeout.Token);

        long peak = 0;
        if (useSender)
        {
            using QueuedMessageChannel channel = sendSocket is null
                ? new StreamMessageChannel(sendStream, new MessageChannelOptions(leaveOpen: true))
                : new WebSocketMessageChannel(sendSocket, new MessageChannelOptions(leaveOpen: true));
            await channel.SendAsync(payload, new BackpressureOptions(chunkSize: chunk), cancellationToken: timeout.Token);
            await receiving;
            peak = channel.PeakBufferedAmount;
        }
        else if (sendSocket is null)
        {
            // By hand: the same 4-byte length prefix and chunk in one write, awaited before the next.
            var frame = new byte[4 + chunk];
            for (var offset = 0; offset < payload.Length; offset += chunk)
            {
                var length = Math.Min(chunk, payload.Length - offset);
                BinaryPrimitives.WriteInt32BigEndian(frame, length);
                payload.AsSpan(offset, length).CopyTo(frame.AsSpan(4));
                await sendStream.WriteAsync(frame.AsMemory(0, 4 + length), timeout.Token);
            }

            await receiving;
        }
        else
        {
            for (var offset = 0; offset < payload.Length; offset += chunk)
            {
                await sendSocket.SendAsync(payload.AsMemory(offset, Math.Min(chunk, payload.Length - offset)), WebSocketMessageType.Binary, endOfMessage: true, timeout.Token);
            }

            await receiving;
        }

        return (payload.Length / clock.Elapsed.TotalSeconds / 1e6, peak);
    }

    private static async Task DrainStreamAsync(Stream stream, long expected, CancellationToken cancellationToken)
    {
        var buffer = new byte[256 * 1024];
        for (long total = 0; total < expected;)
        {
            var read = await stream.ReadAsync(buffer, cancellationToken);
            if (read == 0)
            {
                throw new IOException(string.Create(CultureInfo.InvariantCulture, $"The sender closed after {total} of {expected} bytes."));
            }

            total += read;
        }
    }

    private static async Task DrainWebSocketAsync(WebSocket socket, long expected, CancellationToken cancellationToken)
    {
        var buffer = new byte[256 * 1024];
        for (long total = 0; total < expected;)
        {
            var result = await socket.ReceiveAsync(buffer.AsMemory(), cancellationToken);
            if (result.MessageType == WebSocketMessageType.Close)
            {
                throw new IOException(string.Create(CultureInfo.InvariantCulture, $"The sender closed after {total} of {expected} bytes."));
            }

            total += result.Count;
        }
    }
}
