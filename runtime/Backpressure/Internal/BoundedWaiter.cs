using System;
using System.Threading;
using System.Threading.Tasks;
using System.Threading.Tasks.Sources;

namespace Backpressure.Internal;

/// <summary>
/// The engine of the bounded waits (<c>DelayUntilBufferedAmountLowAsync</c>, <c>SleepUntilBufferedAmountLow</c>):
/// one wait at a time on one channel, reused from wait to wait so a polling loop allocates nothing per turn.
/// </summary>
/// <remarks>
/// <para>
/// Everything that can end a wait (the low event, Closed, Error, the timer, cancellation) only calls
/// <see cref="Signal"/>, which counts a wake in <see cref="_wakes"/> and never throws, nor blocks beyond taking a
/// sleeping thread's monitor for the instant a pulse takes (Monitor.Wait releases it). Whoever moves the
/// count from 0 to 1 owns the next check: an async wait queues <see cref="Run"/> to the thread pool, so neither the
/// check nor the caller's continuation runs on the transport's thread; a blocking wait is pulsed. The count is 0
/// only while an async wait is idle, so at most one <see cref="Run"/> executes at a time.
/// </para>
/// <para>
/// <see cref="Run"/> reads the count with a full fence before it re-reads the channel, and goes idle only if the
/// count has not moved since: a low event raised between the check and the wait either shows in the amount it
/// reads or makes it check again (the protocol of <c>Transfer.ArmAndRecheck</c>). Every wake is a hint: the
/// channel is re-read each time, and the wait ends only on what it reads (the amount, the state, the clock,
/// the token), so a late handler or timer callback of an earlier wait on this object costs one check and nothing else.
/// </para>
/// </remarks>
internal sealed class BoundedWaiter : IValueTaskSource<bool>
#if NET
    , IThreadPoolWorkItem
#endif
{
    /// <summary>
    /// Less than this left of the delay counts as elapsed: the system timer rounds due times down to whole
    /// milliseconds (as Task.Delay's does), so it may fire a fraction of one early, and re-arming it for the rest
    /// would only spin.
    /// </summary>
    private static readonly TimeSpan TimerResolution = TimeSpan.FromMilliseconds(1);

    private static readonly TimerCallback s_onTimer = static state =>
    {
        var waiter = (BoundedWaiter)state!;
        Volatile.Write(ref waiter._timerFired, 1);
        waiter.Signal();
    };
    private static readonly Action<object?> s_onCancel = static state => ((BoundedWaiter)state!).Signal();
#if !NET
    private static readonly WaitCallback s_run = static state => ((BoundedWaiter)state!).RunFromSignal();
#endif

    private readonly IBufferedChannel _channel;
    private readonly ChannelCoordinator _coordinator;
    private readonly object _monitor = new();
    private readonly EventHandler _onLow;
    private readonly EventHandler _onClosed;
    private readonly EventHandler<BufferedChannelErrorEventArgs> _onError;

    private ManualResetValueTaskSourceCore<bool> _core;
    private int _wakes;
    private int _stopped;
    private int _sleeping;
    private int _timerFired;

    // Reused across waits.
    private ITimer? _timer;
    private TimeProvider? _timerClock;
    private DrainRateEstimator? _drainRate;

    // One wait's parameters and state, written by Begin before anything can signal.
    private long _threshold;
    private TimeSpan _delay;
    private TimeProvider _time = TimeProvider.System;
    private CancellationToken _cancellationToken;
    private CancellationTokenRegistration _cancellation;
    private long _startedAt;
    private TimeSpan _checkedAt;
    private TimeSpan _timerDue;
    private bool _timerArmed;
    private bool _listening;
    private bool _useLowEvent;
    private bool _reusable = true;
    private Subscriptions _subscribed;

    public BoundedWaiter(IBufferedChannel channel, ChannelCoordinator coordinator)
    {
        _channel = channel;
        _coordinator = coordinator;
        _onLow = (_, _) => Signal();
        _onClosed = (_, _) => Stop();
        _onError = (_, _) => Stop();
        _wakes = 1; // not idle: a stray signal before the first wait must not start a check
    }

    [Flags]
    private enum Subscriptions
    {
        None = 0,
        Closed = 1,
        Error = 2,
        Low = 4,
    }

    private enum Outcome
    {
        Waiting,
        Low,
        Stopped,
        Elapsed,
        Cancelled,
    }

    /// <summary>The async wait; the caller has checked the token, the amount and a zero delay.</summary>
    public ValueTask<bool> DelayAsync(long threshold, TimeSpan delay, TimeProvider time, CancellationToken cancellationToken)
    {
        Outcome outcome;
        CancellationToken cancelled;
        var version = _core.Version;
        try
        {
            Begin(threshold, delay, time, cancellationToken);
            outcome = Run();
            if (outcome == Outcome.Waiting)
            {
                return new ValueTask<bool>(this, version);
            }

            cancelled = _cancellationToken;
            End();
        }
        catch
        {
            Abandon();
            throw;
        }

        Release();
        return outcome == Outcome.Cancelled
            ? new ValueTask<bool>(Task.FromCanceled<bool>(cancelled))
            : new ValueTask<bool>(outcome == Outcome.Low);
    }

    /// <summary>The blocking wait; the caller has checked the amount and a zero timeout.</summary>
    public bool Sleep(long threshold, int millisecondsTimeout)
    {
        Outcome outcome;
        try
        {
            var timeout = millisecondsTimeout == Timeout.Infinite ? Timeout.InfiniteTimeSpan : TimeSpan.FromMilliseconds(millisecondsTimeout);
            Begin(threshold, timeout, TimeProvider.System, default);
            while ((outcome = Check(out var wakeIn, out var seen)) == Outcome.Waiting)
            {
                Block(seen, wakeIn);
            }

            End();
        }
        catch
        {
            Abandon();
            throw;
        }

        Release();
        return outcome == Outcome.Low;
    }

#if NET
    void IThreadPoolWorkItem.Execute() => RunFromSignal();
#endif

    bool IValueTaskSource<bool>.GetResult(short token)
    {
        if (token != _core.Version)
        {
            // Misuse (a second await of the same ValueTask): leave the object alone.
            return _core.GetResult(token);
        }

        try
        {
            return _core.GetResult(token);
        }
        finally
        {
            _core.Reset();
            Release();
        }
    }

    ValueTaskSourceStatus IValueTaskSource<bool>.GetStatus(short token) => _core.GetStatus(token);

    void IValueTaskSource<bool>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);

    private void Begin(long threshold, TimeSpan delay, TimeProvider time, CancellationToken cancellationToken)
    {
        _threshold = threshold;
        _delay = delay;
        _time = time;
        _cancellationToken = cancellationToken;
        _timerArmed = false;
        Volatile.Write(ref _stopped, 0);
        Volatile.Write(ref _wakes, 1); // this thread owns the first check
        _startedAt = time.GetTimestamp();

        // A channel that is not open at the call gets the full delay, as the delay it replaces gave it, so a
        // loop that never looks at the state cannot become a busy loop. Nothing to listen to then.
        _listening = _channel.State == BufferedChannelState.Open;
        _useLowEvent = false;
        if (_listening)
        {
            _channel.Closed += _onClosed;
            _subscribed |= Subscriptions.Closed;
            _channel.Error += _onError;
            _subscribed |= Subscriptions.Error;
            if (threshold >= 0)
            {
                _useLowEvent = _channel.SupportsBufferedAmountLowEvent;
                if (_useLowEvent)
                {
                    _channel.BufferedAmountLow += _onLow;
                    _subscribed |= Subscriptions.Low;
                }
                else
                {
                    // Our own estimate, not the coordinator's: that one belongs to the transfer holding the
                    // gate, and a bounded wait never holds the gate while it waits. Only Check uses it, on one thread
                    // at a time (the owner of the wake, or the sleeper), and it keeps the rate from one turn of the
                    // loop to the next.
                    _drainRate ??= new DrainRateEstimator();
                    _drainRate.BeginTransfer(time);
                }
            }
        }

        if (cancellationToken.CanBeCanceled)
        {
#if NET
            _cancellation = cancellationToken.UnsafeRegister(s_onCancel, this);
#else
            _cancellation = cancellationToken.Register(s_onCancel, this);
#endif
        }
    }

    /// <summary>Checks until the wait ends or goes idle; only the owner of the current wake calls it.</summary>
    private Outcome Run()
    {
        while (true)
        {
            var outcome = Check(out var wakeIn, out var seen);
            if (outcome != Outcome.Waiting)
            {
                return outcome;
            }

            ArmTimer(wakeIn);

            // Idle only if nothing signalled since the check; otherwise what signalled must be looked at.
            if (Interlocked.CompareExchange(ref _wakes, 0, seen) == seen)
            {
                return Outcome.Waiting;
            }
        }
    }

    /// <summary>
    /// Re-reads the channel. <paramref name="seen"/> is the wake count the reading is current for, and
    /// <paramref name="wakeIn"/>, when still waiting, how long until the clock should look again.
    /// </summary>
    private Outcome Check(out TimeSpan wakeIn, out int seen)
    {
        wakeIn = Timeout.InfiniteTimeSpan;

        // A full fence: the reads below must not move ahead of reading the count, or a drain in between would
        // be seen neither by them nor as a new wake.
        seen = Interlocked.CompareExchange(ref _wakes, 0, 0);
        if (_cancellationToken.IsCancellationRequested)
        {
            return Outcome.Cancelled;
        }

        var amount = _channel.BufferedAmount;
        if (amount <= _threshold)
        {
            return Outcome.Low;
        }

        // Only a wait that goes on sets the threshold, so one that ends leaves another wait's in place.
        if (_useLowEvent && TrySetThreshold())
        {
            // The crossing may have happened before the new threshold was in place: read again, after a full fence.
            seen = Interlocked.CompareExchange(ref _wakes, 0, 0);
            amount = _channel.BufferedAmount;
            if (amount <= _threshold)
            {
                return Outcome.Low;
            }
        }

        if (_listening && (Volatile.Read(ref _stopped) != 0 || _channel.State != BufferedChannelState.Open))
        {
            return Outcome.Stopped;
        }

        var now = _time.GetTimestamp();
        _checkedAt = _time.GetElapsedTime(_startedAt, now);
        if (_delay != Timeout.InfiniteTimeSpan)
        {
            var remaining = _delay - _checkedAt;
            if (remaining < TimerResolution)
            {
                return Outcome.Elapsed;
            }

            wakeIn = remaining;
        }

        if (_listening && !_useLowEvent && _threshold >= 0)
        {
            // No event will come: look again when the measured drain rate says the queue is low.
            var predicted = _drainRate!.Observe(amount, now, _threshold, _time);
            if (wakeIn == Timeout.InfiniteTimeSpan || predicted < wakeIn)
            {
                wakeIn = predicted;
            }
        }

        return Outcome.Waiting;
    }

    /// <summary>
    /// Sets the channel's low threshold to this wait's, unless it is already, or a transfer holds the channel: its
    /// threshold stays, and this wait's own timer bounds it instead. Returns whether it wrote the threshold.
    /// </summary>
    private bool TrySetThreshold()
    {
        if (_channel.BufferedAmountLowThreshold == _threshold)
        {
            return false;
        }

        var gate = _coordinator.Gate;
        if (!gate.TryAcquire())
        {
            return false;
        }

        try
        {
            _channel.BufferedAmountLowThreshold = _threshold;
        }
        finally
        {
            gate.Release();
        }

        return true;
    }

    /// <summary>
    /// Arms the one timer of an async wait to fire <paramref name="wakeIn"/> after the last check, unless it is
    /// already due then and has not fired yet (a wake that changed nothing does not touch it). "Fired" is what
    /// the callback says, not what the clock says: the system timer may fire a little before its due time.
    /// </summary>
    private void ArmTimer(TimeSpan wakeIn)
    {
        if (wakeIn == Timeout.InfiniteTimeSpan)
        {
            return;
        }

        var due = _checkedAt + wakeIn;
        if (_timerArmed && due == _timerDue && Volatile.Read(ref _timerFired) == 0)
        {
            return;
        }

        if (_timer is null || !ReferenceEquals(_timerClock, _time))
        {
            _timer?.Dispose();
            _timer = null;
            _timer = _time.CreateTimer(s_onTimer, this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
            _timerClock = _time;
        }

        _timerDue = due;
        _timerArmed = true;
        Volatile.Write(ref _timerFired, 0); // a late callback of an earlier arming only causes one more re-arm
        _timer.Change(wakeIn, Timeout.InfiniteTimeSpan);
    }

    /// <summary>Blocks until a signal or the wake time; returns at once if a signal came since <paramref name="seen"/>.</summary>
    private void Block(int seen, TimeSpan wakeIn)
    {
        var milliseconds = wakeIn == Timeout.InfiniteTimeSpan
            ? Timeout.Infinite
            : (int)Math.Min(int.MaxValue, Math.Ceiling(wakeIn.TotalMilliseconds));

        lock (_monitor)
        {
            // Publish "asleep" before the last look at the count, so a signal either moved the count before
            // that look or sees the flag and pulses (it waits for the lock, which Monitor.Wait releases).
            Interlocked.Exchange(ref _sleeping, 1);
            if (Volatile.Read(ref _wakes) == seen)
            {
                Monitor.Wait(_monitor, milliseconds);
            }

            Volatile.Write(ref _sleeping, 0);
        }
    }

    private void RunFromSignal()
    {
        Outcome outcome;
        CancellationToken token;
        try
        {
            outcome = Run();
            if (outcome == Outcome.Waiting)
            {
                return;
            }

            token = _cancellationToken;
            End();
        }
        catch (Exception ex)
        {
            // A getter of the channel threw: the wait ends with it, as the caller's own read would have.
            Abandon();
            _core.SetException(ex);
            return;
        }

        // Last: the continuation may run inline and start the next wait on this object.
        if (outcome == Outcome.Cancelled)
        {
            _core.SetException(new TaskCanceledException(Task.FromCanceled(token)));
        }
        else
        {
            _core.SetResult(outcome == Outcome.Low);
        }
    }

    /// <summary>Called from event handlers, the timer and cancellation, on any thread. Never blocks for long, never throws.</summary>
    private void Signal()
    {
        if (Interlocked.Increment(ref _wakes) == 1)
        {
            // Only an idle async wait has a count of 0.
#if NET
            ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
#else
            ThreadPool.UnsafeQueueUserWorkItem(s_run, this);
#endif
        }
        else if (Volatile.Read(ref _sleeping) != 0)
        {
            lock (_monitor)
            {
                Monitor.Pulse(_monitor);
            }
        }
    }

    private void Stop()
    {
        Volatile.Write(ref _stopped, 1);
        Signal();
    }

    /// <summary>Removes every handler, the timer's due time and the cancellation callback. Each step runs even if one before it throws.</summary>
    private void End()
    {
        try
        {
            try
            {
                if ((_subscribed & Subscriptions.Low) != 0)
                {
                    _subscribed &= ~Subscriptions.Low;
                    _channel.BufferedAmountLow -= _onLow;
                }
            }
            finally
            {
                try
                {
                    if ((_subscribed & Subscriptions.Error) != 0)
                    {
                        _subscribed &= ~Subscriptions.Error;
                        _channel.Error -= _onError;
                    }
                }
                finally
                {
                    if ((_subscribed & Subscriptions.Closed) != 0)
                    {
                        _subscribed &= ~Subscriptions.Closed;
                        _channel.Closed -= _onClosed;
                    }
                }
            }
        }
        finally
        {
            _cancellation.Dispose();
            _cancellation = default;
            _cancellationToken = default;
            if (_timerArmed)
            {
                _timerArmed = false;
                _timer!.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
            }
        }
    }

    /// <summary>Cleans up after an exception; the object is not reused, as a handler may have stayed attached.</summary>
    private void Abandon()
    {
        _reusable = false;
        try
        {
            End();
        }
        catch (Exception)
        {
            // The first exception is the one the caller sees.
        }
    }

    private void Release()
    {
        if (_reusable)
        {
            _coordinator.ReturnWaiter(this);
        }
    }
}
