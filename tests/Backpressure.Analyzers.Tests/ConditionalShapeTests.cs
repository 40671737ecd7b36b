using Verify = Backpressure.Analyzers.Tests.CSharpCodeFixVerifier<
    Backpressure.Analyzers.BP0001BufferedAmountPollingAnalyzer,
    Backpressure.CodeFixes.BP0001BufferedAmountPollingCodeFix>;

namespace Backpressure.Analyzers.Tests;

/// <summary>Waits gated by an if: inside a send loop, the setTimeout twin, timers, SpinUntil and tick loops.</summary>
public sealed class ConditionalShapeTests
{
    [Fact]
    public Task Rewrites_IfDelayContinue_AtTheTopOfASendLoop() => Verify.VerifyCodeFixAsync(
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
                    [|if (channel.BufferedAmount > 65536)|]
                    {
                        await Task.Delay(50);
                        continue;
                    }

                    var length = Math.Min(16384, data.Length - offset);
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
                while (offset < data.Length)
                {
                    if (channel.BufferedAmount > 65536)
                    {
                        await channel.AsBufferedChannel().WaitForBufferedAmountLowAsync(65536);
                        continue;
                    }

                    var length = Math.Min(16384, data.Length - offset);
                    channel.Send(data.AsMemory(offset, length));
                    offset += length;
                }
            }
        }
        """);

    [Fact]
    public Task Rewrites_IfDelayContinue_InAForLoop_KeepingTheContinueAndWhatItDoes() => Verify.VerifyCodeFixAsync(
        """
        using System;
        using System.Threading.Tasks;
        using Acme.Transport;

        class Sender
        {
            async Task SendAsync(MessageChannel channel, byte[] data)
            {
                for (var offset = 0; offset < data.Length; offset += 16384)
                {
                    [|if (channel.BufferedAmount > 65536)|]
                    {
                        await Task.Delay(50);
                        continue;
                    }

                    channel.Send(data.AsMemory(offset, Math.Min(16384, data.Length - offset)));
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
                for (var offset = 0; offset < data.Length; offset += 16384)
                {
                    if (channel.BufferedAmount > 65536)
                    {
                        await channel.AsBufferedChannel().WaitForBufferedAmountLowAsync(65536);
                        continue;
                    }

                    channel.Send(data.AsMemory(offset, Math.Min(16384, data.Length - offset)));
                }
            }
        }
        """);

    [Fact]
    public Task Rewrites_IfDelayContinue_AfterOtherWork_InALoopWithAComplexCondition() => Verify.VerifyCodeFixAsync(
        """
        using System;
        using System.IO;
        using System.Threading.Tasks;
        using Acme.Transport;

        class Sender
        {
            private bool stopped;

            async Task SendAsync(MessageChannel channel, Stream source, byte[] buffer)
            {
                while (!stopped && channel.IsOpen)
                {
                    var read = await source.ReadAsync(buffer);
                    [|if (channel.BufferedAmount > 65536)|]
                    {
                        await Task.Delay(50);
                        continue;
                    }

                    channel.Send(buffer.AsMemory(0, read));
                }
            }
        }
        """,
        """
        using System;
        using System.IO;
        using System.Threading.Tasks;
        using Acme.Transport;
        using Backpressure;

        class Sender
        {
            private bool stopped;

            async Task SendAsync(MessageChannel channel, Stream source, byte[] buffer)
            {
                while (!stopped && channel.IsOpen)
                {
                    var read = await source.ReadAsync(buffer);
                    if (channel.BufferedAmount > 65536)
                    {
                        await channel.AsBufferedChannel().WaitForBufferedAmountLowAsync(65536);
                        continue;
                    }

                    channel.Send(buffer.AsMemory(0, read));
                }
            }
        }
        """);

    [Fact]
    public Task Rewrites_TheSetTimeoutTwin_TriggeringTheContinuationOnTheLowEvent() => Verify.VerifyCodeFixAsync(
        """
        using System;
        using System.Threading.Tasks;
        using SIPSorcery.Net;

        class PeerSession
        {
            private readonly RTCDataChannel dc = new();
            private readonly byte[] buffer = new byte[1 << 20];
            private int offset;

            void SendChunk()
            {
                while (offset < buffer.Length)
                {
                    [|if (dc.bufferedAmount > dc.bufferedAmountLowThreshold)|]
                    {
                        Task.Delay(50).ContinueWith(_ => SendChunk());
                        return;
                    }

                    var length = Math.Min(16384, buffer.Length - offset);
                    dc.send(buffer, offset, length);
                    offset += length;
                }
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
            private readonly RTCDataChannel dc = new();
            private readonly byte[] buffer = new byte[1 << 20];
            private int offset;

            void SendChunk()
            {
                while (offset < buffer.Length)
                {
                    if (dc.bufferedAmount > dc.bufferedAmountLowThreshold)
                    {
                        dc.AsBufferedChannel().WaitForBufferedAmountLowAsync(dc.bufferedAmountLowThreshold).AsTask().ContinueWith(_ => SendChunk());
                        return;
                    }

                    var length = Math.Min(16384, buffer.Length - offset);
                    dc.send(buffer, offset, length);
                    offset += length;
                }
            }
        }
        """);

    [Fact]
    public Task Reports_ThreadingTimerReschedule_WithoutAFix()
    {
        const string Source = """
            using System.Threading;
            using Acme.Transport;

            class Sender
            {
                private readonly Timer timer;
                private readonly MessageChannel channel = new();

                Sender() => timer = new Timer(_ => SendNext());

                void SendNext()
                {
                    [|if (channel.BufferedAmount > 65536)|]
                    {
                        timer.Change(50, Timeout.Infinite);
                        return;
                    }

                    channel.Send(new byte[16384]);
                }
            }
            """;
        return Verify.VerifyCodeFixAsync(Source, Source);
    }

    [Fact]
    public Task Reports_TimersTimerRestart_WithoutAFix()
    {
        const string Source = """
            using Acme.Transport;

            class Sender
            {
                private readonly System.Timers.Timer timer = new(50) { AutoReset = false };
                private readonly MessageChannel channel = new();

                void SendNext()
                {
                    [|if (channel.BufferedAmount >= 65536)|]
                    {
                        timer.Start();
                        return;
                    }

                    channel.Send(new byte[16384]);
                }
            }
            """;
        return Verify.VerifyCodeFixAsync(Source, Source);
    }

    [Fact]
    public Task Reports_ADelayOnceWhenOver_WithoutAFix_BecauseItDoesNotWaitUntilLow()
    {
        const string Source = """
            using System.Threading.Tasks;
            using Acme.Transport;

            class Sender
            {
                async Task SendAsync(MessageChannel channel, byte[] chunk)
                {
                    [|if (channel.BufferedAmount > 65536)|]
                        await Task.Delay(50);
                    channel.Send(chunk);
                }
            }
            """;
        return Verify.VerifyCodeFixAsync(Source, Source);
    }

    [Fact]
    public Task Rewrites_SpinUntil_InAsyncCode() => Verify.VerifyCodeFixAsync(
        """
        using System.Threading;
        using System.Threading.Tasks;
        using Acme.Transport;

        class Sender
        {
            async Task SendAsync(MessageChannel channel, byte[] chunk)
            {
                [|SpinWait.SpinUntil(() => channel.BufferedAmount < 4096)|];
                channel.Send(chunk);
                await Task.CompletedTask;
            }
        }
        """,
        """
        using System.Threading;
        using System.Threading.Tasks;
        using Acme.Transport;
        using Backpressure;

        class Sender
        {
            async Task SendAsync(MessageChannel channel, byte[] chunk)
            {
                await channel.AsBufferedChannel().WaitForBufferedAmountLowAsync(4095);
                channel.Send(chunk);
                await Task.CompletedTask;
            }
        }
        """);

    [Fact]
    public Task Reports_SpinUntil_WithATimeoutOrInSyncCode_WithoutAFix()
    {
        const string Source = """
            using System.Threading;
            using Acme.Transport;

            class Sender
            {
                bool TrySend(MessageChannel channel, byte[] chunk)
                {
                    [|SpinWait.SpinUntil(() => channel.BufferedAmount <= 4096)|];
                    if (![|SpinWait.SpinUntil(() => channel.BufferedAmount <= 4096, 100)|])
                    {
                        return false;
                    }

                    channel.Send(chunk);
                    return true;
                }
            }
            """;
        return Verify.VerifyCodeFixAsync(Source, Source);
    }

    [Fact]
    public Task Reports_APeriodicTimerTickLoop_GatedOnTheAmount()
    {
        const string Source = """
            using System;
            using System.Threading;
            using System.Threading.Tasks;
            using Acme.Transport;

            class Sender
            {
                async Task SendAsync(MessageChannel channel, byte[] data, CancellationToken ct)
                {
                    using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(10));
                    var offset = 0;
                    [|while (offset < data.Length && await timer.WaitForNextTickAsync(ct))|]
                    {
                        if (channel.BufferedAmount > 65536)
                        {
                            continue;
                        }

                        channel.Send(data.AsMemory(offset, Math.Min(16384, data.Length - offset)));
                        offset += 16384;
                    }
                }
            }
            """;
        return Verify.VerifyCodeFixAsync(Source, Source);
    }

    [Fact]
    public Task Reports_CompoundConditions_WithoutAFix()
    {
        const string Source = """
            using System.Threading.Tasks;
            using Acme.Transport;

            class Sender
            {
                async Task PumpAsync(MessageChannel channel)
                {
                    [|while (channel.IsOpen && channel.BufferedAmount > 10)|] await Task.Delay(1);
                }
            }
            """;
        return Verify.VerifyCodeFixAsync(Source, Source);
    }

    [Fact]
    public Task Reports_AChannelWithNoAdapter_WithoutAFix()
    {
        const string Source = """
            using System.Threading.Tasks;
            using Acme.Transport;

            class Sender
            {
                async Task PumpAsync(UnadaptedChannel channel)
                {
                    [|while (channel.BufferedAmount > 10)|] await Task.Delay(1);
                }
            }
            """;
        return Verify.VerifyCodeFixAsync(Source, Source);
    }

    [Fact]
    public Task Reports_AReceiverThatIsACall_WithoutAFix_BecauseItWouldBeEvaluatedOnce()
    {
        const string Source = """
            using System.Threading.Tasks;
            using Acme.Transport;

            class Sender
            {
                MessageChannel Current() => new();

                async Task PumpAsync()
                {
                    [|while (Current().BufferedAmount > 10)|] await Task.Delay(1);
                }
            }
            """;
        return Verify.VerifyCodeFixAsync(Source, Source);
    }

    [Fact]
    public Task Rewrites_AnEmbeddedLoop_AsOneStatement() => Verify.VerifyCodeFixAsync(
        """
        using System.Threading.Tasks;
        using Acme.Transport;

        class Sender
        {
            async Task PumpAsync(MessageChannel channel, bool throttled)
            {
                if (throttled)
                    [|while (channel.BufferedAmount > 10)|] await Task.Delay(1);
            }
        }
        """,
        """
        using System.Threading.Tasks;
        using Acme.Transport;
        using Backpressure;

        class Sender
        {
            async Task PumpAsync(MessageChannel channel, bool throttled)
            {
                if (throttled)
                    await channel.AsBufferedChannel().WaitForBufferedAmountLowAsync(10);
            }
        }
        """);
}
