using Backpressure;
using Xunit.Abstractions;
using static Backpressure.Runtime.Tests.TestUtil;

namespace Backpressure.Runtime.Tests;

/// <summary>Runs alone: the async test counts every thread's allocations, so no other test may run beside it.</summary>
[CollectionDefinition(nameof(AllocationCollection), DisableParallelization = true)]
public sealed class AllocationCollection;

/// <summary>
/// A polling loop rewritten to a bounded wait allocates nothing per turn once warm: the waiter, its delegates
/// and its timer are reused. Allocation assertions only; the waits are real (parked, then woken from another thread).
/// </summary>
[Collection(nameof(AllocationCollection))]
public sealed class BoundedWaitAllocationTests(ITestOutputHelper output)
{
    private const int Warmup = 2_000;
    private const int Rounds = 3;

    [Fact]
    public void Sleep_AllocatesNothingPerWait_OnceWarm()
    {
        const int Waits = 5_000;
        using var link = new DrainingLink();
        link.SleepWaits(Warmup);

        // The best of a few rounds: a round that met the runtime's own one-off work (tiered JIT) is not the steady state.
        long allocated = long.MaxValue;
        var parked = 0;
        for (var round = 0; round < Rounds && allocated > 0; round++)
        {
            var before = GC.GetAllocatedBytesForCurrentThread();
            var parkedBefore = link.ParkedWaits;
            link.SleepWaits(Waits);
            allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            parked = link.ParkedWaits - parkedBefore;
            output.WriteLine($"sync round {round}: {allocated} bytes over {Waits} waits, {parked} woken by the link");
        }

        Assert.True(parked > Waits / 10, $"only {parked} of {Waits} waits were woken by the link");
        Assert.True(allocated == 0, $"{allocated} bytes over {Waits} waits ({parked} woken by the link)");
        Assert.Equal(0, link.Channel.TotalSubscribers);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Delay_AllocatesAtMostAFewBytesPerWait_OnceWarm(bool cancellable)
    {
        const int Waits = 20_000;
        using var link = new DrainingLink();
        using var cts = new CancellationTokenSource();
        var token = cancellable ? cts.Token : CancellationToken.None;

        // The netstandard2.0 build queues its checks with ThreadPool.UnsafeQueueUserWorkItem(WaitCallback), which
        // allocates a small work item each time (IThreadPoolWorkItem is .NET Core only); the rest of the process
        // (the test host, the runtime's timers) allocates a little too, hence a bound per wait rather than zero.
        var bound = IsNetStandardBuild ? 64 : 8;

        // On a pool thread, so no test synchronization context sees the continuations.
        var (perWait, parked) = await Task.Run(async () =>
        {
            await link.DelayWaitsAsync(Warmup, token).ConfigureAwait(false);
            var best = (PerWait: double.MaxValue, Parked: 0);
            for (var round = 0; round < Rounds && best.PerWait > bound; round++)
            {
                var before = GC.GetTotalAllocatedBytes(precise: true);
                var parkedBefore = link.ParkedWaits;
                await link.DelayWaitsAsync(Waits, token).ConfigureAwait(false);
                var allocated = GC.GetTotalAllocatedBytes(precise: true) - before;
                var roundParked = link.ParkedWaits - parkedBefore;
                output.WriteLine($"async (cancellable: {cancellable}) round {round}: {(double)allocated / Waits:F2} bytes per wait, {allocated} over {Waits}, {roundParked} parked");
                if ((double)allocated / Waits < best.PerWait)
                {
                    best = ((double)allocated / Waits, roundParked);
                }
            }

            return best;
        }).Within();

        Assert.True(parked > Waits / 10, $"only {parked} of {Waits} waits parked");
        Assert.True(perWait <= bound, $"{perWait:F2} bytes per wait (bound {bound})");
        Assert.Equal(0, link.Channel.TotalSubscribers);
    }

    private static bool IsNetStandardBuild =>
        typeof(IBufferedChannel).Assembly.GetCustomAttributes(typeof(System.Runtime.Versioning.TargetFrameworkAttribute), false)
            .Cast<System.Runtime.Versioning.TargetFrameworkAttribute>()
            .Any(a => a.FrameworkName.StartsWith(".NETStandard", StringComparison.Ordinal));

    /// <summary>
    /// A channel whose queue a second thread empties as soon as a wait has subscribed and re-read it: each wait
    /// parks (or sees the drain just in time) and is woken by a low event raised on the link's thread.
    /// </summary>
    private sealed class DrainingLink : IDisposable
    {
        private readonly SemaphoreSlim _drain = new(0);
        private readonly Thread _thread;
        private volatile bool _stopping;
        private int _parked;
        private int _reads;

        public DrainingLink()
        {
            Channel.AfterBufferedAmountRead = amount =>
            {
                _reads++;
                if (amount > 0 && Channel.HasLowSubscriber)
                {
                    _drain.Release();
                }
            };
            _thread = new Thread(() =>
            {
                while (true)
                {
                    _drain.Wait();
                    if (_stopping)
                    {
                        return;
                    }

                    Channel.DrainAll();
                }
            }) { IsBackground = true, Name = "DrainingLink" };
            _thread.Start();
        }

        public ManualChannel Channel { get; } = new();

        public int ParkedWaits => Volatile.Read(ref _parked);

        public void SleepWaits(int count)
        {
            for (var i = 0; i < count; i++)
            {
                Channel.Fill(500);
                var readsBefore = _reads;
                if (!Channel.SleepUntilBufferedAmountLow(200, 60_000))
                {
                    throw new InvalidOperationException("a wait ended without the queue draining");
                }

                // The check at the call and the one after subscribing found the queue full: a third read means a
                // signal woke the wait (mostly out of Monitor.Wait; sometimes just before it would have blocked).
                if (_reads - readsBefore > 2)
                {
                    _parked++;
                }
            }
        }

        public async Task DelayWaitsAsync(int count, CancellationToken cancellationToken)
        {
            for (var i = 0; i < count; i++)
            {
                Channel.Fill(500);
                var wait = Channel.DelayUntilBufferedAmountLowAsync(200, 60_000, cancellationToken);
                if (!wait.IsCompleted)
                {
                    _parked++;
                }

                if (!await wait.ConfigureAwait(false))
                {
                    throw new InvalidOperationException("a wait ended without the queue draining");
                }
            }
        }

        public void Dispose()
        {
            _stopping = true;
            _drain.Release();
            _thread.Join();
            _drain.Dispose();
        }
    }
}
