using Verify = Backpressure.Analyzers.Tests.CSharpCodeFixVerifier<
    Backpressure.Analyzers.BP0001BufferedAmountPollingAnalyzer,
    Backpressure.CodeFixes.BP0001BufferedAmountPollingCodeFix>;

namespace Backpressure.Analyzers.Tests;

/// <summary>The inside-out wait loop's edges: thresholds, loop forms, locals, and the shapes nested in it.</summary>
public sealed class BreakLoopEdgeCaseTests
{
    [Fact]
    public Task Maps_MirroredNegatedAndStrictGates_ToTheirThresholds() => Verify.VerifyCodeFixAsync(
        """
        using System.Threading.Tasks;
        using Acme.Transport;

        class Sender
        {
            async Task A(MessageChannel channel)
            {
                [|while (true)|]
                {
                    if (4096 >= channel.BufferedAmount) break;
                    await Task.Delay(10);
                }
            }

            async Task B(MessageChannel channel)
            {
                [|while (true)|]
                {
                    if (!(channel.BufferedAmount >= 1024)) break;
                    await Task.Delay(10);
                }
            }

            async Task C(MessageChannel channel)
            {
                [|while (true)|]
                {
                    if (channel.BufferedAmount == 0) break;
                    await Task.Delay(10);
                }
            }

            async Task D(MessageChannel channel)
            {
                [|while (true)|]
                {
                    if (channel.BufferedAmount < 1) break;
                    await Task.Delay(10);
                }
            }

            async Task E(MessageChannel channel, long limit)
            {
                [|while (true)|]
                {
                    if (channel.BufferedAmount < limit) break;
                    await Task.Delay(10);
                }
            }

            async Task F(MessageChannel channel)
            {
                [|while (true)|]
                {
                    if (!(1024 < channel.BufferedAmount)) break;
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
            async Task A(MessageChannel channel)
            {
                await channel.AsBufferedChannel().WaitForBufferedAmountLowAsync(4096);
            }

            async Task B(MessageChannel channel)
            {
                await channel.AsBufferedChannel().WaitForBufferedAmountLowAsync(1023);
            }

            async Task C(MessageChannel channel)
            {
                await channel.AsBufferedChannel().WaitForBufferedAmountLowAsync(0);
            }

            async Task D(MessageChannel channel)
            {
                await channel.AsBufferedChannel().WaitForBufferedAmountLowAsync(0);
            }

            async Task E(MessageChannel channel, long limit)
            {
                await channel.AsBufferedChannel().WaitForBufferedAmountLowAsync(limit - 1);
            }

            async Task F(MessageChannel channel)
            {
                await channel.AsBufferedChannel().WaitForBufferedAmountLowAsync(1024);
            }
        }
        """);

    [Fact]
    public Task NoDiagnostic_WhenTheBreakIsOnAFullOrNonEmptyQueue() => Verify.VerifyCodeFixAsync(
        """
        using System.Threading.Tasks;
        using Acme.Transport;

        class Sender
        {
            async Task A(MessageChannel channel)
            {
                while (true)
                {
                    if (channel.BufferedAmount != 0) break;
                    await Task.Delay(10);
                }
            }

            async Task B(MessageChannel channel)
            {
                while (true)
                {
                    if (!(channel.BufferedAmount <= 4096)) break;
                    await Task.Delay(10);
                }
            }

            async Task C(MessageChannel channel)
            {
                for (;;)
                {
                    await Task.Delay(10);
                    if (channel.BufferedAmount >= 4096) break;
                }
            }
        }
        """,
        """
        using System.Threading.Tasks;
        using Acme.Transport;

        class Sender
        {
            async Task A(MessageChannel channel)
            {
                while (true)
                {
                    if (channel.BufferedAmount != 0) break;
                    await Task.Delay(10);
                }
            }

            async Task B(MessageChannel channel)
            {
                while (true)
                {
                    if (!(channel.BufferedAmount <= 4096)) break;
                    await Task.Delay(10);
                }
            }

            async Task C(MessageChannel channel)
            {
                for (;;)
                {
                    await Task.Delay(10);
                    if (channel.BufferedAmount >= 4096) break;
                }
            }
        }
        """);

    [Fact]
    public Task Reports_ANegativeOrImpossibleThreshold_WithoutAFix()
    {
        const string Source = """
            using System.Threading.Tasks;
            using Acme.Transport;

            class Sender
            {
                async Task A(MessageChannel channel)
                {
                    [|while (true)|]
                    {
                        if (channel.BufferedAmount < 0) break;
                        await Task.Delay(10);
                    }
                }

                async Task B(MessageChannel channel)
                {
                    [|while (true)|]
                    {
                        if ((int)channel.BufferedAmount <= 4096) break;
                        await Task.Delay(10);
                    }
                }
            }
            """;
        return Verify.VerifyCodeFixAsync(Source, Source);
    }

    [Fact]
    public Task Rewrites_DoWhileTrue_ReportedOnItsWhile() => Verify.VerifyCodeFixAsync(
        """
        using System.Threading;
        using System.Threading.Tasks;
        using Acme.Transport;

        class Sender
        {
            async Task PumpAsync(MessageChannel channel, CancellationToken ct)
            {
                do
                {
                    if (channel.BufferedAmount <= 512) break;
                    await Task.Delay(10, ct).ConfigureAwait(false);
                }
                [|while (true)|];
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
            async Task PumpAsync(MessageChannel channel, CancellationToken ct)
            {
                await channel.AsBufferedChannel().WaitForBufferedAmountLowAsync(512, ct).ConfigureAwait(false);
            }
        }
        """);

    [Fact]
    public Task Reports_ForLoopsWithTheirOwnParts_WithoutAFix()
    {
        const string Source = """
            using System;
            using System.Threading.Tasks;
            using Acme.Transport;

            class Sender
            {
                async Task A(MessageChannel channel)
                {
                    [|for (var started = DateTime.UtcNow; ;)|]
                    {
                        if (channel.BufferedAmount <= 4096) break;
                        await Task.Delay(10);
                    }
                }

                async Task B(MessageChannel channel)
                {
                    var spins = 0;
                    [|for (; ; spins++)|]
                    {
                        if (channel.BufferedAmount <= 4096) break;
                        await Task.Delay(10);
                    }

                    Console.WriteLine(spins);
                }

                async Task C(MessageChannel channel)
                {
                    [|for (;;)|]
                    {
                        var q = channel.BufferedAmount;
                        if (q <= 4096) break;
                        await Task.Delay(10);
                    }
                }

                async Task D(MessageChannel channel)
                {
                    do
                    {
                        if (channel.BufferedAmount <= 4096) break;
                        await Task.Delay(10);
                    }
                    [|while (false)|];
                }
            }
            """;
        return Verify.VerifyCodeFixAsync(Source, Source);
    }

    // Compiles and keeps the meaning; the kept refresh inside the wrapping block is mis-indented (pre-existing, cosmetic).
    [Fact]
    public Task Rewrites_ALabeledLoop_AndAnEmbeddedOne_KeepingTheRefresh() => Verify.VerifyCodeFixAsync(
        """
        using System;
        using System.Threading.Tasks;
        using Acme.Transport;

        class Sender
        {
            async Task A(MessageChannel channel, bool again)
            {
                var q = channel.BufferedAmount;
            wait:
                [|while (true)|]
                {
                    if (q <= 100) break;
                    await Task.Delay(5);
                    q = channel.BufferedAmount;
                }

                Console.WriteLine(q);
                if (again) { again = false; goto wait; }
            }

            async Task B(MessageChannel channel, bool ready)
            {
                var q = channel.BufferedAmount;
                if (ready)
                    [|for (;;)|]
                    {
                        q = channel.BufferedAmount;
                        await Task.Delay(5);
                        if (q <= 100) break;
                    }

                Console.WriteLine(q);
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
            async Task A(MessageChannel channel, bool again)
            {
                var q = channel.BufferedAmount;
            wait:
                {
                    await channel.AsBufferedChannel().WaitForBufferedAmountLowAsync(100);
                q = channel.BufferedAmount;
                }

                Console.WriteLine(q);
                if (again) { again = false; goto wait; }
            }

            async Task B(MessageChannel channel, bool ready)
            {
                var q = channel.BufferedAmount;
                if (ready)
                {
                    await channel.AsBufferedChannel().WaitForBufferedAmountLowAsync(100);
                    q = channel.BufferedAmount;
                }

                Console.WriteLine(q);
            }
        }
        """);

    [Fact]
    public Task Rewrites_AGateOnALocal_WithTheRefreshBeforeTheWait() => Verify.VerifyCodeFixAsync(
        """
        using System;
        using System.Threading.Tasks;
        using Acme.Transport;

        class Sender
        {
            async Task PumpAsync(MessageChannel channel)
            {
                var q = channel.BufferedAmount;
                [|while (true)|]
                {
                    if (q <= 100) break;
                    q = channel.BufferedAmount;
                    await Task.Delay(5);
                }

                Console.WriteLine(q);
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
                var q = channel.BufferedAmount;
                await channel.AsBufferedChannel().WaitForBufferedAmountLowAsync(100);
                q = channel.BufferedAmount;

                Console.WriteLine(q);
            }
        }
        """);

    // A local copied once and never refreshed: the loop either ends at once or never; a rewrite makes it end.
    [Fact]
    public Task NoFix_WhenTheComparedLocalIsNeverRefreshed()
    {
        const string Source = """
            using System.Threading.Tasks;
            using Acme.Transport;

            class Sender
            {
                async Task PumpAsync(MessageChannel channel)
                {
                    var q = channel.BufferedAmount;
                    [|while (true)|]
                    {
                        if (q <= 100) break;
                        await Task.Delay(5);
                    }
                }
            }
            """;
        return Verify.VerifyCodeFixAsync(Source, Source);
    }

    // The local is first copied from `a`, then refreshed from `b`: the loop waits for `b`, the fix waited on `a`.
    // Not one channel's amount, so (like a local reused for another number) it is not a polled amount at all.
    [Fact]
    public Task NeverWaitsOnTheWrongChannel_WhenTheLocalIsRefreshedFromAnotherChannel()
    {
        const string Source = """
            using System.Threading.Tasks;
            using Acme.Transport;

            class Sender
            {
                async Task PumpAsync(MessageChannel a, MessageChannel b)
                {
                    var q = a.BufferedAmount;
                    while (true)
                    {
                        if (q <= 100) break;
                        await Task.Delay(5);
                        q = b.BufferedAmount;
                    }
                }
            }
            """;
        return Verify.VerifyCodeFixAsync(Source, Source);
    }

    // The same, through the pre-existing wait-loop shape.
    [Fact]
    public Task NeverWaitsOnTheWrongChannel_WhenTheLocalIsRefreshedFromAnotherChannel_WaitLoop()
    {
        const string Source = """
            using System.Threading.Tasks;
            using Acme.Transport;

            class Sender
            {
                async Task PumpAsync(MessageChannel a, MessageChannel b)
                {
                    var q = a.BufferedAmount;
                    while (q > 100)
                    {
                        await Task.Delay(5);
                        q = b.BufferedAmount;
                    }
                }
            }
            """;
        return Verify.VerifyCodeFixAsync(Source, Source);
    }

    [Fact]
    public Task Rewrites_MovingTheCommentsAboveTheWait() => Verify.VerifyCodeFixAsync(
        """
        using System.Threading.Tasks;
        using Acme.Transport;

        class Sender
        {
            async Task PumpAsync(MessageChannel channel)
            {
                // wait for room
                [|while (true)|] // poll
                {
                    // drained enough?
                    if (channel.BufferedAmount <= 4096) { break; } // yes
                    await Task.Delay(10); /* nap */
                }
                channel.Send(new byte[1]);
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
                // wait for room
                // poll
                // drained enough?
                // yes
                /* nap */
                await channel.AsBufferedChannel().WaitForBufferedAmountLowAsync(4096);
                channel.Send(new byte[1]);
            }
        }
        """);

    // The inner conditional wait is this tick loop's polling; the loop's break gate must not hide it,
    // but the tick loop itself is reported only when it has an if-continue gate.
    [Fact]
    public Task StillReports_AConditionalWait_InATickLoopThatBreaksOnTheAmount()
    {
        const string Source = """
            using System;
            using System.Threading;
            using System.Threading.Tasks;
            using Acme.Transport;

            class Sender
            {
                async Task PumpAsync(MessageChannel channel, CancellationToken ct)
                {
                    using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(100));
                    while (await timer.WaitForNextTickAsync(ct))
                    {
                        if (channel.BufferedAmount == 0) break;
                        [|if (channel.BufferedAmount > 65536)|] await Task.Delay(10, ct);
                        channel.Send(new byte[16]);
                    }
                }
            }
            """;
        return Verify.VerifyCodeFixAsync(Source, Source);
    }

    // The inner wait loop is the polling; the outer loop that breaks on the amount is not reported for the same wait.
    [Fact]
    public Task Reports_OnlyTheInnerWaitLoop_InsideABreakLoop() => Verify.VerifyCodeFixAsync(
        """
        using System.Threading.Tasks;
        using Acme.Transport;

        class Sender
        {
            async Task PumpAsync(MessageChannel channel)
            {
                while (true)
                {
                    if (channel.BufferedAmount <= 10) break;
                    [|while (channel.BufferedAmount > 100)|] await Task.Delay(1);
                    channel.Send(new byte[1]);
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
                while (true)
                {
                    if (channel.BufferedAmount <= 10) break;
                    await channel.AsBufferedChannel().WaitForBufferedAmountLowAsync(100);
                    channel.Send(new byte[1]);
                }
            }
        }
        """);

    [Fact]
    public Task NoFix_InsideALock()
    {
        const string Source = """
            using System.Threading;
            using System.Threading.Tasks;
            using Acme.Transport;

            class Sender
            {
                private readonly object _gate = new();

                async Task A(MessageChannel channel)
                {
                    await Task.Yield();
                    lock (_gate)
                    {
                        [|while (true)|]
                        {
                            if (channel.BufferedAmount <= 4096) break;
                            Thread.Sleep(1);
                        }
                    }
                }
            }
            """;
        return Verify.VerifyCodeFixAsync(Source, Source);
    }

    // `for (; true;)` is as endless as `while (true)` and `for (;;)`.
    [Fact]
    public Task Rewrites_AForWithATrueCondition_AndASpinWait() => Verify.VerifyCodeFixAsync(
        """
        using System.Threading;
        using System.Threading.Tasks;
        using Acme.Transport;

        class Sender
        {
            private MessageChannel _channel = new();

            async Task A()
            {
                [|for (; true;)|]
                {
                    if (_channel.BufferedAmount <= 4096) break;
                    await Task.Yield();
                }
            }

            async Task B()
            {
                var spinner = new SpinWait();
                [|while (true)|]
                {
                    spinner.SpinOnce();
                    if (_channel.BufferedAmount <= 4096) break;
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
            private MessageChannel _channel = new();

            async Task A()
            {
                await _channel.AsBufferedChannel().WaitForBufferedAmountLowAsync(4096);
            }

            async Task B()
            {
                var spinner = new SpinWait();
                await _channel.AsBufferedChannel().WaitForBufferedAmountLowAsync(4096);
            }
        }
        """);

    [Fact]
    public Task NoCrash_OnBrokenCode()
    {
        const string Source = """
                using System.Threading.Tasks;
                using Acme.Transport;

                class Sender
                {
                    async Task A(MessageChannel channel)
                    {
                        [|while (true)|]
                        {
                            if (channel.BufferedAmount <= {|CS1525:)|} break;
                            await Task.Delay(10);
                        }

                        for (;;)
                            if (channel.BufferedAmount <= 4096) break;

                        while ({|CS1525:)|}
                        {
                            if (channel.BufferedAmount <= 4096) break;
                            await Task.Delay({|CS1503:"x"|});
                        }
                    }
                }
                """;
        return Verify.VerifyCodeFixAsync(Source, Source);
    }

    // The if-continue keeps its own report and fix; the loop's break gate does not claim it.
    [Fact]
    public Task KeepsTheIfContinueFix_InALoopThatAlsoBreaksOnTheAmount() => Verify.VerifyCodeFixAsync(
        """
        using System.Collections.Generic;
        using System.Threading.Tasks;
        using Acme.Transport;

        class Sender
        {
            async Task A(MessageChannel channel, Queue<byte[]> items)
            {
                while (true)
                {
                    if (channel.BufferedAmount <= 0) break;
                    [|if (channel.BufferedAmount > 65536)|]
                    {
                        await Task.Delay(10);
                        continue;
                    }

                    if (items.Count > 0) channel.Send(items.Dequeue());
                }
            }
        }
        """,
        """
        using System.Collections.Generic;
        using System.Threading.Tasks;
        using Acme.Transport;
        using Backpressure;

        class Sender
        {
            async Task A(MessageChannel channel, Queue<byte[]> items)
            {
                while (true)
                {
                    if (channel.BufferedAmount <= 0) break;
                    if (channel.BufferedAmount > 65536)
                    {
                        await channel.AsBufferedChannel().WaitForBufferedAmountLowAsync(65536);
                        continue;
                    }

                    if (items.Count > 0) channel.Send(items.Dequeue());
                }
            }
        }
        """);

    // The same for the setTimeout twin and its fix.
    [Fact]
    public Task KeepsTheSetTimeoutTwinFix_InALoopThatAlsoBreaksOnTheAmount()
    {
        const string Source = """
            using System.Threading.Tasks;
            using SIPSorcery.Net;

            class Sender
            {
                void Start(RTCDataChannel dc)
                {
                    void SendChunk()
                    {
                        while (true)
                        {
                            if (dc.bufferedAmount == 0) break;
                            [|if (dc.bufferedAmount > 65536)|]
                            {
                                Task.Delay(50).ContinueWith(_ => SendChunk());
                                return;
                            }

                            dc.send(new byte[16]);
                        }
                    }

                    SendChunk();
                }
            }
            """;
        return Verify.VerifyCodeFixAsync(Source, Source.Replace("[|", "").Replace("|]", "").Replace("Task.Delay(50)", "dc.AsBufferedChannel().WaitForBufferedAmountLowAsync(65536).AsTask()").Replace("using SIPSorcery.Net;", "using Backpressure;\nusing SIPSorcery.Net;"));
    }
}
