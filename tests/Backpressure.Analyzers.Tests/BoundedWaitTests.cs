using Microsoft.CodeAnalysis.Testing;
using Verify = Backpressure.Analyzers.Tests.CSharpCodeFixVerifier<
    Backpressure.Analyzers.BP0001BufferedAmountPollingAnalyzer,
    Backpressure.CodeFixes.BP0001BufferedAmountPollingCodeFix>;

namespace Backpressure.Analyzers.Tests;

/// <summary>
/// The shapes real polling code has (deadlines, null tests, throwing guards, counters, lambdas, predicates,
/// coroutines), found by the flow analysis and fixed by the bounded wait, which replaces only the timer call.
/// </summary>
public sealed class BoundedWaitTests
{
    private const string Key = Backpressure.CodeFixes.BP0001BufferedAmountPollingCodeFix.BoundedWaitEquivalenceKey;

    [Fact]
    public Task Bounds_TheDelay_OfADrainBeforeClose_WithAnElapsedCounter() => Verify.VerifyCodeFixAsync(
        """
        using System.Threading.Tasks;
        using SIPSorcery.Net;

        class Session
        {
            async Task CloseAsync(RTCDataChannel dc)
            {
                var waited = 0;
                [|while (dc.bufferedAmount > 0 && waited < 2000)|]
                {
                    await Task.Delay(50);
                    waited += 50;
                }

                dc.close();
            }
        }
        """,
        """
        using System.Threading.Tasks;
        using Backpressure;
        using SIPSorcery.Net;

        class Session
        {
            async Task CloseAsync(RTCDataChannel dc)
            {
                var waited = 0;
                while (dc.bufferedAmount > 0 && waited < 2000)
                {
                    await dc.AsBufferedChannel().DelayUntilBufferedAmountLowAsync(0, 50);
                    waited += 50;
                }

                dc.close();
            }
        }
        """,
        Key);

    [Fact]
    public Task Bounds_TheDelay_UnderADeadline_KeepingTokenAndConfigureAwait() => Verify.VerifyCodeFixAsync(
        """
        using System;
        using System.Threading;
        using System.Threading.Tasks;
        using SIPSorcery.Net;

        class Session
        {
            async Task DrainAsync(RTCDataChannel dc, CancellationToken ct)
            {
                var deadline = DateTime.UtcNow.AddSeconds(5);
                [|while (dc.bufferedAmount > 0 && DateTime.UtcNow < deadline)|] await Task.Delay(20, ct).ConfigureAwait(false);
            }
        }
        """,
        """
        using System;
        using System.Threading;
        using System.Threading.Tasks;
        using Backpressure;
        using SIPSorcery.Net;

        class Session
        {
            async Task DrainAsync(RTCDataChannel dc, CancellationToken ct)
            {
                var deadline = DateTime.UtcNow.AddSeconds(5);
                while (dc.bufferedAmount > 0 && DateTime.UtcNow < deadline) await dc.AsBufferedChannel().DelayUntilBufferedAmountLowAsync(0, 20, ct).ConfigureAwait(false);
            }
        }
        """,
        Key);

    // The null test, the state check that throws its own IOException and the stall timeout all stay; the nullable
    // project gets no new warning (the verifier compiles the fixed code and compares its diagnostics).
    [Fact]
    public Task Bounds_TheDelay_BehindANullTest_AndGuardsThatThrow_InANullableProject() => Verify.VerifyCodeFixAsync(
        """
        #nullable enable
        using System;
        using System.Diagnostics;
        using System.IO;
        using System.Threading;
        using System.Threading.Tasks;
        using SIPSorcery.Net;

        class Sender
        {
            private const ulong Max = 1024 * 1024;
            private readonly TimeSpan pause = TimeSpan.FromMilliseconds(10);
            private RTCDataChannel? _dc;

            async Task SendAsync(byte[] chunk, CancellationToken ct)
            {
                var clock = Stopwatch.StartNew();
                [|while (_dc is not null && _dc.bufferedAmount > Max)|]
                {
                    if (_dc.readyState != RTCDataChannelState.open) throw new IOException("channel closed");
                    if (clock.Elapsed > TimeSpan.FromSeconds(30)) throw new TimeoutException("send stalled");
                    await Task.Delay(pause, ct);
                }

                _dc?.send(chunk);
            }
        }
        """,
        """
        #nullable enable
        using System;
        using System.Diagnostics;
        using System.IO;
        using System.Threading;
        using System.Threading.Tasks;
        using Backpressure;
        using SIPSorcery.Net;

        class Sender
        {
            private const ulong Max = 1024 * 1024;
            private readonly TimeSpan pause = TimeSpan.FromMilliseconds(10);
            private RTCDataChannel? _dc;

            async Task SendAsync(byte[] chunk, CancellationToken ct)
            {
                var clock = Stopwatch.StartNew();
                while (_dc is not null && _dc.bufferedAmount > Max)
                {
                    if (_dc.readyState != RTCDataChannelState.open) throw new IOException("channel closed");
                    if (clock.Elapsed > TimeSpan.FromSeconds(30)) throw new TimeoutException("send stalled");
                    await _dc.AsBufferedChannel().DelayUntilBufferedAmountLowAsync(Max, pause, ct);
                }

                _dc?.send(chunk);
            }
        }
        """,
        Key);

    [Fact]
    public Task KeepsTheNullForgivingOperator_OfTheComparedChannel() => Verify.VerifyCodeFixAsync(
        """
        #nullable enable
        using System.Threading.Tasks;
        using SIPSorcery.Net;

        class Sender
        {
            private RTCDataChannel? _dc;

            async Task PumpAsync()
            {
                [|while (_dc!.bufferedAmount > 65536)|]
                {
                    await Task.Delay(50);
                    if (_dc.readyState == RTCDataChannelState.closed) return;
                }
            }
        }
        """,
        """
        #nullable enable
        using System.Threading.Tasks;
        using Backpressure;
        using SIPSorcery.Net;

        class Sender
        {
            private RTCDataChannel? _dc;

            async Task PumpAsync()
            {
                while (_dc!.bufferedAmount > 65536)
                {
                    await _dc!.AsBufferedChannel().DelayUntilBufferedAmountLowAsync(65536, 50);
                    if (_dc.readyState == RTCDataChannelState.closed) return;
                }
            }
        }
        """,
        Key);

    // `_dc?.bufferedAmount > x` is false without a channel, so the wait is only reached with one: `_dc!`.
    [Fact]
    public Task Bounds_TheDelay_OfAConditionalAccess_MakingTheChannelDefinite() => Verify.VerifyCodeFixAsync(
        """
        #nullable enable
        using System.Threading.Tasks;
        using SIPSorcery.Net;

        class Sender
        {
            private RTCDataChannel? _dc;

            async Task PumpAsync()
            {
                [|while (_dc?.bufferedAmount > 65536)|] await Task.Delay(50);
            }
        }
        """,
        """
        #nullable enable
        using System.Threading.Tasks;
        using Backpressure;
        using SIPSorcery.Net;

        class Sender
        {
            private RTCDataChannel? _dc;

            async Task PumpAsync()
            {
                while (_dc?.bufferedAmount > 65536) await _dc!.AsBufferedChannel().DelayUntilBufferedAmountLowAsync(65536, 50);
            }
        }
        """,
        Key);

    [Fact]
    public Task Bounds_TheDelay_InAnAsyncEventHandlerLambda() => Verify.VerifyCodeFixAsync(
        """
        using System;
        using System.Threading.Tasks;
        using SIPSorcery.Net;

        class FileSender
        {
            void Start(RTCDataChannel dc, byte[] file)
            {
                dc.onopen += async () =>
                {
                    for (var offset = 0; offset < file.Length; offset += 16384)
                    {
                        [|while (dc.bufferedAmount > 65536)|] await Task.Delay(50);
                        dc.send(file, offset, Math.Min(16384, file.Length - offset));
                    }
                };
            }
        }
        """,
        """
        using System;
        using System.Threading.Tasks;
        using Backpressure;
        using SIPSorcery.Net;

        class FileSender
        {
            void Start(RTCDataChannel dc, byte[] file)
            {
                dc.onopen += async () =>
                {
                    for (var offset = 0; offset < file.Length; offset += 16384)
                    {
                        while (dc.bufferedAmount > 65536) await dc.AsBufferedChannel().DelayUntilBufferedAmountLowAsync(65536, 50);
                        dc.send(file, offset, Math.Min(16384, file.Length - offset));
                    }
                };
            }
        }
        """,
        Key);

    // The whole-loop rewrite is offered in a lambda too, since the lambda is async.
    [Fact]
    public Task ReplacesTheWaitLoop_InAnAsyncLambda() => Verify.VerifyCodeFixAsync(
        """
        using System.Threading.Tasks;
        using Acme.Transport;

        class Pump
        {
            Task RunAsync(MessageChannel channel, byte[] chunk) => Task.Run(async () =>
            {
                [|while (channel.BufferedAmount > 65536)|] await Task.Delay(50);
                channel.Send(chunk);
            });
        }
        """,
        """
        using System.Threading.Tasks;
        using Acme.Transport;
        using Backpressure;

        class Pump
        {
            Task RunAsync(MessageChannel channel, byte[] chunk) => Task.Run(async () =>
            {
                await channel.AsBufferedChannel().WaitForBufferedAmountLowAsync(65536);
                channel.Send(chunk);
            });
        }
        """);

    [Fact]
    public Task Bounds_ASleep_WithACounter_InASynchronousLambda() => Verify.VerifyCodeFixAsync(
        """
        using System.Threading;
        using System.Threading.Tasks;
        using Acme.Transport;

        class Pump
        {
            Task<int> RunAsync(MessageChannel channel) => Task.Run(() =>
            {
                var sleeps = 0;
                [|while (channel.BufferedAmount > 4096)|]
                {
                    Thread.Sleep(5);
                    sleeps++;
                }

                return sleeps;
            });
        }
        """,
        """
        using System.Threading;
        using System.Threading.Tasks;
        using Acme.Transport;
        using Backpressure;

        class Pump
        {
            Task<int> RunAsync(MessageChannel channel) => Task.Run(() =>
            {
                var sleeps = 0;
                while (channel.BufferedAmount > 4096)
                {
                    channel.AsBufferedChannel().SleepUntilBufferedAmountLow(4096, 5);
                    sleeps++;
                }

                return sleeps;
            });
        }
        """,
        Key);

    // Both predicates read the amount; the threshold and channel they name are read where the wait is. Fix-all
    // (which the verifier runs too) rewrites both and adds the using once.
    [Fact]
    public Task Bounds_WaitsBehindAPredicatePropertyAndMethod() => Verify.VerifyCodeFixAsync(
        """
        using System.Threading;
        using System.Threading.Tasks;
        using Acme.Transport;

        class Sender
        {
            private const long Limit = 256 * 1024;
            private readonly MessageChannel _channel = new();

            private bool IsCongested => _channel.BufferedAmount > Limit;

            private bool CanSend() => _channel.BufferedAmount < Limit;

            async Task SendAsync(byte[] chunk)
            {
                [|while (IsCongested)|] await Task.Delay(10);
                _channel.Send(chunk);
            }

            void Send(byte[] chunk)
            {
                [|while (!CanSend())|] Thread.Sleep(5);
                _channel.Send(chunk);
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
            private const long Limit = 256 * 1024;
            private readonly MessageChannel _channel = new();

            private bool IsCongested => _channel.BufferedAmount > Limit;

            private bool CanSend() => _channel.BufferedAmount < Limit;

            async Task SendAsync(byte[] chunk)
            {
                while (IsCongested) await _channel.AsBufferedChannel().DelayUntilBufferedAmountLowAsync(Limit, 10);
                _channel.Send(chunk);
            }

            void Send(byte[] chunk)
            {
                while (!CanSend()) _channel.AsBufferedChannel().SleepUntilBufferedAmountLow(Limit - 1, 5);
                _channel.Send(chunk);
            }
        }
        """,
        Key);

    [Fact]
    public Task Bounds_ASpinWait_InALocalFunction() => Verify.VerifyCodeFixAsync(
        """
        using System.Threading;
        using Acme.Transport;

        class Flusher
        {
            void Flush(MessageChannel channel)
            {
                Drain();

                void Drain()
                {
                    var spinner = new SpinWait();
                    [|while (channel.BufferedAmount > 0)|] spinner.SpinOnce();
                }
            }
        }
        """,
        """
        using System.Threading;
        using Acme.Transport;
        using Backpressure;

        class Flusher
        {
            void Flush(MessageChannel channel)
            {
                Drain();

                void Drain()
                {
                    var spinner = new SpinWait();
                    while (channel.BufferedAmount > 0) channel.AsBufferedChannel().SleepUntilBufferedAmountLow(0, 1);
                }
            }
        }
        """,
        Key);

    [Fact]
    public Task Bounds_TaskYield_ToTheShortestWait() => Verify.VerifyCodeFixAsync(
        """
        using System.Threading.Tasks;
        using Acme.Transport;

        class Pump
        {
            async Task PumpAsync(MessageChannel channel)
            {
                var rounds = 0;
                [|while (channel.BufferedAmount >= 4096 && rounds++ < 1000)|] await Task.Yield();
            }
        }
        """,
        """
        using System.Threading.Tasks;
        using Acme.Transport;
        using Backpressure;

        class Pump
        {
            async Task PumpAsync(MessageChannel channel)
            {
                var rounds = 0;
                while (channel.BufferedAmount >= 4096 && rounds++ < 1000) await channel.AsBufferedChannel().DelayUntilBufferedAmountLowAsync(4095, 1);
            }
        }
        """,
        Key);

    // The seed's setTimeout twin: the delay is not awaited but continued, so the bounded wait goes on as a Task.
    [Fact]
    public Task Bounds_TheSetTimeoutTwin_AsATask() => Verify.VerifyCodeFixAsync(
        """
        using System;
        using System.Threading.Tasks;
        using SIPSorcery.Net;

        class Sender
        {
            private int offset;

            void SendChunk(RTCDataChannel dc, byte[] buffer)
            {
                while (offset < buffer.Length)
                {
                    [|if (dc.bufferedAmount > dc.bufferedAmountLowThreshold)|]
                    {
                        Task.Delay(50).ContinueWith(_ => SendChunk(dc, buffer));
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

        class Sender
        {
            private int offset;

            void SendChunk(RTCDataChannel dc, byte[] buffer)
            {
                while (offset < buffer.Length)
                {
                    if (dc.bufferedAmount > dc.bufferedAmountLowThreshold)
                    {
                        dc.AsBufferedChannel().DelayUntilBufferedAmountLowAsync(dc.bufferedAmountLowThreshold, 50).AsTask().ContinueWith(_ => SendChunk(dc, buffer));
                        return;
                    }

                    var length = Math.Min(16384, buffer.Length - offset);
                    dc.send(buffer, offset, length);
                    offset += length;
                }
            }
        }
        """,
        Key);

    [Fact]
    public Task Reports_ACoroutine_WithoutAFix_AndSaysWhy()
    {
        const string Source = """
            using System.Collections;
            using Acme.Transport;

            class WaitForSeconds
            {
                public WaitForSeconds(float seconds) { }
            }

            class Streamer
            {
                IEnumerator Stream(MessageChannel channel, byte[][] frames)
                {
                    foreach (var frame in frames)
                    {
                        {|#0:while (channel.BufferedAmount > 65536)|} yield return null;
                        channel.Send(frame);
                        [|while (channel.BufferedAmount > 1 << 20)|] yield return new WaitForSeconds(0.05f);
                    }
                }
            }
            """;
        var test = new Verify.Test { TestCode = Source, FixedCode = Source, CodeActionEquivalenceKey = Key };
        test.ExpectedDiagnostics.Add(Verify.Diagnostic().WithLocation(0).WithArguments(
            "loop", "channel.BufferedAmount",
            " (no automatic fix: a coroutine resumes only on the engine's frame loop, which no channel event can drive; move the send into an async method to fix it)"));
        return test.RunAsync();
    }

    [Theory]
    [InlineData("audio.BufferedAmount + video.BufferedAmount > 1 << 20", "audio.BufferedAmount",
        "the loop tests a sum of several channels' amounts, and no one channel's event says when that sum is low")]
    [InlineData("audio.BufferedAmount / 1024 > 64", "audio.BufferedAmount",
        "the loop compares 'audio.BufferedAmount / 1024', an expression of the amount, not the amount itself, so there is no plain threshold to wait for")]
    [InlineData("session.IsCongested", "_channel.BufferedAmount",
        "'_channel', the channel the loop tests, means something else (or nothing) where the wait is")]
    [InlineData("audio.BufferedAmount > Limit()", "audio.BufferedAmount",
        "the comparison 'audio.BufferedAmount > Limit()' is not against a plain threshold that can be read where the wait is")]
    public Task Reports_ComparisonsWithNoPlainThreshold_WithoutAFix_AndSaysWhy(string condition, string member, string why)
    {
        var source = $$"""
            using System.Threading.Tasks;
            using Acme.Transport;

            class Session
            {
                private readonly MessageChannel _channel = new();

                public bool IsCongested => _channel.BufferedAmount > 100;
            }

            class Pump
            {
                async Task PumpAsync(MessageChannel audio, MessageChannel video, Session session)
                {
                    {|#0:while ({{condition}})|} await Task.Delay(10);
                }

                static long Limit() => 4096;
            }
            """;
        var test = new Verify.Test { TestCode = source, FixedCode = source, CodeActionEquivalenceKey = Key };
        test.ExpectedDiagnostics.Add(Verify.Diagnostic().WithLocation(0).WithArguments("loop", member, $" (no automatic fix: {why})"));
        return test.RunAsync();
    }

    // One wait, one report: the innermost test that controls it, not every loop and if around it.
    [Fact]
    public Task Reports_EachWaitOnce_AtTheInnermostTestThatControlsIt() => Verify.VerifyCodeFixAsync(
        """
        using System.Threading.Tasks;
        using Acme.Transport;

        class Pump
        {
            async Task PumpAsync(MessageChannel channel, bool open)
            {
                while (open && channel.BufferedAmount > 1024)
                {
                    [|if (channel.BufferedAmount > 65536)|]
                    {
                        await Task.Delay(50);
                    }

                    channel.Send(new byte[16]);
                }
            }
        }
        """,
        """
        using System.Threading.Tasks;
        using Acme.Transport;
        using Backpressure;

        class Pump
        {
            async Task PumpAsync(MessageChannel channel, bool open)
            {
                while (open && channel.BufferedAmount > 1024)
                {
                    if (channel.BufferedAmount > 65536)
                    {
                        await channel.AsBufferedChannel().DelayUntilBufferedAmountLowAsync(65536, 50);
                    }

                    channel.Send(new byte[16]);
                }
            }
        }
        """,
        Key);

    // The break leaves the switch, so the wait is the case's own: reported on the if, as any wait only made while high.
    [Fact]
    public Task Reports_AGateInASwitch_OnItsIf() => Verify.VerifyCodeFixAsync(
        """
        using System.Threading.Tasks;
        using Acme.Transport;

        class Sender
        {
            async Task SwitchAsync(MessageChannel channel, int mode)
            {
                while (mode > 0)
                {
                    switch (mode)
                    {
                        case 1:
                            [|if (channel.BufferedAmount <= 4096)|] break;
                            await Task.Delay(10);
                            break;
                    }

                    mode--;
                }
            }
        }
        """,
        """
        using System.Threading.Tasks;
        using Acme.Transport;
        using Backpressure;

        class Sender
        {
            async Task SwitchAsync(MessageChannel channel, int mode)
            {
                while (mode > 0)
                {
                    switch (mode)
                    {
                        case 1:
                            if (channel.BufferedAmount <= 4096) break;
                            await channel.AsBufferedChannel().DelayUntilBufferedAmountLowAsync(4096, 10);
                            break;
                    }

                    mode--;
                }
            }
        }
        """,
        Key);
}
