using System;
using System.Runtime.CompilerServices;
using System.Threading;
using System.Threading.Tasks;
using System.Threading.Tasks.Sources;

namespace Backpressure.Internal;

/// <summary>
/// One transfer's hold on a channel: it owns the channel's gate, listens to the channel's events for as
/// long as it lives, and parks the sender until the queue is low, the channel fails, or the caller cancels.
/// </summary>
/// <remarks>
/// <para>
/// The wait protocol arms the signal before re-reading the buffered amount, so a low event raised
/// between the reader's check and its wait is never lost. Event handlers only flip the armed flag and
/// queue the completion to the thread pool: they never block, never throw, and the sender's continuation
/// never runs on the transport's thread. The one exception is asked for with <see cref="ResumeOnLowEvent"/>:
/// a transfer that runs only this library's code between waits, on a channel whose low event allows a <c>Send</c>
/// (<see cref="ILowEventSendChannel"/>), resumes inside the handler, and leaves the transport's thread through
/// <see cref="LeaveEventThreadAsync"/> before its task completes.
/// </para>
/// <para>
/// Every wake-up is treated as a hint: the sender re-reads the channel's state and buffered amount
/// after each one, so a stale or spurious signal costs one check and nothing else.
/// </para>
/// </remarks>
internal sealed class Transfer : IValueTaskSource, IDisposable
#if NET
    , IThreadPoolWorkItem
#endif
{
    private const int Disarmed = 0;
    private const int Armed = 1;

    private const int NoFailure = 0;
    private const int ClosedFailure = 1;
    private const int ErrorFailure = 2;

    private static readonly WaitCallback s_cancelRead = CancelRead;
#if !NET
    private static readonly WaitCallback s_complete = static state =>
    {
        var transfer = (Transfer)state!;
        transfer._onEventThread = false;
        transfer.Complete();
    };
#endif

    private readonly IBufferedChannel _channel;
    private readonly ChannelCoordinator _coordinator;
    private readonly TimeProvider _time;
    private readonly CancellationToken _cancellationToken;
    private readonly bool _useLowEvent;
    private readonly EventHandler _onLow;
    private readonly EventHandler _onClosed;
    private readonly EventHandler<BufferedChannelErrorEventArgs> _onError;

    private ManualResetValueTaskSourceCore<bool> _signal;
    private int _armed;
    private int _failure;
    private string? _channelError;
    private CancellationTokenRegistration _cancellation;
    private ITimer? _fallbackTimer;
    private TimeSpan _fallbackDelay;
    private long _fallbackArmedAt;
    private CancellationTokenSource? _readCancellation;
    private long _lowEventAt;
    private long _resumingSince;
    private long _amountAtResume;
    private long _thresholdAtResume;
    private bool _resumeOnLowEvent;
    private bool _onEventThread;
    private Subscriptions _subscribed;
    private bool _disposed;

    private Transfer(IBufferedChannel channel, ChannelCoordinator coordinator, TimeProvider time, CancellationToken cancellationToken)
    {
        _channel = channel;
        _coordinator = coordinator;
        _time = time;
        _cancellationToken = cancellationToken;
        _useLowEvent = channel.SupportsBufferedAmountLowEvent;
        _onLow = (_, _) => OnLowEvent();
        _onClosed = (_, _) => Fail(ClosedFailure, null);
        _onError = (_, e) => Fail(ErrorFailure, e?.Message);
    }

    [Flags]
    private enum Subscriptions
    {
        None = 0,
        Closed = 1,
        Error = 2,
        Low = 4,
    }

    /// <summary>Gets the chunk size this transfer sends: the requested size, capped at the channel's maximum message size.</summary>
    public int ChunkSize { get; private set; }

    /// <summary>
    /// Lets the low event resume the sender on the thread that raised it, when the channel allows a <c>Send</c> there
    /// (<see cref="ILowEventSendChannel"/>); otherwise does nothing. Call it only for a transfer that runs none of the
    /// caller's code between its waits, and end that transfer with <see cref="LeaveEventThreadAsync"/>.
    /// </summary>
    public void ResumeOnLowEvent() =>
        _resumeOnLowEvent = _useLowEvent && _channel is ILowEventSendChannel { AllowsSendFromLowEvent: true };

    /// <summary>
    /// Moves the sender to the thread pool if the last wake-up resumed it on the transport's thread, so the caller's
    /// continuation never runs there; completes at once otherwise.
    /// </summary>
    public ValueTask LeaveEventThreadAsync() => _onEventThread ? HopAsync() : default;

    /// <summary>
    /// Waits for the channel's turn, subscribes to its events and sets its low threshold.
    /// Dispose the result on every path: it unsubscribes and hands the channel to the next transfer.
    /// </summary>
    public static async ValueTask<Transfer> BeginAsync(
        IBufferedChannel channel, long lowThreshold, int? chunkSize, TimeProvider time, CancellationToken cancellationToken)
    {
        var coordinator = ChannelCoordinator.For(channel);
        await coordinator.Gate.AcquireAsync(cancellationToken).ConfigureAwait(false);
        Transfer? transfer = null;
        try
        {
            transfer = new Transfer(channel, coordinator, time, cancellationToken);
            transfer.Start(lowThreshold, chunkSize);
            return transfer;
        }
        catch
        {
            if (transfer is null)
            {
                coordinator.Gate.Release();
            }
            else
            {
                transfer.Dispose();
            }

            throw;
        }
    }

    /// <summary>
    /// Completes when the channel has room for another chunk: at once while the buffered amount is at or
    /// under <paramref name="highWatermark"/>; otherwise once it has fallen to <paramref name="lowThreshold"/>.
    /// </summary>
    /// <exception cref="OperationCanceledException">The caller cancelled.</exception>
    /// <exception cref="BufferedChannelException">The channel is not open, closed, or reported an error.</exception>
    public ValueTask WaitForRoomAsync(long highWatermark, long lowThreshold, long bytesSent)
    {
        ThrowIfStopped(bytesSent);
        return _channel.BufferedAmount <= highWatermark ? default : WaitForLowAsync(lowThreshold, bytesSent);
    }

    /// <summary>
    /// <see cref="WaitForRoomAsync"/> for a whole-payload send, whose thresholds are a pacing policy rather
    /// than a promise to the caller: they are raised, within limits, so the queue left at the low threshold
    /// outlasts the time the sender really takes to come back: the timer's shortest sleep on a channel without
    /// a low event, the way back from the event on one with it (see <see cref="DrainRateEstimator.ThresholdRaise"/>).
    /// A high watermark the caller gave stays put; the low threshold then rises only up to it. With the event, only
    /// the default thresholds move (<see cref="BackpressureOptions.ThresholdsAreDefault"/>).
    /// </summary>
    public ValueTask WaitForSendRoomAsync(BackpressureOptions options, long bytesSent)
    {
        long highWatermark = options.HighWatermark, lowThreshold = options.LowThreshold;
        if (_useLowEvent && !options.ThresholdsAreDefault)
        {
            return WaitForRoomAsync(highWatermark, lowThreshold, bytesSent); // thresholds the caller chose, kept as chosen
        }

        var raise = _coordinator.DrainRate.ThresholdRaise(lowThreshold, highWatermark, _useLowEvent);
        if (_useLowEvent)
        {
            // With the event the whole queue, chunk included, stays within 16 x the low threshold (1 MiB at the defaults).
            raise = Math.Min(raise, Math.Max(0, (DrainRateEstimator.MaximumGrowth * lowThreshold) - highWatermark - ChunkSize));
        }

        if (options.HighWatermarkIsDerived)
        {
            highWatermark += raise;
            lowThreshold += raise;
        }
        else
        {
            lowThreshold = Math.Min(highWatermark, lowThreshold + raise);
        }

        return WaitForRoomAsync(highWatermark, lowThreshold, bytesSent);
    }

    /// <summary>Hands one chunk to the channel, turning a throwing <c>Send</c> into a typed failure.</summary>
    public void Send(ReadOnlyMemory<byte> chunk, long bytesSent)
    {
        try
        {
            _channel.Send(chunk);
        }
        catch (Exception ex)
        {
            throw ClassifySendFailure(ex, bytesSent);
        }

        _coordinator.DrainRate.OnSent(chunk.Length);
        if (_resumingSince != 0)
        {
            // The first Send after a low event: how long the link was left to drain on its own.
            _coordinator.DrainRate.OnResumed(_resumingSince, _time.GetTimestamp(), _amountAtResume, _thresholdAtResume, _time);
            _resumingSince = 0;
        }
    }

    /// <summary>
    /// Turns an exception from the source read into the channel's failure when the read was cancelled
    /// because the channel closed or failed; any other exception is left as it is.
    /// </summary>
    public void ThrowIfReadStoppedByChannel(OperationCanceledException ex, long bytesSent)
    {
        if (!_cancellationToken.IsCancellationRequested && Volatile.Read(ref _failure) != NoFailure)
        {
            ThrowIfStopped(bytesSent);
        }
    }

    /// <summary>Throws when the caller cancelled or the channel can no longer take data.</summary>
    public void ThrowIfStopped(long bytesSent)
    {
        // A TaskCanceledException, as the Task.Delay that a rewritten polling loop used to await threw.
        if (_cancellationToken.IsCancellationRequested)
        {
            throw new TaskCanceledException(Task.FromCanceled(_cancellationToken));
        }
        if (ReportedFailure(bytesSent, sendException: null) is { } reported)
        {
            throw reported;
        }

        var state = _channel.State;
        if (state == BufferedChannelState.Open)
        {
            return;
        }

        // A channel raises Error before its state leaves Open, so the error is visible now if there was one.
        if (ReportedFailure(bytesSent, sendException: null) is { } raisedMeanwhile)
        {
            throw raisedMeanwhile;
        }

        if (state == BufferedChannelState.Connecting)
        {
            throw new BufferedChannelException("The channel is not open yet (state: Connecting); wait for it to open before sending.", bytesSent);
        }

        throw new ChannelClosedException($"The channel is {state.ToString().ToLowerInvariant()} after {bytesSent} bytes were sent.", bytesSent);
    }

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        try
        {
            try
            {
                Unsubscribe();
            }
            finally
            {
                _cancellation.Dispose();
                _fallbackTimer?.Dispose();
                _readCancellation?.Dispose();
            }
        }
        finally
        {
            // Whatever the channel or the clock threw above, the next transfer must get its turn.
            _coordinator.Gate.Release();
        }
    }

    /// <summary>
    /// A token for reading the payload's source: cancelled by the caller's token and also when the channel
    /// closes or fails, so a read from an idle source does not outlive the channel.
    /// </summary>
    public CancellationToken CreateReadToken()
    {
        _readCancellation ??= CancellationTokenSource.CreateLinkedTokenSource(_cancellationToken);
        if (Volatile.Read(ref _failure) != NoFailure)
        {
            _readCancellation.Cancel();
        }

        return _readCancellation.Token;
    }

#if NET
    void IThreadPoolWorkItem.Execute()
    {
        _onEventThread = false;
        Complete();
    }
#endif

    void IValueTaskSource.GetResult(short token) => _signal.GetResult(token);

    ValueTaskSourceStatus IValueTaskSource.GetStatus(short token) => _signal.GetStatus(token);

    void IValueTaskSource.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _signal.OnCompleted(continuation, state, token, flags);

    private Exception ClassifySendFailure(Exception ex, long bytesSent)
    {
        // The state first: a channel raises Error before it leaves Open, so reading _failure after the state
        // cannot miss an error that came with the close and report it as a plain close.
        BufferedChannelState? state;
        try
        {
            state = _channel.State;
        }
        catch (Exception)
        {
            state = null; // a channel that cannot report its state after a failed Send: report the Send
        }

        if (ReportedFailure(bytesSent, ex) is { } reported)
        {
            return reported;
        }

        if (state is BufferedChannelState.Closing or BufferedChannelState.Closed)
        {
            return new ChannelClosedException($"The channel closed after {bytesSent} bytes were sent: {ex.Message}", bytesSent, ex);
        }

        return new ChannelErrorException($"The channel's Send failed after {bytesSent} bytes were sent: {ex.Message}", bytesSent, innerException: ex);
    }

    /// <summary>The exception for an Error or Closed event the transfer has heard, or null if it heard neither.</summary>
    private Exception? ReportedFailure(long bytesSent, Exception? sendException)
    {
        switch (Volatile.Read(ref _failure))
        {
            case ErrorFailure:
                var error = Volatile.Read(ref _channelError);
                return new ChannelErrorException($"The channel reported an error after {bytesSent} bytes were sent: {error}", bytesSent, error, sendException);
            case ClosedFailure:
                var detail = sendException is null ? "." : $": {sendException.Message}";
                return new ChannelClosedException($"The channel closed after {bytesSent} bytes were sent{detail}", bytesSent, sendException);
            default:
                return null;
        }
    }

    private void Start(long lowThreshold, int? chunkSize)
    {
        if (chunkSize is { } requested)
        {
            var maxMessageSize = _channel.MaxMessageSize;
            if (maxMessageSize <= 0)
            {
                throw new InvalidOperationException($"The channel reports a maximum message size of {maxMessageSize}; it must be positive.");
            }

            ChunkSize = Math.Min(requested, maxMessageSize);
        }

        _coordinator.DrainRate.BeginTransfer(_time);
        _channel.Closed += _onClosed;
        _subscribed |= Subscriptions.Closed;
        _channel.Error += _onError;
        _subscribed |= Subscriptions.Error;
        if (_useLowEvent)
        {
            _channel.BufferedAmountLow += _onLow;
            _subscribed |= Subscriptions.Low;
        }

        if (_cancellationToken.CanBeCanceled)
        {
#if NET
            _cancellation = _cancellationToken.UnsafeRegister(static state => ((Transfer)state!).Signal(), this);
#else
            _cancellation = _cancellationToken.Register(static state => ((Transfer)state!).Signal(), this);
#endif
        }

        _channel.BufferedAmountLowThreshold = lowThreshold;
    }

    private void Unsubscribe()
    {
        // Each removal runs even if an earlier one throws, so no handler outlives the transfer.
        try
        {
            if ((_subscribed & Subscriptions.Low) != 0)
            {
                _channel.BufferedAmountLow -= _onLow;
            }
        }
        finally
        {
            try
            {
                if ((_subscribed & Subscriptions.Error) != 0)
                {
                    _channel.Error -= _onError;
                }
            }
            finally
            {
                if ((_subscribed & Subscriptions.Closed) != 0)
                {
                    _channel.Closed -= _onClosed;
                }

                _subscribed = Subscriptions.None;
            }
        }
    }

#if NET
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
#endif
    private async ValueTask WaitForLowAsync(long lowThreshold, long bytesSent)
    {
        while (true)
        {
            Volatile.Write(ref _lowEventAt, 0);
            if (ArmAndRecheck(lowThreshold))
            {
                await new ValueTask(this, _signal.Version).ConfigureAwait(false);
            }

            ThrowIfStopped(bytesSent);

            // Only a wake from the timer says how late it fires: a cancellation, close or error ends the
            // wait early and has thrown above, and must not count as a timer that fired on time.
            if (_fallbackDelay > TimeSpan.Zero)
            {
                var elapsed = _time.GetElapsedTime(_fallbackArmedAt);
                if (elapsed >= _fallbackDelay)
                {
                    _coordinator.DrainRate.OnWoke(_fallbackDelay, elapsed);
                }

                _fallbackDelay = TimeSpan.Zero;
            }

            if (_channel.BufferedAmount is var amount && amount <= lowThreshold)
            {
                // Woken by the low event: it closes a drain cycle (the rate), and opens the way back to Send (the absence).
                if (Volatile.Read(ref _lowEventAt) is var eventAt and not 0)
                {
                    _coordinator.DrainRate.OnLowEvent(eventAt, lowThreshold, _time);
                    _resumingSince = eventAt;
                    _amountAtResume = amount;
                    _thresholdAtResume = lowThreshold;
                }

                return;
            }
        }
    }

    /// <summary>
    /// Arms the signal, then re-reads the channel. Returns <see langword="true"/> when the caller must
    /// await the signal: either nothing has happened yet, or a handler fired and its completion is in flight.
    /// </summary>
    private bool ArmAndRecheck(long lowThreshold)
    {
        _signal.Reset();

        // The low event fires on crossing this channel-wide threshold; if anyone moved it since the
        // transfer began, the crossing this wait needs would never come.
        if (_useLowEvent && _channel.BufferedAmountLowThreshold != lowThreshold)
        {
            _channel.BufferedAmountLowThreshold = lowThreshold;
        }

        // A full fence, not a volatile write: the read of the amount below must not move ahead of the
        // arming, or a transport that drains in between sees "not armed" while this thread sees the old amount.
        Interlocked.Exchange(ref _armed, Armed);

        var amount = _channel.BufferedAmount;
        var readyNow = amount <= lowThreshold
            || Volatile.Read(ref _failure) != NoFailure
            || _cancellationToken.IsCancellationRequested
            || _channel.State != BufferedChannelState.Open;

        if (readyNow)
        {
            // If a handler disarmed first, its completion is queued and must be consumed.
            return Interlocked.Exchange(ref _armed, Disarmed) == Disarmed;
        }

        if (!_useLowEvent)
        {
            ScheduleFallbackWake(amount, lowThreshold);
        }

        return true;
    }

    /// <summary>
    /// The no-event fallback: wake when the measured drain rate says the queue reaches the low threshold,
    /// never sooner than <see cref="BackpressureOptions.FallbackMinimumDelay"/> nor later than
    /// <see cref="BackpressureOptions.FallbackMaximumDelay"/>.
    /// </summary>
    private void ScheduleFallbackWake(long amount, long lowThreshold)
    {
        _fallbackArmedAt = _time.GetTimestamp();
        _fallbackDelay = _coordinator.DrainRate.Observe(amount, _fallbackArmedAt, lowThreshold, _time);
        _fallbackTimer ??= _time.CreateTimer(static state => ((Transfer)state!).Signal(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        _fallbackTimer.Change(_fallbackDelay, Timeout.InfiniteTimeSpan);
    }

    private void Fail(int failure, string? channelError)
    {
        // The description is published before the failure, so a reader that sees the failure sees it too.
        if (failure == ErrorFailure)
        {
            Interlocked.CompareExchange(ref _channelError, channelError ?? "(no description)", null);
        }

        Interlocked.CompareExchange(ref _failure, failure, NoFailure);
        Signal();

        // Cancelling runs the read's callbacks, which may block: never on the transport's thread.
        if (Volatile.Read(ref _readCancellation) is { } read)
        {
            ThreadPool.UnsafeQueueUserWorkItem(s_cancelRead, read);
        }
    }

    private static void CancelRead(object? state)
    {
        try
        {
            ((CancellationTokenSource)state!).Cancel();
        }
        catch (ObjectDisposedException)
        {
            // The transfer ended first: nothing left to cancel.
        }
    }

    /// <summary>
    /// The low event, on the transport's thread: stamps the moment when it ends a wait, then signals, or resumes the
    /// sender right here when the transfer and the channel allow it (<see cref="ResumeOnLowEvent"/>).
    /// </summary>
    private void OnLowEvent()
    {
        var at = _time.GetTimestamp();
        if (Disarm())
        {
            // Published before the completion is queued, so the woken sender reads it.
            Volatile.Write(ref _lowEventAt, at == 0 ? 1 : at);
            if (_resumeOnLowEvent)
            {
                // The sender sends its next chunks right here, and returns to the channel once it waits again.
                _onEventThread = true;
                Complete();
            }
            else
            {
                QueueCompletion();
            }
        }
    }

    private static async ValueTask HopAsync()
    {
        await default(ThreadPoolHop);
    }

    /// <summary>Called from event handlers, the timer and cancellation, on any thread. Never blocks or throws.</summary>
    private void Signal()
    {
        if (Disarm())
        {
            QueueCompletion();
        }
    }

    private bool Disarm() => Interlocked.CompareExchange(ref _armed, Disarmed, Armed) == Armed;

    private void QueueCompletion()
    {
#if NET
        ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
#else
        ThreadPool.UnsafeQueueUserWorkItem(s_complete, this);
#endif
    }

    private void Complete() => _signal.SetResult(true);
}
