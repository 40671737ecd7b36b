using Verify = Backpressure.Analyzers.Tests.CSharpCodeFixVerifier<
    Backpressure.Analyzers.BP0001BufferedAmountPollingAnalyzer,
    Backpressure.CodeFixes.BP0001BufferedAmountPollingCodeFix>;

namespace Backpressure.Analyzers.Tests;

/// <summary>
/// Cases a review found: rewrites that changed meaning or did not compile, and reports on code that
/// does not wait for a drain. Each is pinned here.
/// </summary>
public sealed class ReviewRegressionTests
{
    private static Task NoFix(string body, string parameters = "MessageChannel channel") => VerifyIn(body, body, parameters);

    private static Task VerifyIn(string body, string fixedBody, string parameters = "MessageChannel channel")
    {
        static string Wrap(string code, string parameters) => $$"""
            using System;
            using System.Threading;
            using System.Threading.Tasks;
            using Acme.Transport;

            class Sender
            {
                private readonly object gate = new();

                async Task RunAsync({{parameters}})
                {
            {{string.Join("\n", code.Split('\n').Select(line => line.Length == 0 ? line : "        " + line))}}
                    await Task.CompletedTask;
                }
            }
            """;

        var source = Wrap(body, parameters);
        var fixedSource = Wrap(fixedBody, parameters);
        if (fixedSource != source)
        {
            fixedSource = fixedSource.Replace("using Acme.Transport;\n", "using Acme.Transport;\nusing Backpressure;\n", StringComparison.Ordinal);
        }

        return Verify.VerifyCodeFixAsync(source, fixedSource);
    }

    [Fact]
    public Task NoFix_InsideALock_WhereAwaitIsNotAllowed() => NoFix("""
        lock (gate)
        {
            [|while (channel.BufferedAmount > 100)|] Thread.Sleep(5);
        }
        """);

    [Fact]
    public Task NoFix_WhenAPreprocessorDirectiveIsInsideTheLoop() => NoFix("""
        [|while (channel.BufferedAmount > 100)|]
        {
        #if DEBUG
            Console.WriteLine("waiting");
        #endif
            await Task.Delay(5);
        }
        """);

    [Fact]
    public Task NoFix_ForConfigureAwaitOptions_WhichAValueTaskDoesNotHave() => NoFix("""
        [|while (channel.BufferedAmount > 100)|] await Task.Delay(5).ConfigureAwait(ConfigureAwaitOptions.None);
        """);

    [Fact]
    public Task NoFix_ForANarrowingCastOfTheAmount() => NoFix("""
        [|while ((byte)channel.BufferedAmount > 10)|] await Task.Delay(5);
        """);

    [Fact]
    public Task NoFix_ForAThresholdComputedByACall_WhichTheLoopReevaluated() => NoFix("""
        [|while (channel.BufferedAmount > allowance())|] await Task.Delay(5);
        """, "MessageChannel channel, Func<long> allowance");

    [Fact]
    public Task NoFix_ForAFractionalThreshold() => NoFix("""
        [|while (channel.BufferedAmount >= cap * 0.7)|] await Task.Delay(5);
        """, "MessageChannel channel, double cap");

    [Fact]
    public Task NoFix_ForANegativeThreshold() => NoFix("""
        [|while (channel.BufferedAmount > -1)|] await Task.Delay(5);
        """);

    [Fact]
    public Task NoFix_WhenTheChannelComesFromAProperty_WhichCouldChangeBetweenChecks() => NoFix("""
        [|while (holder.Current.BufferedAmount > 100)|] await Task.Delay(5);
        """, "MessageChannel channel, Holder holder");

    [Fact]
    public Task NoFix_WhenTheLoopConditionReadsTheAmountThroughAnAssignment() => NoFix("""
        long queued;
        [|while ((queued = channel.BufferedAmount) > 100)|] await Task.Delay(5);
        Console.WriteLine(queued);
        """);

    [Fact]
    public Task KeepsTheTokenOfAnyWait_NotOnlyTheFirst() => VerifyIn("""
        [|while (channel.BufferedAmount > 100)|]
        {
            await Task.Yield();
            await Task.Delay(5, ct);
        }
        """, """
        await channel.AsBufferedChannel().WaitForBufferedAmountLowAsync(100, ct);
        """, "MessageChannel channel, CancellationToken ct");

    [Fact]
    public Task Rewrites_AGenericChannelConstrainedToTheContract_WithoutAnAdapter() => Verify.VerifyCodeFixAsync("""
        using System.Threading.Tasks;
        using Backpressure;

        class Sender
        {
            async Task PumpAsync<T>(T channel) where T : IBufferedChannel
            {
                [|while (channel.BufferedAmount > 10)|] await Task.Delay(1);
            }
        }
        """, """
        using System.Threading.Tasks;
        using Backpressure;

        class Sender
        {
            async Task PumpAsync<T>(T channel) where T : IBufferedChannel
            {
                await channel.WaitForBufferedAmountLowAsync(10);
            }
        }
        """);

    [Fact]
    public Task Rewrites_TopLevelStatements_KeepingARefreshedLocal()
    {
        var test = new Verify.Test
        {
            TestCode = """
        using System;
        using System.Threading.Tasks;
        using Acme.Transport;

        var channel = new MessageChannel();
        var queued = channel.BufferedAmount;
        [|while (queued > 100)|]
        {
            await Task.Delay(5);
            queued = channel.BufferedAmount;
        }

        Console.WriteLine(queued);
        """,
            FixedCode = """
        using System;
        using System.Threading.Tasks;
        using Acme.Transport;
        using Backpressure;

        var channel = new MessageChannel();
        var queued = channel.BufferedAmount;
        await channel.AsBufferedChannel().WaitForBufferedAmountLowAsync(100);
        queued = channel.BufferedAmount;

        Console.WriteLine(queued);
        """,
        };
        test.TestState.OutputKind = Microsoft.CodeAnalysis.OutputKind.ConsoleApplication;
        return test.RunAsync();
    }

    [Fact]
    public Task ImportsOnlyExtensionMethods_WhenUsingTheNamespaceWouldMakeANameAmbiguous() => Verify.VerifyCodeFixAsync("""
        using System.Threading.Channels;
        using System.Threading.Tasks;
        using Acme.Transport;

        class Sender
        {
            async Task PumpAsync(MessageChannel channel)
            {
                try
                {
                    [|while (channel.BufferedAmount > 10)|] await Task.Delay(1);
                }
                catch (ChannelClosedException)
                {
                }
            }
        }
        """, """
        using System.Threading.Channels;
        using System.Threading.Tasks;
        using Acme.Transport;
        using static Backpressure.BufferedChannelExtensions;
        using static Backpressure.GeneratedChannelAdapters;

        class Sender
        {
            async Task PumpAsync(MessageChannel channel)
            {
                try
                {
                    await channel.AsBufferedChannel().WaitForBufferedAmountLowAsync(10);
                }
                catch (ChannelClosedException)
                {
                }
            }
        }
        """);

    [Fact]
    public Task NoDiagnostic_WhenALocalCopiedFromTheAmountIsReusedForAnotherNumber() => Verify.VerifyCodeFixAsync("""
        using System.Collections.Generic;
        using System.Threading.Tasks;
        using Acme.Transport;

        class Sender
        {
            async Task PumpAsync(MessageChannel channel, Queue<int> items)
            {
                long n = channel.BufferedAmount;
                System.Console.WriteLine(n);
                n = items.Count;
                while (n > 0)
                {
                    await Task.Delay(10);
                    n = items.Count;
                }
            }
        }
        """, """
        using System.Collections.Generic;
        using System.Threading.Tasks;
        using Acme.Transport;

        class Sender
        {
            async Task PumpAsync(MessageChannel channel, Queue<int> items)
            {
                long n = channel.BufferedAmount;
                System.Console.WriteLine(n);
                n = items.Count;
                while (n > 0)
                {
                    await Task.Delay(10);
                    n = items.Count;
                }
            }
        }
        """);

    [Fact]
    public Task NoDiagnostic_WhenWaitingForTheQueueToFill_NotToDrain() => Verify.VerifyCodeFixAsync("""
        using System.Threading;
        using System.Threading.Tasks;
        using Acme.Transport;

        class Probe
        {
            async Task PumpAsync(MessageChannel channel)
            {
                while (channel.BufferedAmount == 0) await Task.Delay(1);
                while (channel.BufferedAmount < 1 << 20) await Task.Delay(1);
                SpinWait.SpinUntil(() => channel.BufferedAmount > 0);
            }
        }
        """, """
        using System.Threading;
        using System.Threading.Tasks;
        using Acme.Transport;

        class Probe
        {
            async Task PumpAsync(MessageChannel channel)
            {
                while (channel.BufferedAmount == 0) await Task.Delay(1);
                while (channel.BufferedAmount < 1 << 20) await Task.Delay(1);
                SpinWait.SpinUntil(() => channel.BufferedAmount > 0);
            }
        }
        """);

    [Fact]
    public Task NoDiagnostic_ForAWatchdogDelay_WhoseContinuationDoesNotResend() => Verify.VerifyCodeFixAsync("""
        using System.Threading.Tasks;
        using Acme.Transport;

        class Sender
        {
            void Check(MessageChannel channel)
            {
                if (channel.BufferedAmount > 1 << 20)
                {
                    Task.Delay(30000).ContinueWith(_ => Abort());
                    return;
                }
            }

            void Abort() { }
        }
        """, """
        using System.Threading.Tasks;
        using Acme.Transport;

        class Sender
        {
            void Check(MessageChannel channel)
            {
                if (channel.BufferedAmount > 1 << 20)
                {
                    Task.Delay(30000).ContinueWith(_ => Abort());
                    return;
                }
            }

            void Abort() { }
        }
        """);

    [Fact]
    public Task NoDiagnostic_ForATimeoutHeldInALocal_OrInACollectionExpression() => Verify.VerifyCodeFixAsync("""
        using System.Threading.Tasks;
        using Acme.Transport;

        class Sender
        {
            async Task PumpAsync(MessageChannel channel, TaskCompletionSource low)
            {
                while (channel.BufferedAmount > 65536)
                {
                    var timeout = Task.Delay(1000);
                    await Task.WhenAny(low.Task, timeout);
                }

                while (channel.BufferedAmount > 65536)
                {
                    await Task.WhenAny([low.Task, Task.Delay(1000)]);
                }
            }
        }
        """, """
        using System.Threading.Tasks;
        using Acme.Transport;

        class Sender
        {
            async Task PumpAsync(MessageChannel channel, TaskCompletionSource low)
            {
                while (channel.BufferedAmount > 65536)
                {
                    var timeout = Task.Delay(1000);
                    await Task.WhenAny(low.Task, timeout);
                }

                while (channel.BufferedAmount > 65536)
                {
                    await Task.WhenAny([low.Task, Task.Delay(1000)]);
                }
            }
        }
        """);
}

