using System;

namespace Backpressure.Internal;

/// <summary>
/// Measures how fast a channel drains its queue and how long the sender is away once the queue is low, and
/// turns them into the low threshold a whole-payload send needs so the link never idles while the sender
/// comes back: on a channel without a low event, the timer's real shortest sleep; on one with it, the time from
/// the event to the next <c>Send</c> (a thread-pool hop, the continuation, a source read). Also turns the drain
/// rate into the no-event fallback's sleeps.
/// </summary>
/// <remarks>
/// Not thread-safe: one instance per channel, used only by the transfer that holds the channel's gate.
/// </remarks>
internal sealed class DrainRateEstimator
{
    private const double Smoothing = 0.5;

    /// <summary>How many of the timer's shortest real sleeps the queue should hold when a transfer resumes.</summary>
    private const double SleepsQueued = 1.5;

    /// <summary>
    /// How many of the sender's slowest recent absences the queue should hold when the low event fires: the
    /// absence itself, and half again for the drain rate's error and an absence a little longer than the last.
    /// </summary>
    private const double ResumeMargin = 1.5;

    /// <summary>The most a raised low threshold may be, as a multiple of the requested one.</summary>
    internal const long MaximumGrowth = 16;

    private long _lastAmount = -1;
    private long _lastTimestamp;
    private long _sentSinceLast;
    private long _lastEventAt;
    private long _lastEventThreshold;
    private long _sentSinceEvent;
    private double _bytesPerSecond;
    private int _fruitlessWaits;
    private double _oversleepSeconds;
    private WakeLatency? _wakeLatency;
    private SlowWaysBack _slowResumes;
    private bool _raisedForWayBack;
    private TimeProvider? _time;

    /// <summary>Gets the current estimate, in bytes per second (0 while nothing has been measured).</summary>
    public double BytesPerSecond => _bytesPerSecond;

    /// <summary>
    /// Starts a transfer's observations: the last sample is forgotten so the idle time before this
    /// transfer does not count as slow draining, a different clock discards the old rate, and the slowest recent
    /// ways back are taken from what every channel on the clock has measured.
    /// </summary>
    public void BeginTransfer(TimeProvider time)
    {
        if (!ReferenceEquals(time, _time))
        {
            _time = time;
            _bytesPerSecond = 0;
            _fruitlessWaits = 0;
            _oversleepSeconds = 0;
            _raisedForWayBack = false;
            _wakeLatency = WakeLatency.For(time);
        }

        // What every channel on this clock has measured, decayed to now: the machine may have quietened meanwhile.
        _slowResumes = _wakeLatency!.Read(time.GetTimestamp(), time);

        _lastAmount = -1;
        _sentSinceLast = 0;
        _lastEventAt = 0;
        _sentSinceEvent = 0;
    }

    /// <summary>
    /// Records a timer wake: the delay that was asked for and the time that really passed, thread-pool hop
    /// included. Coarse timers (15.6 ms on Windows, several ms in busy containers) show up here.
    /// </summary>
    public void OnWoke(TimeSpan requested, TimeSpan elapsed)
    {
        var late = Math.Max(0, (elapsed - requested).TotalSeconds);
        _oversleepSeconds = _oversleepSeconds <= 0 ? late : (Smoothing * late) + ((1 - Smoothing) * _oversleepSeconds);
    }

    /// <summary>
    /// Records a low event that ended a wait. The queue stood at the low threshold then in force at the previous
    /// such event and stands at <paramref name="lowThreshold"/> now, so what drained in between is everything sent
    /// in between plus the difference of the two: the rate over a whole cycle, which a link that drains in bursts
    /// cannot inflate the way one burst between two readings would. The difference matters: when the threshold
    /// moves (a raise, its decay), counting only the bytes sent would take the sender's refill for the link's
    /// drain, and the rate, the raise built on it and the next threshold would feed on one another.
    /// </summary>
    public void OnLowEvent(long eventAt, long lowThreshold, TimeProvider time)
    {
        if (_lastEventAt != 0
            && _sentSinceEvent + _lastEventThreshold - lowThreshold is var drained and > 0
            && time.GetElapsedTime(_lastEventAt, eventAt).TotalSeconds is var seconds and > 0)
        {
            var rate = drained / seconds;
            _bytesPerSecond = _bytesPerSecond <= 0 ? rate : (Smoothing * rate) + ((1 - Smoothing) * _bytesPerSecond);
        }

        _lastEventAt = eventAt;
        _lastEventThreshold = lowThreshold;
        _sentSinceEvent = 0;
    }

    /// <summary>
    /// Records how long the link was left to drain on its own once the queue was low, and takes up the two slowest
    /// such absences of the last few seconds on any channel with this clock (<see cref="WakeLatency"/>). The slowest,
    /// not the average: the link idles only on the slow wake-ups (a thread-pool thread that was descheduled, a
    /// collection), and an average of many fast ones would never cover them.
    /// </summary>
    /// <remarks>
    /// The absence is the time from the low event to the next <c>Send</c>, or, when longer, the time the queue took to
    /// fall from <paramref name="lowThreshold"/> to <paramref name="amountAtResume"/> at the measured rate: a transport
    /// whose thread noticed the crossing late (descheduled, or busy) raises the event late, which no clock of the
    /// sender's sees, but the queue shows it. A queue found empty drained for the whole threshold and then left the
    /// link idle for as long as nobody can tell; it counts as twice the threshold's time, so that it outlasts the queue,
    /// and while the queue keeps running dry the raise it leads to grows with each such wake-up until the queue covers it.
    /// </remarks>
    public void OnResumed(long eventAt, long sentAt, long amountAtResume, long lowThreshold, TimeProvider time)
    {
        var away = time.GetElapsedTime(eventAt, sentAt).TotalSeconds;
        if (_bytesPerSecond > 0 && lowThreshold > 0)
        {
            var drainedAlone = (lowThreshold - Math.Max(0, amountAtResume)) / _bytesPerSecond;
            away = Math.Max(away, amountAtResume > 0 ? drainedAlone : 2 * drainedAlone);
        }

        _slowResumes = _wakeLatency!.Record(away, sentAt, time);
    }

    /// <summary>
    /// How far a transfer should raise its thresholds so the link does not idle while the sender is away after
    /// the queue fell to the low threshold. Without a low event nobody looks at the queue while the sender
    /// sleeps, and a queue that empties in less than one sleep leaves the link idle for the rest of it: the
    /// raised threshold holds <see cref="SleepsQueued"/> of the shortest sleeps the timer really delivers. With
    /// the event, the queue left when it fires must outlast the sender's way back: the slowest absence of the last
    /// few seconds, times <see cref="ResumeMargin"/>. That raise begins only once two absences of the last few seconds
    /// have outlasted the queue <paramref name="lowThreshold"/> leaves, margin aside (the link idled, or all but did,
    /// twice); from then on it keeps the margin until the decayed slowest absence, margin included, fits under the
    /// requested threshold again. A wake-up the queue covered, if only just, is no reason to queue more (at 100 Mbit/s
    /// the 64 KiB at the event last 5 ms, and a 4 ms wake-up changes nothing there), and neither is one accident: a
    /// raise pays off only if the next slow wake-up comes while it lasts, and where wake-ups outlast the queue often
    /// (1 Gbit/s and up on a busy machine) the second one comes at once. On a quiet machine the way back is
    /// microseconds, and nothing is raised. Either way the raised low threshold is at most
    /// <see cref="MaximumGrowth"/> times <paramref name="lowThreshold"/>, falls back as the measurements do, and is
    /// 0 while no rate is known.
    /// </summary>
    public long ThresholdRaise(long lowThreshold, long highWatermark, bool lowEvent)
    {
        if (_bytesPerSecond <= 0 || lowThreshold <= 0)
        {
            return 0;
        }

        double wanted;
        if (lowEvent)
        {
            // Begun once the second slowest outlasted the queue too; kept, and sized, by the slowest and its margin.
            var drainedWhileAway = _bytesPerSecond * _slowResumes.Slowest;
            _raisedForWayBack = _raisedForWayBack
                ? drainedWhileAway * ResumeMargin > lowThreshold
                : _bytesPerSecond * _slowResumes.SecondSlowest > lowThreshold;
            wanted = _raisedForWayBack ? drainedWhileAway * ResumeMargin : 0;
        }
        else
        {
            wanted = _bytesPerSecond * (BackpressureOptions.FallbackMinimumDelay.TotalSeconds + _oversleepSeconds) * SleepsQueued;
        }

        if (wanted <= lowThreshold)
        {
            return 0;
        }

        var limit = lowThreshold > long.MaxValue / MaximumGrowth ? lowThreshold : lowThreshold * MaximumGrowth;
        var raise = wanted >= limit ? limit - lowThreshold : (long)wanted - lowThreshold;
        return Math.Min(raise, long.MaxValue - highWatermark);
    }

    /// <summary>Records bytes handed to the channel.</summary>
    public void OnSent(long bytes)
    {
        _sentSinceLast += bytes;
        _sentSinceEvent += bytes;
    }

    /// <summary>
    /// Records the buffered amount seen at <paramref name="timestamp"/> and returns how long to wait
    /// before the queue is expected to be at <paramref name="lowThreshold"/>, bounded by the fallback limits.
    /// </summary>
    public TimeSpan Observe(long amount, long timestamp, long lowThreshold, TimeProvider time)
    {
        var drainedSomething = false;
        if (_lastAmount >= 0)
        {
            var seconds = time.GetElapsedTime(_lastTimestamp, timestamp).TotalSeconds;
            var drained = _lastAmount + _sentSinceLast - amount;
            if (seconds > 0 && drained > 0)
            {
                drainedSomething = true;
                var rate = drained / seconds;

                // An empty queue may have sat idle: that interval only bounds the rate from below.
                if (amount > 0 || rate > _bytesPerSecond)
                {
                    _bytesPerSecond = _bytesPerSecond <= 0 ? rate : (Smoothing * rate) + ((1 - Smoothing) * _bytesPerSecond);
                }
            }
            else if (seconds > 0 && amount > 0)
            {
                // Nothing left the queue: the link slowed down or stalled, so wait longer next time.
                _bytesPerSecond *= Smoothing;
            }
        }

        _lastAmount = amount;
        _lastTimestamp = timestamp;
        _sentSinceLast = 0;
        _fruitlessWaits = drainedSomething ? 0 : Math.Min(_fruitlessWaits + 1, 30);

        var excess = amount - lowThreshold;
        if (excess <= 0)
        {
            return BackpressureOptions.FallbackMinimumDelay;
        }

        // With no rate measured yet, probe soon and back off exponentially while nothing drains.
        var wait = _bytesPerSecond > 0
            ? excess / _bytesPerSecond
            : BackpressureOptions.FallbackMinimumDelay.TotalSeconds * (1L << Math.Max(0, _fruitlessWaits - 1));

        return wait >= BackpressureOptions.FallbackMaximumDelay.TotalSeconds
            ? BackpressureOptions.FallbackMaximumDelay
            : TimeSpan.FromTicks(Math.Max(BackpressureOptions.FallbackMinimumDelay.Ticks, (long)(wait * TimeSpan.TicksPerSecond)));
    }
}
