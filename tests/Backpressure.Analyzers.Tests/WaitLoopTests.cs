using Backpressure.CodeFixes;
using Verify = Backpressure.Analyzers.Tests.CSharpCodeFixVerifier<
    Backpressure.Analyzers.BP0001BufferedAmountPollingAnalyzer,
    Backpressure.CodeFixes.BP0001BufferedAmountPollingCodeFix>;

namespace Backpressure.Analyzers.Tests;

/// <summary>The plain wait loop in all its spellings: reported, and rewritten into one event-driven wait.</summary>
public sealed class WaitLoopTests
{
    [Fact]
    public Task Reports_WhileDelayPolling_OnSipsorceryChannel_AndRewritesIt() => Verify.VerifyCodeFixAsync(
        """
        using System.Threading.Tasks;
        using SIPSorcery.Net;

        class Sender
        {
            async Task PumpAsync(RTCDataChannel dc, byte[] chunk)
            {
                [|while (dc.bufferedAmount > 65536)|]
                {
                    await Task.Delay(50);
                }

                dc.send(chunk);
            }
        }
        """,
        """
        using System.Threading.Tasks;
        using Backpressure;
        using SIPSorcery.Net;

        class Sender
        {
            async Task PumpAsync(RTCDataChannel dc, byte[] chunk)
            {
                await dc.AsBufferedChannel().WaitForBufferedAmountLowAsync(65536);

                dc.send(chunk);
            }
        }
        """);

    [Fact]
    public Task Reports_AMemberNamedWithUnicodeEscapes_WhichATextSearchWouldMiss() => Verify.VerifyCodeFixAsync(
        """
        using System.Threading.Tasks;
        using SIPSorcery.Net;

        class Sender
        {
            async Task PumpAsync(RTCDataChannel dc)
            {
                [|while (dc.buffered\u0041mount > 65536)|]
                {
                    await Task.Delay(50);
                }
            }
        }
        """,
        """
        using System.Threading.Tasks;
        using Backpressure;
        using SIPSorcery.Net;

        class Sender
        {
            async Task PumpAsync(RTCDataChannel dc)
            {
                await dc.AsBufferedChannel().WaitForBufferedAmountLowAsync(65536);
            }
        }
        """);

    [Fact]
    public Task Reports_MessageWithMemberAndConstruct()
    {
        var test = new Verify.Test
        {
            TestCode = """
                using System.Threading.Tasks;
                using SIPSorcery.Net;

                class Sender
                {
                    async Task PumpAsync(RTCDataChannel dc)
                    {
                        {|#0:while (dc.bufferedAmount > 65536)|} await Task.Delay(50);
                    }
                }
                """,
            FixedCode = """
                using System.Threading.Tasks;
                using Backpressure;
                using SIPSorcery.Net;

                class Sender
                {
                    async Task PumpAsync(RTCDataChannel dc)
                    {
                        await dc.AsBufferedChannel().WaitForBufferedAmountLowAsync(65536);
                    }
                }
                """,
        };
        test.ExpectedDiagnostics.Add(Verify.Diagnostic().WithLocation(0).WithArguments("loop", "dc.bufferedAmount", "")
            .WithOptions(Microsoft.CodeAnalysis.Testing.DiagnosticOptions.IgnoreAdditionalLocations));
        return test.RunAsync();
    }

    [Fact]
    public Task Rewrites_KeepingTheTokenAndConfigureAwait_OnPascalCaseTransport() => Verify.VerifyCodeFixAsync(
        """
        using System;
        using System.Threading;
        using System.Threading.Tasks;
        using Acme.Transport;

        class Sender
        {
            const long Limit = 1 << 20;

            async Task PumpAsync(MessageChannel channel, CancellationToken token)
            {
                [|while (channel.BufferedAmount > Limit)|]
                    await Task.Delay(TimeSpan.FromMilliseconds(20), token).ConfigureAwait(false);
            }
        }
        """,
        """
        using System;
        using System.Threading;
        using System.Threading.Tasks;
        using Acme.Transport;
        using Backpressure;

        class Sender
        {
            const long Limit = 1 << 20;

            async Task PumpAsync(MessageChannel channel, CancellationToken token)
            {
                await channel.AsBufferedChannel().WaitForBufferedAmountLowAsync(Limit, token).ConfigureAwait(false);
            }
        }
        """);

    [Fact]
    public Task Rewrites_ReversedInclusiveComparison_ToTheThresholdBelow() => Verify.VerifyCodeFixAsync(
        """
        using System.Threading.Tasks;
        using Acme.Transport;

        class Sender
        {
            async Task PumpAsync(MessageChannel channel, long limit)
            {
                [|while (limit <= channel.BufferedAmount)|]
                {
                    await Task.Delay(10);
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
            async Task PumpAsync(MessageChannel channel, long limit)
            {
                await channel.AsBufferedChannel().WaitForBufferedAmountLowAsync(limit - 1);
            }
        }
        """);

    [Fact]
    public Task Rewrites_IntFieldAmount_WithInclusiveLiteral() => Verify.VerifyCodeFixAsync(
        """
        using System.Threading.Tasks;
        using Acme.Transport;

        class Sender
        {
            async Task PumpAsync(FieldChannel channel)
            {
                [|while (channel.BufferedAmount >= 100)|] await Task.Delay(1);
            }
        }
        """,
        """
        using System.Threading.Tasks;
        using Acme.Transport;
        using Backpressure;

        class Sender
        {
            async Task PumpAsync(FieldChannel channel)
            {
                await channel.AsBufferedChannel().WaitForBufferedAmountLowAsync(99);
            }
        }
        """);

    [Fact]
    public Task Rewrites_IdentityCastAmount_AndUlongThreshold_ThroughTheUlongOverload() => Verify.VerifyCodeFixAsync(
        """
        using System.Threading.Tasks;
        using SIPSorcery.Net;

        class Sender
        {
            async Task PumpAsync(RTCDataChannel dc, ulong limit)
            {
                [|while ((ulong)dc.bufferedAmount > limit)|]
                {
                    await Task.Delay(5);
                }
            }
        }
        """,
        """
        using System.Threading.Tasks;
        using Backpressure;
        using SIPSorcery.Net;

        class Sender
        {
            async Task PumpAsync(RTCDataChannel dc, ulong limit)
            {
                await dc.AsBufferedChannel().WaitForBufferedAmountLowAsync(limit);
            }
        }
        """);

    [Fact]
    public Task Rewrites_ThreadSleep_InAnAsyncMethod() => Verify.VerifyCodeFixAsync(
        """
        using System.Threading;
        using System.Threading.Tasks;
        using Acme.Transport;

        class Sender
        {
            async Task PumpAsync(MessageChannel channel)
            {
                [|while (channel.BufferedAmount > 1000)|] Thread.Sleep(10);
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
            async Task PumpAsync(MessageChannel channel)
            {
                await channel.AsBufferedChannel().WaitForBufferedAmountLowAsync(1000);
                await Task.CompletedTask;
            }
        }
        """);

    [Fact]
    public Task Reports_ThreadSleep_InASynchronousMethod_WithoutAFix()
    {
        const string Source = """
            using System.Threading;
            using Acme.Transport;

            class Sender
            {
                void Pump(MessageChannel channel)
                {
                    [|while (channel.BufferedAmount > 1000)|] Thread.Sleep(10);
                }
            }
            """;
        return Verify.VerifyCodeFixAsync(Source, Source);
    }

    [Fact]
    public Task Rewrites_TaskYieldLoop_AndSpinOnceLoop() => Verify.VerifyCodeFixAsync(
        """
        using System.Threading;
        using System.Threading.Tasks;
        using Acme.Transport;

        class Sender
        {
            async Task PumpAsync(MessageChannel channel)
            {
                [|while (channel.BufferedAmount > 0)|]
                    await Task.Yield();

                var spinner = new SpinWait();
                [|while (channel.BufferedAmount > 4096)|]
                {
                    spinner.SpinOnce();
                }
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
            async Task PumpAsync(MessageChannel channel)
            {
                await channel.AsBufferedChannel().WaitForBufferedAmountLowAsync(0);

                var spinner = new SpinWait();
                await channel.AsBufferedChannel().WaitForBufferedAmountLowAsync(4096);
            }
        }
        """);

    [Fact]
    public Task Rewrites_DoWhileLoop() => Verify.VerifyCodeFixAsync(
        """
        using System.Threading.Tasks;
        using Acme.Transport;

        class Sender
        {
            async Task PumpAsync(MessageChannel channel)
            {
                do
                {
                    await Task.Delay(10);
                }
                [|while (channel.BufferedAmount > 1024)|];
            }
        }
        """,
        """
        using System.Threading.Tasks;
        using Acme.Transport;
        using Backpressure;

        class Sender
        {
            async Task PumpAsync(MessageChannel channel)
            {
                await channel.AsBufferedChannel().WaitForBufferedAmountLowAsync(1024);
            }
        }
        """);

    [Fact]
    public Task Rewrites_ALocalRefreshedInsideTheLoop_KeepingTheRefresh() => Verify.VerifyCodeFixAsync(
        """
        using System;
        using System.Threading.Tasks;
        using Acme.Transport;

        class Sender
        {
            async Task PumpAsync(MessageChannel channel)
            {
                var queued = channel.BufferedAmount;
                [|while (queued > 8192)|]
                {
                    await Task.Delay(20);
                    queued = channel.BufferedAmount;
                }

                Console.WriteLine(queued);
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
            async Task PumpAsync(MessageChannel channel)
            {
                var queued = channel.BufferedAmount;
                await channel.AsBufferedChannel().WaitForBufferedAmountLowAsync(8192);
                queued = channel.BufferedAmount;

                Console.WriteLine(queued);
            }
        }
        """);

    [Fact]
    public Task Rewrites_NegatedAndNotEqualsZero_Conditions() => Verify.VerifyCodeFixAsync(
        """
        using System.Threading.Tasks;
        using Acme.Transport;

        class Sender
        {
            async Task PumpAsync(MessageChannel channel)
            {
                [|while (!(channel.BufferedAmount <= 100))|] await Task.Delay(1);
                [|while (channel.BufferedAmount != 0)|] await Task.Delay(1);
            }
        }
        """,
        """
        using System.Threading.Tasks;
        using Acme.Transport;
        using Backpressure;

        class Sender
        {
            async Task PumpAsync(MessageChannel channel)
            {
                await channel.AsBufferedChannel().WaitForBufferedAmountLowAsync(100);
                await channel.AsBufferedChannel().WaitForBufferedAmountLowAsync(0);
            }
        }
        """);

    [Fact]
    public Task Rewrites_TheRuntimesOwnContract_WithoutAnAdapter() => Verify.VerifyCodeFixAsync(
        """
        using System.Threading;
        using System.Threading.Tasks;
        using Backpressure;

        class Sender
        {
            async Task PumpAsync(IBufferedChannel channel, CancellationToken ct)
            {
                [|while (channel.BufferedAmount > 100)|]
                {
                    await Task.Delay(5, ct);
                }
            }
        }
        """,
        """
        using System.Threading;
        using System.Threading.Tasks;
        using Backpressure;

        class Sender
        {
            async Task PumpAsync(IBufferedChannel channel, CancellationToken ct)
            {
                await channel.WaitForBufferedAmountLowAsync(100, ct);
            }
        }
        """);

    [Fact]
    public Task Rewrites_KeepingCommentsFromInsideTheLoop() => Verify.VerifyCodeFixAsync(
        """
        using System.Threading.Tasks;
        using Acme.Transport;

        class Sender
        {
            async Task PumpAsync(MessageChannel channel)
            {
                // Let the queue drain before the next chunk.
                [|while (channel.BufferedAmount > 4096)|]
                {
                    // 50 ms, as the JavaScript client does
                    await Task.Delay(50);
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
            async Task PumpAsync(MessageChannel channel)
            {
                // Let the queue drain before the next chunk.
                // 50 ms, as the JavaScript client does
                await channel.AsBufferedChannel().WaitForBufferedAmountLowAsync(4096);
            }
        }
        """);

    [Fact]
    public Task Rewrites_InsideAnAsyncLambda() => Verify.VerifyCodeFixAsync(
        """
        using System;
        using System.Threading.Tasks;
        using Acme.Transport;

        class Sender
        {
            Func<Task> Pump(MessageChannel channel) => async () =>
            {
                [|while (channel.BufferedAmount > 10)|] await Task.Delay(1);
            };
        }
        """,
        """
        using System;
        using System.Threading.Tasks;
        using Acme.Transport;
        using Backpressure;

        class Sender
        {
            Func<Task> Pump(MessageChannel channel) => async () =>
            {
                await channel.AsBufferedChannel().WaitForBufferedAmountLowAsync(10);
            };
        }
        """);

    // Nothing reads the local once the loop is gone: its re-read would be a dead assignment, so it goes too.
    [Fact]
    public Task Rewrites_ALocalRefreshedInsideTheLoop_DroppingTheRefreshNothingReads() => Verify.VerifyCodeFixAsync(
        """
        using System.Threading.Tasks;
        using SIPSorcery.Net;

        class Sender
        {
            async Task PumpAsync(RTCDataChannel dc, byte[] chunk)
            {
                var queued = dc.bufferedAmount;
                [|while (queued > 65536)|]
                {
                    await Task.Delay(20);
                    queued = dc.bufferedAmount;
                }

                dc.send(chunk);
            }
        }
        """,
        """
        using System.Threading.Tasks;
        using Backpressure;
        using SIPSorcery.Net;

        class Sender
        {
            async Task PumpAsync(RTCDataChannel dc, byte[] chunk)
            {
                var queued = dc.bufferedAmount;
                await dc.AsBufferedChannel().WaitForBufferedAmountLowAsync(65536);

                dc.send(chunk);
            }
        }
        """);

    // `_dc!.bufferedAmount` became `_dc.AsBufferedChannel()` once, a new CS8604 in a nullable project.
    [Fact]
    public Task Rewrites_KeepingTheNullForgivingOperator_InANullableProject() => Verify.VerifyCodeFixAsync(
        """
        #nullable enable
        using System.Threading.Tasks;
        using SIPSorcery.Net;

        class Sender
        {
            private RTCDataChannel? _dc;

            async Task PumpAsync()
            {
                [|while (_dc!.bufferedAmount > 65536)|] await Task.Delay(50);
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
                await _dc!.AsBufferedChannel().WaitForBufferedAmountLowAsync(65536);
            }
        }
        """);
}
