using Verify = Backpressure.Analyzers.Tests.CSharpAnalyzerVerifier<Backpressure.Analyzers.BP0001BufferedAmountPollingAnalyzer>;

namespace Backpressure.Analyzers.Tests;

/// <summary>What a careful reviewer calls fine must stay quiet.</summary>
public sealed class NoDiagnosticTests
{
    [Fact]
    public Task NoDiagnostic_WhenLoadSheddingWithoutWaiting() => Verify.VerifyAnalyzerAsync("""
        using Acme.Transport;

        class Sender
        {
            bool TrySend(MessageChannel channel, byte[] chunk)
            {
                if (channel.BufferedAmount > 65536)
                {
                    return false;
                }

                channel.Send(chunk);
                return true;
            }
        }
        """);

    [Fact]
    public Task NoDiagnostic_WhenLoopOnlyLogsBufferedAmount() => Verify.VerifyAnalyzerAsync("""
        using System;
        using System.Threading;
        using System.Threading.Tasks;
        using Acme.Transport;

        class Monitor
        {
            async Task WatchAsync(MessageChannel channel, CancellationToken ct)
            {
                while (!ct.IsCancellationRequested)
                {
                    Console.WriteLine($"queued: {channel.BufferedAmount}");
                    if (channel.BufferedAmount > 1 << 20)
                    {
                        Console.WriteLine("queue is deep");
                    }

                    await Task.Delay(1000, ct);
                }
            }
        }
        """);

    [Fact]
    public Task NoDiagnostic_WhenADelayLoopHasNothingToDoWithABufferedAmount() => Verify.VerifyAnalyzerAsync("""
        using System.Threading.Tasks;

        class Retry
        {
            async Task<bool> ConnectAsync(System.Func<Task<bool>> attempt)
            {
                var attempts = 0;
                while (attempts < 3)
                {
                    if (await attempt())
                    {
                        return true;
                    }

                    attempts++;
                    await Task.Delay(100 * attempts);
                }

                return false;
            }
        }
        """);

    [Fact]
    public Task NoDiagnostic_WhenAlreadyWaitingOnASignalFromTheLowEvent() => Verify.VerifyAnalyzerAsync("""
        using System.Threading;
        using System.Threading.Tasks;
        using Acme.Transport;

        class Sender
        {
            private readonly SemaphoreSlim low = new(0);
            private TaskCompletionSource drained = new();

            async Task PumpAsync(MessageChannel channel)
            {
                while (channel.BufferedAmount > 65536)
                {
                    await low.WaitAsync();
                }

                while (channel.BufferedAmount > 65536)
                {
                    await drained.Task;
                }
            }
        }
        """);

    [Fact]
    public Task NoDiagnostic_WhenADelayIsOnlyATimeoutRacedAgainstTheLowEvent() => Verify.VerifyAnalyzerAsync("""
        using System;
        using System.Threading.Tasks;
        using Acme.Transport;

        class Sender
        {
            private TaskCompletionSource drained = new();

            async Task PumpAsync(MessageChannel channel)
            {
                while (channel.BufferedAmount > 65536)
                {
                    await Task.WhenAny(drained.Task, Task.Delay(TimeSpan.FromSeconds(5)));
                }
            }
        }
        """);

    [Fact]
    public Task NoDiagnostic_WhenAParameterOrLocalMerelyHasTheName() => Verify.VerifyAnalyzerAsync("""
        using System.Threading.Tasks;

        class Sender
        {
            async Task WaitAsync(long bufferedAmount, System.Func<long> measure)
            {
                while (bufferedAmount > 10)
                {
                    await Task.Delay(10);
                    bufferedAmount = measure();
                }

                long BufferedAmount = measure();
                while (BufferedAmount > 10)
                {
                    await Task.Delay(10);
                    BufferedAmount = measure();
                }
            }
        }
        """);

    [Fact]
    public Task NoDiagnostic_OnLookAlikeMembers_OrOnTypesThatCannotSend() => Verify.VerifyAnalyzerAsync("""
        using System.Threading.Tasks;
        using Acme.Transport;

        class Playback
        {
            async Task WaitAsync(Player player, Meter meter)
            {
                while (player.BufferedMilliseconds > 500) await Task.Delay(10);
                while (player.BufferedBytes > 65536) await Task.Delay(10);
                while (meter.BufferedAmount > 100) await Task.Delay(10);
            }
        }
        """);

    [Fact]
    public Task NoDiagnostic_WhenTheDelayRunsInACallbackNotInTheLoop() => Verify.VerifyAnalyzerAsync("""
        using System;
        using System.Threading.Tasks;
        using Acme.Transport;

        class Sender
        {
            void Pump(MessageChannel channel, Action<Func<Task>> schedule)
            {
                while (channel.BufferedAmount > 65536)
                {
                    schedule(() => Task.Delay(10));
                    break;
                }
            }
        }
        """);

    [Fact]
    public Task NoDiagnostic_InGeneratedCode() => Verify.VerifyAnalyzerAsync("""
        // <auto-generated/>
        using System.Threading.Tasks;
        using Acme.Transport;

        class Generated
        {
            async Task PumpAsync(MessageChannel channel)
            {
                while (channel.BufferedAmount > 10) await Task.Delay(1);
            }
        }
        """);

    [Fact]
    public Task NoDiagnostic_WhenTheBreakIsNotADrainWait_OrLeavesAnotherLoop() => Verify.VerifyAnalyzerAsync("""
        using System.Threading.Tasks;
        using Acme.Transport;

        class Sender
        {
            // Stops sending once the queue is full: load shedding, not waiting for it to drain.
            async Task ShedAsync(MessageChannel channel, byte[][] chunks)
            {
                foreach (var chunk in chunks)
                {
                    while (true)
                    {
                        if (channel.BufferedAmount > 1 << 20) break;
                        channel.Send(chunk);
                        await Task.Delay(1);
                    }
                }
            }

            // The loop ends on its own; the amount is only part of a composite exit.
            async Task FlushOrQuitAsync(MessageChannel channel, bool quitting)
            {
                while (true)
                {
                    if (channel.BufferedAmount == 0 && quitting) break;
                    await Task.Delay(16);
                }
            }
        }
        """);

    // Control, not reachability: code after a wait loop is reached only through the loop's exit, yet its own
    // delay neither repeats under the test nor always follows it; a log line under the test leaves the delay alone.
    [Fact]
    public Task NoDiagnostic_ForAWaitAfterTheLoop_OrAMonitorThatOnlyLogsWhenHigh() => Verify.VerifyAnalyzerAsync("""
        using System;
        using System.Threading.Tasks;
        using Acme.Transport;

        class Sender
        {
            async Task SendThenLingerAsync(MessageChannel channel, byte[] chunk)
            {
                [|while (channel.BufferedAmount > 65536)|] await Task.Delay(5);
                channel.Send(chunk);
                await Task.Delay(1000);
            }

            async Task MonitorAsync(MessageChannel channel, Func<bool> running)
            {
                while (running())
                {
                    if (channel.BufferedAmount > 1 << 20)
                    {
                        Console.WriteLine("congested");
                    }

                    await Task.Delay(1000);
                }
            }

            async Task WatchdogAsync(MessageChannel channel)
            {
                while (true)
                {
                    await Task.Delay(5000);
                    if (channel.BufferedAmount > 1 << 24) throw new TimeoutException("the peer stopped reading");
                }
            }
        }
        """);
}
