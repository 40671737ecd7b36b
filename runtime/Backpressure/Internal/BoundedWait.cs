using System;
using System.Diagnostics;
using System.Threading;
using System.Threading.Tasks;

namespace Backpressure.Internal;

/// <summary>
/// One bounded wait on a channel: listens to its events until the buffered amount is low, the delay has
/// passed, the channel closes or fails, or the caller cancels, and removes its handlers on every path.
/// </summary>
internal sealed class BoundedWait
{
    private readonly object _sync = new();
    private readonly EventHandler _onLow;
    private readonly EventHandler _onClosed;
    private readonly EventHandler<BufferedChannelErrorEventArgs> _onError;
    private TaskCompletionSource<bool> _wake = NewWake();
    private int _signaled;
    private int _stopped;

    private BoundedWait()
    {
        _onLow = (_, _) => Signal();
        _onClosed = (_, _) => Stop();
        _onError = (_, _) => Stop();
    }

    public static async Task<bool> WaitAsync(IBufferedChannel channel, long threshold, TimeSpan delay, TimeProvider time, CancellationToken cancellationToken)
    {
        var wait = new BoundedWait();
        using var timerCancellation = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var subscriptions = Subscriptions.None;
        try
        {
            subscriptions = wait.Subscribe(channel, threshold);
#if NET
            var elapsed = Task.Delay(delay, time, timerCancellation.Token);
#else
            var elapsed = time.Delay(delay, timerCancellation.Token);
#endif
            while (true)
            {
                var wake = wait.Arm();
                if (channel.BufferedAmount <= threshold)
                {
                    return true;
                }

                if (Volatile.Read(ref wait._stopped) != 0)
                {
                    return false;
                }

                var first = await Task.WhenAny(wake, elapsed).ConfigureAwait(false);
                if (cancellationToken.IsCancellationRequested)
                {
                    throw new TaskCanceledException(Task.FromCanceled(cancellationToken));
                }

                if (first == elapsed)
                {
                    return false;
                }
            }
        }
        finally
        {
            timerCancellation.Cancel();
            wait.Unsubscribe(channel, subscriptions);
        }
    }

    public static bool Sleep(IBufferedChannel channel, long threshold, int millisecondsTimeout)
    {
        var wait = new BoundedWait();
        var subscriptions = Subscriptions.None;
        try
        {
            subscriptions = wait.Subscribe(channel, threshold);
            var start = Stopwatch.GetTimestamp();
            while (true)
            {
                Interlocked.Exchange(ref wait._signaled, 0);
                if (channel.BufferedAmount <= threshold)
                {
                    return true;
                }

                if (Volatile.Read(ref wait._stopped) != 0)
                {
                    return false;
                }

                lock (wait._sync)
                {
                    while (Volatile.Read(ref wait._signaled) == 0)
                    {
                        var remaining = Remaining(start, millisecondsTimeout);
                        if (remaining == 0)
                        {
                            return false;
                        }

                        Monitor.Wait(wait._sync, remaining);
                    }
                }
            }
        }
        finally
        {
            wait.Unsubscribe(channel, subscriptions);
        }
    }

    private static int Remaining(long start, int millisecondsTimeout)
    {
        if (millisecondsTimeout == Timeout.Infinite)
        {
            return Timeout.Infinite;
        }

        var elapsed = (Stopwatch.GetTimestamp() - start) * 1000 / Stopwatch.Frequency;
        return elapsed >= millisecondsTimeout ? 0 : (int)(millisecondsTimeout - elapsed);
    }

    private static TaskCompletionSource<bool> NewWake() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    private Subscriptions Subscribe(IBufferedChannel channel, long threshold)
    {
        // A channel that is not open at the call gets the full delay, as the delay gave it: no busy loop.
        if (channel.State != BufferedChannelState.Open)
        {
            return Subscriptions.None;
        }

        var subscriptions = Subscriptions.None;
        try
        {
            channel.Closed += _onClosed;
            subscriptions |= Subscriptions.Closed;
            channel.Error += _onError;
            subscriptions |= Subscriptions.Error;
            if (channel.SupportsBufferedAmountLowEvent && threshold >= 0)
            {
                channel.BufferedAmountLow += _onLow;
                subscriptions |= Subscriptions.Low;

                // A running transfer owns the threshold; the delay bounds this wait either way.
                var gate = ChannelCoordinator.For(channel).Gate;
                if (gate.TryAcquire())
                {
                    try
                    {
                        channel.BufferedAmountLowThreshold = threshold;
                    }
                    finally
                    {
                        gate.Release();
                    }
                }
            }

            return subscriptions;
        }
        catch
        {
            Unsubscribe(channel, subscriptions);
            throw;
        }
    }

    private void Unsubscribe(IBufferedChannel channel, Subscriptions subscriptions)
    {
        try
        {
            if ((subscriptions & Subscriptions.Low) != 0)
            {
                channel.BufferedAmountLow -= _onLow;
            }
        }
        finally
        {
            try
            {
                if ((subscriptions & Subscriptions.Error) != 0)
                {
                    channel.Error -= _onError;
                }
            }
            finally
            {
                if ((subscriptions & Subscriptions.Closed) != 0)
                {
                    channel.Closed -= _onClosed;
                }
            }
        }
    }

    private Task<bool> Arm()
    {
        var wake = NewWake();

        // A full fence: the caller's re-read of the amount must not move ahead of the arming.
        Interlocked.Exchange(ref _wake, wake);
        Interlocked.Exchange(ref _signaled, 0);
        return wake.Task;
    }

    private void Stop()
    {
        Volatile.Write(ref _stopped, 1);
        Signal();
    }

    private void Signal()
    {
        Volatile.Read(ref _wake).TrySetResult(true);
        Volatile.Write(ref _signaled, 1);
        lock (_sync)
        {
            Monitor.PulseAll(_sync);
        }
    }

    [Flags]
    private enum Subscriptions
    {
        None = 0,
        Closed = 1,
        Error = 2,
        Low = 4,
    }
}
