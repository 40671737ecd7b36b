using static Backpressure.CodeFixes.BP0001BufferedAmountPollingCodeFix;
using Verify = Backpressure.Analyzers.Tests.CSharpCodeFixVerifier<
    Backpressure.Analyzers.BP0001BufferedAmountPollingAnalyzer,
    Backpressure.CodeFixes.BP0001BufferedAmountPollingCodeFix>;

namespace Backpressure.Analyzers.Tests;

/// <summary>The second level: a whole chunked-send loop recognised with confidence becomes one SendAsync.</summary>
public sealed class SendLoopTests
{
    [Fact]
    public Task Rewrites_AForSendLoop_WithAWaitLoop_OnSipsorcery() => Verify.VerifyCodeFixAsync(
        """
        using System;
        using System.Threading;
        using System.Threading.Tasks;
        using SIPSorcery.Net;

        class FileSender
        {
            private const int ChunkSize = 16 * 1024;

            async Task SendFileAsync(RTCDataChannel dc, byte[] file, CancellationToken ct)
            {
                // One chunk at a time, never more than 64 KiB queued.
                for (var offset = 0; offset < file.Length; offset += ChunkSize)
                {
                    [|while (dc.bufferedAmount > 65536)|]
                    {
                        await Task.Delay(50, ct);
                    }

                    dc.send(file, offset, Math.Min(ChunkSize, file.Length - offset));
                }

                Console.WriteLine("sent");
            }
        }
        """,
        """
        using System;
        using System.Threading;
        using System.Threading.Tasks;
        using Backpressure;
        using SIPSorcery.Net;

        class FileSender
        {
            private const int ChunkSize = 16 * 1024;

            async Task SendFileAsync(RTCDataChannel dc, byte[] file, CancellationToken ct)
            {
                // One chunk at a time, never more than 64 KiB queued.
                await dc.AsBufferedChannel().SendAsync(file, new BackpressureOptions(chunkSize: ChunkSize, lowThreshold: 65536, highWatermark: 65536), cancellationToken: ct);

                Console.WriteLine("sent");
            }
        }
        """,
        ReplaceSendLoopEquivalenceKey);

    [Fact]
    public Task Rewrites_AWhileSendLoop_WithIfContinue_AndALengthLocal() => Verify.VerifyCodeFixAsync(
        """
        using System;
        using System.Threading.Tasks;
        using Acme.Transport;

        class Sender
        {
            async Task SendAsync(MessageChannel channel, byte[] data)
            {
                var offset = 0;
                while (offset < data.Length)
                {
                    [|if (channel.BufferedAmount >= 65536)|]
                    {
                        await Task.Delay(50).ConfigureAwait(false);
                        continue;
                    }

                    var length = Math.Min(data.Length - offset, 16384);
                    channel.Send(data.AsMemory(offset, length));
                    offset += length;
                }
            }
        }
        """,
        """
        using System;
        using System.Threading.Tasks;
        using Acme.Transport;
        using Backpressure;

        class Sender
        {
            async Task SendAsync(MessageChannel channel, byte[] data)
            {
                var offset = 0;
                await channel.AsBufferedChannel().SendAsync(data, new BackpressureOptions(chunkSize: 16384, lowThreshold: 65535, highWatermark: 65535)).ConfigureAwait(false);
            }
        }
        """,
        ReplaceSendLoopEquivalenceKey);

    [Fact]
    public Task OffersBothLevels_TheWaitAloneStillAvailable() => Verify.VerifyCodeFixAsync(
        """
        using System;
        using System.Threading.Tasks;
        using Acme.Transport;

        class Sender
        {
            async Task SendAsync(MessageChannel channel, byte[] data)
            {
                for (int offset = 0; offset < data.Length; offset += 4096)
                {
                    [|while (channel.BufferedAmount > 8192)|] await Task.Delay(10);
                    channel.Send(new ReadOnlyMemory<byte>(data, offset, Math.Min(4096, data.Length - offset)));
                }
            }
        }
        """,
        """
        using System;
        using System.Threading.Tasks;
        using Acme.Transport;
        using Backpressure;

        class Sender
        {
            async Task SendAsync(MessageChannel channel, byte[] data)
            {
                for (int offset = 0; offset < data.Length; offset += 4096)
                {
                    await channel.AsBufferedChannel().WaitForBufferedAmountLowAsync(8192);
                    channel.Send(new ReadOnlyMemory<byte>(data, offset, Math.Min(4096, data.Length - offset)));
                }
            }
        }
        """,
        ReplaceWaitEquivalenceKey);

    [Fact]
    public Task Rewrites_TheSeedsExecuteSend_TheSetTimeoutTwin_IntoOneSendAsync() => Verify.VerifyCodeFixAsync(
        """
        using System;
        using System.Threading.Tasks;
        using SIPSorcery.Net;

        class PeerSession
        {
            private const int ChunkSize = 16 * 1024;
            private readonly RTCDataChannel dc = new();

            public Task ExecuteSend(byte[] buffer)
            {
                dc.bufferedAmountLowThreshold = 64 * 1024;
                var tcs = new TaskCompletionSource();
                var offset = 0;

                void SendChunk()
                {
                    try
                    {
                        while (offset < buffer.Length)
                        {
                            [|if (dc.bufferedAmount > dc.bufferedAmountLowThreshold)|]
                            {
                                Task.Delay(50).ContinueWith(_ => SendChunk());
                                return;
                            }

                            var length = Math.Min(ChunkSize, buffer.Length - offset);
                            dc.send(buffer, offset, length);
                            offset += length;
                        }

                        tcs.TrySetResult();
                    }
                    catch (Exception e)
                    {
                        tcs.TrySetException(e);
                    }
                }

                SendChunk();
                return tcs.Task;
            }
        }
        """,
        """
        using System;
        using System.Threading.Tasks;
        using Backpressure;
        using SIPSorcery.Net;

        class PeerSession
        {
            private const int ChunkSize = 16 * 1024;
            private readonly RTCDataChannel dc = new();

            public Task ExecuteSend(byte[] buffer)
            {
                dc.bufferedAmountLowThreshold = 64 * 1024;
                return dc.AsBufferedChannel().SendAsync(buffer, new BackpressureOptions(chunkSize: ChunkSize, lowThreshold: checked((long)dc.bufferedAmountLowThreshold), highWatermark: checked((long)dc.bufferedAmountLowThreshold)));
            }
        }
        """,
        ReplaceSendLoopEquivalenceKey);

    [Fact]
    public Task DoesNotRewriteTheTwin_WhenTheMethodDoesMoreWithItsSource()
    {
        const string Source = """
            using System;
            using System.Threading.Tasks;
            using SIPSorcery.Net;

            class PeerSession
            {
                private readonly RTCDataChannel dc = new();

                public Task ExecuteSend(byte[] buffer)
                {
                    var tcs = new TaskCompletionSource();
                    var offset = 0;

                    void SendChunk()
                    {
                        while (offset < buffer.Length)
                        {
                            [|if (dc.bufferedAmount > 65536)|]
                            {
                                Task.Delay(50).ContinueWith(_ => SendChunk());
                                return;
                            }

                            var length = Math.Min(16384, buffer.Length - offset);
                            dc.send(buffer, offset, length);
                            offset += length;
                        }

                        tcs.TrySetResult();
                    }

                    SendChunk();
                    dc.onclose += () => tcs.TrySetCanceled();
                    return tcs.Task;
                }
            }
            """;
        return Verify.VerifyCodeFixAsync(Source, Source, ReplaceSendLoopEquivalenceKey);
    }

    public static TheoryData<string, string> NotASimpleSendLoop() => new()
    {
        { "the offset resumes from a saved position", """
            var offset = 0;
            offset = Math.Min(saved, data.Length);
            while (offset < data.Length)
            {
                [|if (channel.BufferedAmount > 65536)|] { await Task.Delay(50); continue; }
                var length = Math.Min(16384, data.Length - offset);
                channel.Send(data.AsMemory(offset, length));
                offset += length;
            }
            """ },
        { "the offset is read after the loop", """
            var offset = 0;
            while (offset < data.Length)
            {
                [|if (channel.BufferedAmount > 65536)|] { await Task.Delay(50); continue; }
                var length = Math.Min(16384, data.Length - offset);
                channel.Send(data.AsMemory(offset, length));
                offset += length;
            }
            Console.WriteLine(offset);
            """ },
        { "the loop also logs", """
            for (var offset = 0; offset < data.Length; offset += 16384)
            {
                [|while (channel.BufferedAmount > 65536)|] await Task.Delay(50);
                Console.WriteLine(offset);
                channel.Send(data.AsMemory(offset, Math.Min(16384, data.Length - offset)));
            }
            """ },
        { "the step differs from the chunk", """
            for (var offset = 0; offset < data.Length; offset += 1000)
            {
                [|while (channel.BufferedAmount > 65536)|] await Task.Delay(50);
                channel.Send(data.AsMemory(offset, Math.Min(16384, data.Length - offset)));
            }
            """ },
        { "it sends to another channel", """
            for (var offset = 0; offset < data.Length; offset += 16384)
            {
                [|while (channel.BufferedAmount > 65536)|] await Task.Delay(50);
                other.Send(data.AsMemory(offset, Math.Min(16384, data.Length - offset)));
            }
            """ },
        { "it starts past zero", """
            for (var offset = 100; offset < data.Length; offset += 16384)
            {
                [|while (channel.BufferedAmount > 65536)|] await Task.Delay(50);
                channel.Send(data.AsMemory(offset, Math.Min(16384, data.Length - offset)));
            }
            """ },
    };

    [Theory]
    [MemberData(nameof(NotASimpleSendLoop))]
    public Task DoesNotOfferTheSendLoopFix_When(string why, string body)
    {
        _ = why;
        var source = $$"""
            using System;
            using System.Threading.Tasks;
            using Acme.Transport;

            class Sender
            {
                async Task SendAsync(MessageChannel channel, MessageChannel other, byte[] data, int saved)
                {
            {{string.Join("\n", body.Split('\n').Select(line => "        " + line))}}
                }
            }
            """;
        return Verify.VerifyCodeFixAsync(source, source, ReplaceSendLoopEquivalenceKey);
    }
}
