using System.Net.WebSockets;
using System.Security.Cryptography;
using Backpressure;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using static Backpressure.Runtime.Tests.TestUtil;

namespace Backpressure.Runtime.Tests.Transports;

/// <summary>The WebSocket transport against a real Kestrel WebSocket server on 127.0.0.1, both directions.</summary>
public sealed class WebSocketMessageChannelTests
{
    private const int Mebibyte = 1024 * 1024;

    [Fact]
    public async Task ClientToServer_32MiB_ToASlowReader_ArrivesOnceInOrder_WithTheQueueBounded()
    {
        using var receiver = new SlowReceiver();
        await using var server = await WebSocketServer.StartAsync(socket => new WebSocketMessageChannel(socket, onMessage: receiver.OnMessage));
        using var client = new WebSocketMessageChannel(await server.ConnectAsync());
        var payload = Payload(32 * Mebibyte);

        await client.SendAsync(payload).Within("32 MiB are handed to the channel");
        await Eventually(() => receiver.Bytes == payload.Length, "every byte arrives");

        Assert.Equal(SHA256.HashData(payload), receiver.Hash());
        // The derived high watermark may rise by up to 15 x low while the sender's way back is slow for the link.
        var options = BackpressureOptions.Default;
        Assert.InRange(client.PeakBufferedAmount, 1, options.HighWatermark + (15 * options.LowThreshold) + options.ChunkSize);
    }

    [Fact]
    public async Task ServerToClient_16MiB_ArrivesOnceInOrder()
    {
        var payload = Payload(16 * Mebibyte);
        var sent = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var server = await WebSocketServer.StartAsync(socket =>
        {
            var channel = new WebSocketMessageChannel(socket);
            _ = Task.Run(async () =>
            {
                try
                {
                    await channel.SendAsync(payload);
                    sent.TrySetResult();
                }
                catch (Exception ex)
                {
                    sent.TrySetException(ex);
                }
            });
            return channel;
        });

        using var receiver = new SlowReceiver();
        using var client = new WebSocketMessageChannel(await server.ConnectAsync(), onMessage: receiver.OnMessage);

        await sent.Task.Within("the server hands 16 MiB to its channel");
        await Eventually(() => receiver.Bytes == payload.Length, "every byte arrives");
        Assert.Equal(SHA256.HashData(payload), receiver.Hash());
    }

    [Fact]
    public async Task ServerClosingMidTransfer_FaultsTheClientsSendPromptly_Typed()
    {
        using var receiver = new SlowReceiver();
        WebSocketMessageChannel? serverSide = null;
        receiver.AfterMessage = total => { if (total >= 4 * Mebibyte) { serverSide!.Close(); } };
        await using var server = await WebSocketServer.StartAsync(socket => serverSide = new WebSocketMessageChannel(socket, onMessage: receiver.OnMessage));
        using var client = new WebSocketMessageChannel(await server.ConnectAsync());

        var failure = await Assert.ThrowsAnyAsync<BufferedChannelException>(() => client.SendAsync(Payload(64 * Mebibyte)).Within("the send notices the server's close"));

        Assert.InRange(failure.BytesSent, 4 * Mebibyte, (64 * Mebibyte) - 1);
    }

    /// <summary>Kestrel on 127.0.0.1 with one WebSocket endpoint; each accepted socket becomes a channel the server keeps until it ends.</summary>
    private sealed class WebSocketServer : IAsyncDisposable
    {
        private readonly WebApplication _app;
        private readonly Uri _uri;

        private WebSocketServer(WebApplication app, Uri uri)
        {
            _app = app;
            _uri = uri;
        }

        public static async Task<WebSocketServer> StartAsync(Func<WebSocket, QueuedMessageChannel> accept)
        {
            // No watching of appsettings files: each host would take an inotify instance on a shared CI box.
            var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = ["--hostBuilder:reloadConfigOnChange=false"] });
            builder.WebHost.UseUrls("http://127.0.0.1:0");
            builder.Logging.ClearProviders();
            var app = builder.Build();
            app.UseWebSockets();
            app.Map("/ws", async (HttpContext context) =>
            {
                using var channel = accept(await context.WebSockets.AcceptWebSocketAsync());
                await channel.Completion; // the socket lives as long as its channel
            });

            await app.StartAsync().Within("Kestrel starts");
            var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
            return new WebSocketServer(app, new Uri(address.Replace("http://", "ws://", StringComparison.Ordinal) + "/ws"));
        }

        public async Task<WebSocket> ConnectAsync()
        {
            var socket = new ClientWebSocket();
            await socket.ConnectAsync(_uri, CancellationToken.None).Within("the client connects");
            return socket;
        }

        public async ValueTask DisposeAsync()
        {
            using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            await _app.StopAsync(stop.Token);
            await _app.DisposeAsync();
        }
    }
}
