using Backpressure;

namespace Backpressure.Runtime.Tests;

/// <summary>
/// The transport's own thread for the fault-injection tests: a dedicated thread, so its id belongs to nothing
/// else and a continuation seen on it can only have run inline from an event it raised.
/// </summary>
internal sealed class FuzzTransport : IDisposable
{
    private readonly Thread _thread;
    private volatile bool _stopping;
    private Exception? _failure;

    /// <param name="step">One turn of the transport, given its index; returns whether it did any work (idle turns back off).</param>
    public FuzzTransport(Func<int, bool> step)
    {
        _thread = new Thread(() =>
        {
            var spin = new SpinWait();
            try
            {
                for (var i = 0; !_stopping; i++)
                {
                    if (step(i))
                    {
                        spin = new SpinWait();
                        Thread.Yield();
                    }
                    else
                    {
                        spin.SpinOnce(); // escalates to Sleep(0) and Sleep(1): an idle transport leaves the cores to the sender
                    }
                }
            }
            catch (Exception ex)
            {
                _failure = ex;
            }
        })
        { IsBackground = true, Name = "fuzz transport" };
        _thread.Start();
        ThreadId = _thread.ManagedThreadId;
    }

    public int ThreadId { get; }

    /// <summary>Stops the thread and rethrows anything the step threw (a broken test, not a runtime bug).</summary>
    public void Dispose()
    {
        _stopping = true;
        if (Environment.CurrentManagedThreadId == ThreadId)
        {
            throw new InvalidOperationException("The transport was stopped from its own thread: a continuation ran on it.");
        }

        _thread.Join();
        if (_failure is { } failure)
        {
            throw new InvalidOperationException("The fuzz transport failed.", failure);
        }
    }
}

/// <summary>
/// A source stream that returns short reads of random length, sometimes asynchronously, and can throw or stall at a
/// given read. A stalled read ends only when its token is cancelled, as a pipe whose writer is idle.
/// </summary>
internal sealed class FuzzStream(byte[] data, int seed, int maxRead, int throwAtRead = -1, int stallAtRead = -1) : ReadOnlyTestStream
{
    private readonly Random _random = new(seed);
    private int _position;
    private int _reads;
    private volatile bool _stalled;
    private volatile bool _threw;

    public bool Stalled => _stalled;

    public bool Threw => _threw;

    public override int Read(byte[] buffer, int offset, int count) => ReadCoreAsync(buffer.AsMemory(offset, count), default).AsTask().GetAwaiter().GetResult();

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadCoreAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
        ReadCoreAsync(buffer, cancellationToken);

    private async ValueTask<int> ReadCoreAsync(Memory<byte> buffer, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var index = _reads++;
        if (index == throwAtRead)
        {
            _threw = true;
            throw new IOException("source");
        }

        if (index == stallAtRead)
        {
            _stalled = true;
            await Task.Delay(Timeout.Infinite, cancellationToken);
        }

        if (_random.Next(4) == 0)
        {
            await Task.Yield();
        }

        var count = Math.Min(Math.Min(buffer.Length, _random.Next(1, maxRead + 1)), data.Length - _position);
        data.AsMemory(_position, count).CopyTo(buffer);
        _position += count;
        return count;
    }
}

internal static class FuzzAssert
{
    /// <summary>
    /// What every fault-injection case asserts about the channel once everything on it has ended: each handler
    /// added was removed, and nothing was sent from inside one of the channel's event raises.
    /// </summary>
    public static void ChannelLeftClean(ManualChannel channel, FuzzTransport transport, string context)
    {
        var (added, removed) = channel.HandlerCounts;
        Assert.True(channel.TotalSubscribers == 0 && added == removed, $"handlers left: {channel.TotalSubscribers} ({added} added, {removed} removed); {context}");
        Assert.True(channel.SendsFromEventRaise == 0, $"{channel.SendsFromEventRaise} sends ran inside an event raise; {context}");
        Assert.DoesNotContain(transport.ThreadId, channel.SendThreadIds);
    }

    /// <summary>Asserts the calling code, a continuation of the library's, is not on the transport's thread nor inside one of its raises.</summary>
    public static void NotOnTransport(ManualChannel channel, FuzzTransport transport, string what)
    {
        Assert.True(
            Environment.CurrentManagedThreadId != transport.ThreadId && !channel.IsRaisingOnCurrentThread,
            $"{what} ran on the transport's thread");
    }

    /// <summary>
    /// Awaits <paramref name="task"/> under the hang guard, and records the thread that completed it: a continuation
    /// registered to run synchronously runs where the library completed the task.
    /// </summary>
    public static async Task<Exception?> EndsAsync(Task task, ManualChannel channel, FuzzTransport transport, string context)
    {
        var completedOnTransport = 0;
        var probe = task.ContinueWith(
            _ =>
            {
                if (Environment.CurrentManagedThreadId == transport.ThreadId || channel.IsRaisingOnCurrentThread)
                {
                    completedOnTransport = 1;
                }
            },
            CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default);

        var finished = await Task.WhenAny(task, Task.Delay(TestUtil.HangTimeout));

        // Off whatever thread completed the task before asserting: if that was the transport's, the test must not
        // go on there (it would stop the transport by joining its own thread).
        var resumedOnTransport = Environment.CurrentManagedThreadId == transport.ThreadId || channel.IsRaisingOnCurrentThread;
        await Task.Yield();
        if (finished != task)
        {
            Assert.Fail($"Hung: {context}; buffered {channel.BufferedAmount}, threshold {channel.BufferedAmountLowThreshold}, {channel.SendCount} sends, state {channel.State}.");
        }

        await probe;
        Assert.True(completedOnTransport == 0 && !resumedOnTransport, $"the task was completed on the transport's thread; {context}");
        return await Record.ExceptionAsync(() => task);
    }
}
