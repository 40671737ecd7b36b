using Verify = Backpressure.Analyzers.Tests.CSharpCodeFixVerifier<
    Backpressure.Analyzers.BP0001BufferedAmountPollingAnalyzer,
    Backpressure.CodeFixes.BP0001BufferedAmountPollingCodeFix>;

namespace Backpressure.Analyzers.Tests;

/// <summary>The wait loop written inside out: an endless loop that sleeps and breaks once the amount is low.</summary>
public sealed class BreakLoopTests
{
    [Fact]
    public Task Rewrites_WhileTrue_WithTheBreakFirst_KeepingTheToken() => Verify.VerifyCodeFixAsync(
        """
        using System.Threading;
        using System.Threading.Tasks;
        using Acme.Transport;

        class Sender
        {
            async Task PumpAsync(MessageChannel channel, CancellationToken token)
            {
                [|while (true)|]
                {
                    if (channel.BufferedAmount <= 4096)
                    {
                        break;
                    }

                    await Task.Delay(10, token);
                }

                channel.Send(new byte[16]);
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
            async Task PumpAsync(MessageChannel channel, CancellationToken token)
            {
                await channel.AsBufferedChannel().WaitForBufferedAmountLowAsync(4096, token);

                channel.Send(new byte[16]);
            }
        }
        """);

    [Fact]
    public Task Rewrites_ForEver_WithTheBreakLast_ToTheThresholdBelowAStrictBound() => Verify.VerifyCodeFixAsync(
        """
        using System.Threading.Tasks;
        using Acme.Transport;

        class Sender
        {
            async Task PumpAsync(MessageChannel channel)
            {
                [|for (;;)|]
                {
                    await Task.Delay(5).ConfigureAwait(false);
                    if (channel.BufferedAmount < 1024) break;
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
                await channel.AsBufferedChannel().WaitForBufferedAmountLowAsync(1023).ConfigureAwait(false);
            }
        }
        """);

    [Fact]
    public Task Rewrites_ANegatedGate_OnSipsorceryChannel() => Verify.VerifyCodeFixAsync(
        """
        using System.Threading.Tasks;
        using SIPSorcery.Net;

        class Sender
        {
            async Task PumpAsync(RTCDataChannel dc)
            {
                [|while (true)|]
                {
                    if (!(dc.bufferedAmount > 65536)) break;
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
    public Task Reports_WithoutAFix_WhenTheLoopStopsForMoreThanTheQueue_OrDoesMoreThanWait()
    {
        // A retry bound, other work in the loop, a blocking sleep in sync code, a gate in the middle:
        // each is polling, and each would lose something if it became a single wait.
        const string Source = """
            using System;
            using System.Threading;
            using System.Threading.Tasks;
            using Acme.Transport;

            class Sender
            {
                async Task RetriesAsync(MessageChannel channel)
                {
                    [|for (var attempt = 0; attempt < 100; attempt++)|]
                    {
                        if (channel.BufferedAmount <= 4096) break;
                        await Task.Delay(10);
                    }
                }

                async Task LogsAsync(MessageChannel channel)
                {
                    [|while (true)|]
                    {
                        if (channel.BufferedAmount <= 4096) break;
                        Console.WriteLine(channel.BufferedAmount);
                        await Task.Delay(10);
                    }
                }

                void Blocks(MessageChannel channel)
                {
                    [|while (true)|]
                    {
                        if (channel.BufferedAmount <= 4096) break;
                        Thread.Sleep(10);
                    }
                }

                async Task GatedInTheMiddleAsync(MessageChannel channel)
                {
                    [|while (true)|]
                    {
                        await Task.Delay(10);
                        if (channel.BufferedAmount <= 4096) break;
                        await Task.Delay(10);
                    }
                }
            }
            """;
        return Verify.VerifyCodeFixAsync(Source, Source);
    }
}
