using System.IO.Pipes;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Backpressure;
using static Backpressure.Runtime.Tests.TestUtil;

namespace Backpressure.Runtime.Tests.Transports;

/// <summary>The stream transport over real I/O on this machine: TCP and TLS on 127.0.0.1, and OS pipes.</summary>
public sealed class StreamMessageChannelTests
{
    private const int Mebibyte = 1024 * 1024;

    [Fact]
    public async Task Tcp_32MiB_ToASlowReader_ArrivesOnceInOrder_WithTheQueueBounded()
    {
        using var pair = await TcpPair.ConnectAsync();
        using var receiver = new SlowReceiver();
        using var server = new StreamMessageChannel(pair.Server.GetStream(), onMessage: receiver.OnMessage);
        using var client = new StreamMessageChannel(pair.Client.GetStream());
        var payload = Payload(32 * Mebibyte);
        var options = BackpressureOptions.Default;

        await client.SendAsync(payload, options).Within("32 MiB are handed to the channel");
        await Eventually(() => receiver.Bytes == payload.Length, "every byte arrives");

        Assert.Equal(SHA256.HashData(payload), receiver.Hash());
        // The derived high watermark may rise by up to 15 x low while the sender's way back is slow for the link.
        Assert.InRange(client.PeakBufferedAmount, options.LowThreshold, options.HighWatermark + (15 * options.LowThreshold) + options.ChunkSize);
    }

    [Fact]
    public async Task Tcp_RemoteClosingMidTransfer_FaultsTheSendPromptly_Typed()
    {
        using var pair = await TcpPair.ConnectAsync();
        using var receiver = new SlowReceiver();
        StreamMessageChannel? server = null;
        receiver.AfterMessage = total => { if (total >= 4 * Mebibyte) { server!.Close(); } };
        server = new StreamMessageChannel(pair.Server.GetStream(), onMessage: receiver.OnMessage);
        using var client = new StreamMessageChannel(pair.Client.GetStream());

        var failure = await Assert.ThrowsAnyAsync<BufferedChannelException>(() => client.SendAsync(Payload(64 * Mebibyte)).Within("the send notices the remote close"));

        Assert.InRange(failure.BytesSent, 4 * Mebibyte, (64 * Mebibyte) - 1);

        // The send may fault on the Error event, which is raised before the channel's state reaches Closed.
        await Eventually(() => client.State == BufferedChannelState.Closed, "the client side closes");
        server.Dispose();
    }

    [Fact]
    public async Task Tls_8MiB_OverSslStream_ArrivesOnceInOrder()
    {
        using var pair = await TcpPair.ConnectAsync();
        using var certificate = SelfSignedCertificate();
        var serverTls = new SslStream(pair.Server.GetStream());
        var clientTls = new SslStream(pair.Client.GetStream(), leaveInnerStreamOpen: false, (_, _, _, _) => true);
        await Task.WhenAll(
            serverTls.AuthenticateAsServerAsync(certificate),
            clientTls.AuthenticateAsClientAsync("localhost")).Within("the TLS handshake completes");

        using var receiver = new SlowReceiver();
        using var server = new StreamMessageChannel(serverTls, onMessage: receiver.OnMessage);
        using var client = new StreamMessageChannel(clientTls);
        var payload = Payload(8 * Mebibyte);

        await client.SendAsync(payload).Within();
        await Eventually(() => receiver.Bytes == payload.Length, "every byte arrives");

        Assert.Equal(SHA256.HashData(payload), receiver.Hash());
    }

    [Fact]
    public async Task Pipe_8MiB_OverAnOSPipe_ArrivesOnceInOrder_FromAStreamSource()
    {
        using var output = new AnonymousPipeServerStream(PipeDirection.Out);
        using var input = new AnonymousPipeClientStream(PipeDirection.In, output.ClientSafePipeHandle);
        using var receiver = new SlowReceiver();
        using var reader = new StreamMessageChannel(input, onMessage: receiver.OnMessage);
        using var writer = new StreamMessageChannel(output, new MessageChannelOptions(leaveOpen: true));
        var payload = Payload(8 * Mebibyte);

        await writer.SendAsync(new MemoryStream(payload)).Within();
        await Eventually(() => receiver.Bytes == payload.Length, "every byte arrives");

        Assert.Equal(SHA256.HashData(payload), receiver.Hash());
    }

    [Fact]
    public async Task AFrameOverTheLimit_FailsTheReceivingChannel()
    {
        using var pair = await TcpPair.ConnectAsync();
        using var server = new StreamMessageChannel(pair.Server.GetStream(), new MessageChannelOptions(maxMessageSize: 1000));
        var error = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        server.Error += (_, e) => error.TrySetResult(e.Message);
        using var client = new StreamMessageChannel(pair.Client.GetStream());

        client.Send(new byte[5000]);

        Assert.Contains("at most 1000", await error.Task.Within(), StringComparison.Ordinal);
        await Eventually(() => server.State == BufferedChannelState.Closed, "the server side closes");
    }

    private static X509Certificate2 SelfSignedCertificate()
    {
        using var key = RSA.Create(2048);
        var request = new CertificateRequest("CN=localhost", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        using var ephemeral = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
        return X509CertificateLoader.LoadPkcs12(ephemeral.Export(X509ContentType.Pfx), password: null);
    }

    /// <summary>Two connected sockets on 127.0.0.1.</summary>
    private sealed class TcpPair : IDisposable
    {
        private TcpPair(TcpClient client, TcpClient server)
        {
            Client = client;
            Server = server;
        }

        public TcpClient Client { get; }

        public TcpClient Server { get; }

        public static async Task<TcpPair> ConnectAsync()
        {
            var listener = new TcpListener(IPAddress.Loopback, 0);
            listener.Start();
            try
            {
                var accepted = listener.AcceptTcpClientAsync();
                var client = new TcpClient();
                await client.ConnectAsync(IPAddress.Loopback, ((IPEndPoint)listener.LocalEndpoint).Port).Within("the client connects");
                return new TcpPair(client, await accepted.Within("the server accepts"));
            }
            finally
            {
                listener.Stop();
            }
        }

        public void Dispose()
        {
            Client.Dispose();
            Server.Dispose();
        }
    }
}
