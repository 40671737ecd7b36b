using Microsoft.CodeAnalysis.Testing;
using Verify = Backpressure.Analyzers.Tests.CSharpCodeFixVerifier<
    Backpressure.Analyzers.BP0003QueuePollingAnalyzer,
    Backpressure.CodeFixes.BP0003QueuePollingCodeFix>;

namespace Backpressure.Analyzers.Tests;

/// <summary>
/// BP0003 on every drainable source: found by BP0001's flow engine with an emptiness test, fixed with a signal at
/// every write (or BlockingCollection's own timed take) where every write is known, reported without a fix elsewhere.
/// </summary>
public sealed class QueuePollingTests
{
    private const string Signal = Backpressure.CodeFixes.BP0003QueuePollingCodeFix.SignalEquivalenceKey;
    private const string TakeWithTimeout = Backpressure.CodeFixes.BP0003QueuePollingCodeFix.TakeWithTimeoutEquivalenceKey;

    [Fact]
    public Task Signals_TheReceiveLoop_OfTheIssue_KeepingItsCounterAndReturns() => Verify.VerifyCodeFixAsync(
        """
        using System;
        using System.Collections.Concurrent;
        using System.Threading;

        class DtlsTransport
        {
            private readonly ConcurrentQueue<byte[]> _incoming = new();

            public void OnDatagram(byte[] datagram)
            {
                _incoming.Enqueue(datagram);
            }

            public int Receive(byte[] buffer, int timeoutMs)
            {
                var waited = 0;
                [|while (true)|]
                {
                    if (_incoming.TryDequeue(out var datagram)) return Copy(datagram, buffer);
                    Thread.Sleep(25);
                    waited += 25; if (waited > timeoutMs) return -1;
                }
            }

            private static int Copy(byte[] from, byte[] to)
            {
                Array.Copy(from, to, from.Length);
                return from.Length;
            }
        }
        """,
        """
        using System;
        using System.Collections.Concurrent;
        using System.Threading;

        class DtlsTransport
        {
            private readonly ConcurrentQueue<byte[]> _incoming = new();
            private readonly SemaphoreSlim _incomingSignal = new(0);

            public void OnDatagram(byte[] datagram)
            {
                _incoming.Enqueue(datagram);
                if (_incomingSignal.CurrentCount == 0) _incomingSignal.Release();
            }

            public int Receive(byte[] buffer, int timeoutMs)
            {
                var waited = 0;
                while (true)
                {
                    if (_incoming.TryDequeue(out var datagram)) return Copy(datagram, buffer);
                    _incomingSignal.Wait(25);
                    waited += 25; if (waited > timeoutMs) return -1;
                }
            }

            private static int Copy(byte[] from, byte[] to)
            {
                Array.Copy(from, to, from.Length);
                return from.Length;
            }
        }
        """,
        Signal);

    [Fact]
    public Task Signals_AnAsyncDrainLoop_WithTokenAndConfigureAwait_AndALambdaProducer() => Verify.VerifyCodeFixAsync(
        """
        using System;
        using System.Collections.Concurrent;
        using System.Threading;
        using System.Threading.Tasks;

        class Consumer
        {
            private readonly ConcurrentQueue<string> queue = new ConcurrentQueue<string>();

            public Consumer(Action<Action<string>> subscribe) => subscribe(line => queue.Enqueue(line));

            public async Task RunAsync(Action<string> handle, CancellationToken ct)
            {
                [|while (!ct.IsCancellationRequested)|]
                {
                    while (queue.TryDequeue(out var line)) handle(line);
                    await Task.Delay(100, ct).ConfigureAwait(false);
                }
            }
        }
        """,
        """
        using System;
        using System.Collections.Concurrent;
        using System.Threading;
        using System.Threading.Tasks;

        class Consumer
        {
            private readonly ConcurrentQueue<string> queue = new ConcurrentQueue<string>();
            private readonly SemaphoreSlim _queueSignal = new(0);

            public Consumer(Action<Action<string>> subscribe) => subscribe(line => { queue.Enqueue(line); if (_queueSignal.CurrentCount == 0) _queueSignal.Release(); });

            public async Task RunAsync(Action<string> handle, CancellationToken ct)
            {
                while (!ct.IsCancellationRequested)
                {
                    while (queue.TryDequeue(out var line)) handle(line);
                    await _queueSignal.WaitAsync(100, ct).ConfigureAwait(false);
                }
            }
        }
        """,
        Signal);

    [Fact]
    public Task Signals_AStackPolledByIsEmpty_AndABagPolledByCount_InOneFixAll() => Verify.VerifyCodeFixAsync(
        """
        using System;
        using System.Collections.Concurrent;
        using System.Threading;
        using System.Threading.Tasks;

        class Work
        {
            private static readonly ConcurrentStack<int> s_undo = new();
            private readonly ConcurrentBag<int> _bag = new();

            public static void Push(int item) => s_undo.Push(item);

            public void Add(int item)
            {
                if (item > 0)
                    _bag.Add(item);
            }

            public static async Task<int> PopAsync()
            {
                [|while (s_undo.IsEmpty)|] await Task.Delay(TimeSpan.FromMilliseconds(10));
                return s_undo.TryPop(out var item) ? item : -1;
            }

            public int Take()
            {
                [|while (_bag.Count == 0)|]
                {
                    Thread.Sleep(5);
                }

                return _bag.TryTake(out var item) ? item : -1;
            }
        }
        """,
        """
        using System;
        using System.Collections.Concurrent;
        using System.Threading;
        using System.Threading.Tasks;

        class Work
        {
            private static readonly ConcurrentStack<int> s_undo = new();
            private static readonly SemaphoreSlim s_undoSignal = new(0);
            private readonly ConcurrentBag<int> _bag = new();
            private readonly SemaphoreSlim _bagSignal = new(0);

            public static void Push(int item) { s_undo.Push(item); if (s_undoSignal.CurrentCount == 0) s_undoSignal.Release(); }

            public void Add(int item)
            {
                if (item > 0)
                    { _bag.Add(item); if (_bagSignal.CurrentCount == 0) _bagSignal.Release(); }
            }

            public static async Task<int> PopAsync()
            {
                while (s_undo.IsEmpty) await s_undoSignal.WaitAsync(TimeSpan.FromMilliseconds(10));
                return s_undo.TryPop(out var item) ? item : -1;
            }

            public int Take()
            {
                while (_bag.Count == 0)
                {
                    _bagSignal.Wait(5);
                }

                return _bag.TryTake(out var item) ? item : -1;
            }
        }
        """,
        Signal);
}
