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

    [Fact]
    public Task FixAll_GivesAQueuePolledInTwoPlaces_OneSignal_AndOneReleasePerWrite() => Verify.VerifyCodeFixAsync(
        """
        using System.Collections.Concurrent;
        using System.Threading;
        using System.Threading.Tasks;

        class Inbox
        {
            private readonly ConcurrentQueue<int> _items;

            public Inbox() { _items = new ConcurrentQueue<int>(); }

            public void Add(int item) { this._items.Enqueue(item); }

            public int Take()
            {
                int item;
                [|while (!this._items.TryDequeue(out item))|] Thread.Sleep(5);
                return item;
            }

            public async Task<int> TakeAsync()
            {
                int item;
                [|while (!_items.TryDequeue(out item))|] await Task.Yield();
                return item;
            }
        }
        """,
        """
        using System.Collections.Concurrent;
        using System.Threading;
        using System.Threading.Tasks;

        class Inbox
        {
            private readonly ConcurrentQueue<int> _items;
            private readonly SemaphoreSlim _itemsSignal = new(0);

            public Inbox() { _items = new ConcurrentQueue<int>(); }

            public void Add(int item) { this._items.Enqueue(item); if (_itemsSignal.CurrentCount == 0) _itemsSignal.Release(); }

            public int Take()
            {
                int item;
                while (!this._items.TryDequeue(out item)) _itemsSignal.Wait(5);
                return item;
            }

            public async Task<int> TakeAsync()
            {
                int item;
                while (!_items.TryDequeue(out item)) await _itemsSignal.WaitAsync(1);
                return item;
            }
        }
        """,
        Signal);

    [Fact]
    public Task Signals_WithAFreshName_WhenTheSignalsNameIsAUsersMutex() => Verify.VerifyCodeFixAsync(
        """
        using System.Collections.Concurrent;
        using System.Threading;

        class Inbox
        {
            private readonly ConcurrentQueue<int> _items = new();
            private readonly SemaphoreSlim _itemsSignal = new(1);

            public void Add(int item)
            {
                _itemsSignal.Wait();
                try { _items.Enqueue(item); } finally { _itemsSignal.Release(); }
            }

            public int Take()
            {
                int item;
                [|while (!_items.TryDequeue(out item))|] Thread.Sleep(5);
                return item;
            }
        }
        """,
        """
        using System.Collections.Concurrent;
        using System.Threading;

        class Inbox
        {
            private readonly ConcurrentQueue<int> _items = new();
            private readonly SemaphoreSlim _itemsSignal2 = new(0);
            private readonly SemaphoreSlim _itemsSignal = new(1);

            public void Add(int item)
            {
                _itemsSignal.Wait();
                try { _items.Enqueue(item); if (_itemsSignal2.CurrentCount == 0) _itemsSignal2.Release(); } finally { _itemsSignal.Release(); }
            }

            public int Take()
            {
                int item;
                while (!_items.TryDequeue(out item)) _itemsSignal2.Wait(5);
                return item;
            }
        }
        """,
        Signal);

    [Fact]
    public Task Signals_AQueueUnderALock_ReleasingInsideTheProducersLock() => Verify.VerifyCodeFixAsync(
        """
        using System.Collections.Generic;
        using System.Threading;

        class Mailbox
        {
            private readonly object _gate = new();
            private readonly Queue<string> _messages = new();

            public void Post(string message)
            {
                lock (_gate)
                {
                    _messages.Enqueue(message);
                }
            }

            public string? Receive(int timeoutMs)
            {
                [|for (var waited = 0; waited < timeoutMs; waited += 10)|]
                {
                    lock (_gate)
                    {
                        if (_messages.Count > 0) return _messages.Dequeue();
                    }

                    Thread.Sleep(10);
                }

                return null;
            }
        }
        """,
        """
        using System.Collections.Generic;
        using System.Threading;

        class Mailbox
        {
            private readonly object _gate = new();
            private readonly Queue<string> _messages = new();
            private readonly SemaphoreSlim _messagesSignal = new(0);

            public void Post(string message)
            {
                lock (_gate)
                {
                    _messages.Enqueue(message);
                    if (_messagesSignal.CurrentCount == 0) _messagesSignal.Release();
                }
            }

            public string? Receive(int timeoutMs)
            {
                for (var waited = 0; waited < timeoutMs; waited += 10)
                {
                    lock (_gate)
                    {
                        if (_messages.Count > 0) return _messages.Dequeue();
                    }

                    _messagesSignal.Wait(10);
                }

                return null;
            }
        }
        """,
        Signal);

    [Fact]
    public Task TakesWithTheSleepsTimeout_OnABlockingCollection() => Verify.VerifyCodeFixAsync(
        """
        using System.Collections.Concurrent;
        using System.Threading;

        class Worker
        {
            int Next(BlockingCollection<int> jobs)
            {
                int job;
                [|while (!jobs.TryTake(out job))|] Thread.Sleep(20);
                return job;
            }

            int NextOrDefault(BlockingCollection<int> jobs, int timeoutMs)
            {
                var waited = 0;
                [|while (waited < timeoutMs)|]
                {
                    if (jobs.TryTake(out var job)) return job;
                    Thread.Sleep(20);
                    waited += 20;
                }

                return -1;
            }
        }
        """,
        """
        using System.Collections.Concurrent;
        using System.Threading;

        class Worker
        {
            int Next(BlockingCollection<int> jobs)
            {
                int job;
                while (!jobs.TryTake(out job, 20)) { }
                return job;
            }

            int NextOrDefault(BlockingCollection<int> jobs, int timeoutMs)
            {
                var waited = 0;
                while (waited < timeoutMs)
                {
                    if (jobs.TryTake(out var job, 20)) return job;
                    waited += 20;
                }

                return -1;
            }
        }
        """,
        TakeWithTimeout);

    [Fact]
    public Task Reports_ABlockingCollectionPolledByCount_WithoutAFix() => VerifyNoFixAsync(
        """
        using System.Collections.Concurrent;
        using System.Threading.Tasks;

        class Worker
        {
            async Task<int> NextAsync(BlockingCollection<int> jobs)
            {
                {|#0:while (jobs.Count == 0)|} await Task.Delay(20);
                return jobs.Take();
            }
        }
        """,
        TakeWithTimeout,
        Expected("loop", "jobs", "BlockingCollection's own TryTake(out item, timeout) replaces the sleep only when the loop tests TryTake, not the count"));

    [Fact]
    public Task Reports_AChannelReaderPolledByTryRead_WithoutAFix() => VerifyNoFixAsync(
        """
        using System.Threading;
        using System.Threading.Channels;
        using System.Threading.Tasks;

        class Pump
        {
            async Task<int> ReadAsync(ChannelReader<int> reader, CancellationToken ct)
            {
                int value;
                {|#0:while (!reader.TryRead(out value))|} await Task.Delay(25, ct);
                return value;
            }
        }
        """,
        Signal,
        Expected("loop", "reader", "a ChannelReader's own wait, WaitToReadAsync, cannot be bounded by the delay without leaving a waiter behind every turn, and once the channel completes it returns at once, forever, where the delay did not; await ReadAsync or WaitToReadAsync in place of the loop"));

    [Fact]
    public Task Reports_ASocketPolledByAvailable_AndAStreamByDataAvailable_WithoutAFix() => VerifyNoFixAsync(
        """
        using System.Net.Sockets;
        using System.Threading;

        class Receiver
        {
            int Receive(Socket socket, NetworkStream stream, byte[] buffer)
            {
                {|#0:while (socket.Available == 0)|} Thread.Sleep(1);
                {|#1:while (!stream.DataAvailable)|} Thread.Sleep(1);
                return socket.Receive(buffer);
            }
        }
        """,
        Signal,
        Expected("loop", "socket", SocketReason, 0),
        Expected("loop", "stream", SocketReason, 1));

    [Fact]
    public Task Reports_ATimerThatReschedulesItselfWhileTheQueueIsEmpty_WithoutAFix() => VerifyNoFixAsync(
        """
        using System.Collections.Concurrent;
        using System.Threading;

        class Flusher
        {
            private readonly ConcurrentQueue<string> _lines = new();
            private readonly Timer _timer;

            public Flusher() { _timer = new Timer(Poll); }

            public void Write(string line) { _lines.Enqueue(line); }

            private void Poll(object? state)
            {
                {|#0:if (_lines.IsEmpty)|}
                {
                    _timer.Change(50, Timeout.Infinite);
                    return;
                }

                while (_lines.TryDequeue(out var line)) System.Console.WriteLine(line);
                _timer.Change(0, Timeout.Infinite);
            }
        }
        """,
        Signal,
        Expected("if statement", "_lines", "a timer re-schedule runs its callback on the timer's own schedule, so there is no wait to end early; rewrite the callback as a loop"));

    [Fact]
    public Task Refuses_AQueueThatEscapes_AsAnArgument() => VerifyNoFixAsync(
        """
        using System.Collections.Concurrent;
        using System.Threading;

        class Listener
        {
            private readonly ConcurrentQueue<byte[]> _incoming = new();

            public Listener(System.Action<ConcurrentQueue<byte[]>> attach) => attach(_incoming);

            public byte[] Receive()
            {
                byte[]? datagram;
                {|#0:while (!_incoming.TryDequeue(out datagram))|} Thread.Sleep(25);
                return datagram;
            }
        }
        """,
        Signal,
        Expected("loop", "_incoming", "'_incoming' is passed as an argument on line 8, so not every write to it can be found to signal the consumer"));

    [Fact]
    public Task Refuses_AQueueHandedInThroughTheConstructor() => VerifyNoFixAsync(
        """
        using System.Collections.Concurrent;
        using System.Threading;

        class Worker
        {
            private readonly ConcurrentQueue<string> _jobs;

            public Worker(ConcurrentQueue<string> jobs) { _jobs = jobs; }

            public string Next()
            {
                string? job;
                {|#0:while (!_jobs.TryDequeue(out job))|} Thread.Sleep(10);
                return job;
            }
        }
        """,
        Signal,
        Expected("loop", "_jobs", "'_jobs' is assigned something other than a new queue made by a constructor on line 8, so not every write to it can be found to signal the consumer"));

    [Fact]
    public Task Refuses_APublicQueue_AndAQueueReturnedByAProperty() => VerifyNoFixAsync(
        """
        using System.Collections.Concurrent;
        using System.Threading;

        class Inbox
        {
            public readonly ConcurrentQueue<int> Items = new();
            private readonly ConcurrentQueue<int> _hidden = new();

            public ConcurrentQueue<int> Hidden => _hidden;

            public void Add(int item) => _hidden.Enqueue(item);

            public int Take()
            {
                int item;
                {|#0:while (!Items.TryDequeue(out item))|} Thread.Sleep(5);
                {|#1:while (!_hidden.TryDequeue(out item))|} Thread.Sleep(5);
                return item;
            }
        }
        """,
        Signal,
        Expected("loop", "Items", "'Items' is public: code outside the type can add to it without waking the consumer", 0),
        Expected("loop", "_hidden", "'_hidden' is returned on line 9, so not every write to it can be found to signal the consumer", 1));

    [Fact]
    public Task Refuses_AnInternalQueue_WrittenOutsideTheType_ButSignalsOneNobodyElseNames() => VerifyAsync(
        """
        using System.Collections.Concurrent;
        using System.Threading;

        class Session
        {
            internal readonly ConcurrentQueue<int> Acks = new();
            internal readonly ConcurrentQueue<int> Nacks = new();

            internal void OnNack(int id) => Nacks.Enqueue(id);

            public int NextAck()
            {
                int id;
                {|#0:while (!Acks.TryDequeue(out id))|} Thread.Sleep(5);
                return id;
            }

            public int NextNack()
            {
                int id;
                [|while (!Nacks.TryDequeue(out id))|] Thread.Sleep(5);
                return id;
            }
        }

        class Network
        {
            void OnAck(Session session, int id) => session.Acks.Enqueue(id);
        }
        """,
        """
        using System.Collections.Concurrent;
        using System.Threading;

        class Session
        {
            internal readonly ConcurrentQueue<int> Acks = new();
            internal readonly ConcurrentQueue<int> Nacks = new();
            private readonly SemaphoreSlim _NacksSignal = new(0);

            internal void OnNack(int id) { Nacks.Enqueue(id); if (_NacksSignal.CurrentCount == 0) _NacksSignal.Release(); }

            public int NextAck()
            {
                int id;
                {|#0:while (!Acks.TryDequeue(out id))|} Thread.Sleep(5);
                return id;
            }

            public int NextNack()
            {
                int id;
                while (!Nacks.TryDequeue(out id)) _NacksSignal.Wait(5);
                return id;
            }
        }

        class Network
        {
            void OnAck(Session session, int id) => session.Acks.Enqueue(id);
        }
        """,
        Signal,
        remaining: [Expected("loop", "Acks", "'Acks' is internal and named outside 'Session', where it may be written without waking the consumer", 0)]);

    /// <summary>The site is reported, and no fix is offered under any key: the fixed code is the source, still reported.</summary>
    private static Task VerifyNoFixAsync(string source, string key, params DiagnosticResult[] expected) =>
        VerifyAsync(source, source, key, expected);

    private static Task VerifyAsync(string source, string fixedSource, string key, DiagnosticResult[]? remaining = null) =>
        VerifyAsync(source, fixedSource, key, remaining ?? [], remaining ?? []);

    private static Task VerifyAsync(string source, string fixedSource, string key, DiagnosticResult[] expected, DiagnosticResult[] remaining)
    {
        var test = new Verify.Test { TestCode = source, FixedCode = fixedSource, CodeActionEquivalenceKey = key };
        test.ExpectedDiagnostics.AddRange(expected);
        test.FixedState.ExpectedDiagnostics.AddRange(remaining);
        return test.RunAsync();
    }

    private const string SocketReason = "the data comes from the network, not from a write in this type; receive with a timeout (Receive, ReceiveAsync with a token) instead of polling the count";

    private static DiagnosticResult Expected(string kind, string source, string whyNot, int location = 0) =>
        new DiagnosticResult(DiagnosticDescriptors.QueuePolling).WithLocation(location).WithArguments(kind, source, " (no automatic fix: " + whyNot + ")");
}
