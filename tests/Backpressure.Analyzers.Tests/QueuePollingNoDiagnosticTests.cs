using Verify = Backpressure.Analyzers.Tests.CSharpAnalyzerVerifier<Backpressure.Analyzers.BP0003QueuePollingAnalyzer>;

namespace Backpressure.Analyzers.Tests;

/// <summary>BP0003 stays quiet where a wait is not a consumer polling for something to arrive.</summary>
public sealed class QueuePollingNoDiagnosticTests
{
    [Fact]
    public Task NoDiagnostic_OnAPacingDelayBetweenItems() => Verify.VerifyAnalyzerAsync("""
        using System.Collections.Concurrent;
        using System.Threading.Tasks;

        class Sender
        {
            private readonly ConcurrentQueue<byte[]> _outgoing = new();

            async Task FlushAsync(System.Action<byte[]> send)
            {
                while (_outgoing.TryDequeue(out var packet))
                {
                    send(packet);
                    await Task.Delay(10); // rate limit: one packet per 10 ms
                }
            }
        }
        """);

    [Fact]
    public Task NoDiagnostic_OnAMonitoringLoop_ThatWaitsWhateverTheQueueHolds() => Verify.VerifyAnalyzerAsync("""
        using System;
        using System.Collections.Concurrent;
        using System.Threading;
        using System.Threading.Tasks;

        class Monitor
        {
            private readonly ConcurrentQueue<string> _log = new();

            async Task WatchAsync(CancellationToken ct)
            {
                while (!ct.IsCancellationRequested)
                {
                    Console.WriteLine($"backlog: {_log.Count}");
                    if (_log.IsEmpty)
                    {
                        Console.WriteLine("idle");
                    }

                    await Task.Delay(1000, ct);
                }
            }
        }
        """);

    [Fact]
    public Task NoDiagnostic_OnATimeoutRacedAgainstASignal() => Verify.VerifyAnalyzerAsync("""
        using System.Collections.Concurrent;
        using System.Threading;
        using System.Threading.Tasks;

        class Consumer
        {
            private readonly ConcurrentQueue<int> _items = new();
            private readonly SemaphoreSlim _ready = new(0);

            async Task<int> TakeAsync()
            {
                int item;
                while (!_items.TryDequeue(out item))
                {
                    await Task.WhenAny(_ready.WaitAsync(), Task.Delay(500));
                }

                return item;
            }
        }
        """);

    [Fact]
    public Task NoDiagnostic_OnARetryDelay_ThatDoesNotDependOnTheQueue() => Verify.VerifyAnalyzerAsync("""
        using System.Collections.Concurrent;
        using System.Threading.Tasks;

        class Uploader
        {
            private readonly ConcurrentQueue<string> _pending = new();

            async Task UploadAsync(System.Func<string, Task<bool>> put)
            {
                while (_pending.TryPeek(out var file))
                {
                    var attempts = 0;
                    while (!await put(file) && attempts++ < 3)
                    {
                        await Task.Delay(1000); // back off: the server is busy, not the queue
                    }

                    _pending.TryDequeue(out _);
                }
            }
        }
        """);

    [Fact]
    public Task NoDiagnostic_OnAOneOffWait_ThatDoesNotRepeat() => Verify.VerifyAnalyzerAsync("""
        using System.Collections.Concurrent;
        using System.Threading;

        class Batcher
        {
            private readonly ConcurrentQueue<int> _items = new();

            int[] Flush()
            {
                if (_items.IsEmpty)
                {
                    Thread.Sleep(5); // give a late producer one chance before flushing
                }

                return _items.ToArray();
            }
        }
        """);

    [Fact]
    public Task NoDiagnostic_OnAQueueOutsideALock_AWorklistThisThreadFills() => Verify.VerifyAnalyzerAsync("""
        using System.Collections.Generic;
        using System.Threading;

        class Crawler
        {
            void Crawl(Queue<string> frontier, System.Func<string, IEnumerable<string>> links)
            {
                while (frontier.Count > 0)
                {
                    foreach (var link in links(frontier.Dequeue()))
                    {
                        frontier.Enqueue(link);
                    }

                    Thread.Sleep(100); // politeness delay between pages
                }
            }
        }
        """);

    [Fact]
    public Task NoDiagnostic_WhenWaitingForTheQueueToFillABatch_OrToDrainBelowABound() => Verify.VerifyAnalyzerAsync("""
        using System.Collections.Concurrent;
        using System.Threading;

        class Batcher
        {
            private readonly ConcurrentQueue<int> _items = new();

            void Wait()
            {
                while (_items.Count < 100) Thread.Sleep(5);
                while (_items.Count > 1000) Thread.Sleep(5);
            }
        }
        """);

    [Fact]
    public Task NoDiagnostic_OnABlockingTakeWithATimeout() => Verify.VerifyAnalyzerAsync("""
        using System.Collections.Concurrent;
        using System.Threading;

        class Consumer
        {
            private readonly BlockingCollection<int> _items = new();

            int Take(CancellationToken ct)
            {
                int item;
                while (!_items.TryTake(out item, 100))
                {
                    ct.ThrowIfCancellationRequested();
                }

                return item;
            }
        }
        """);
}
