using System;
using System.Runtime.CompilerServices;

namespace Backpressure.Internal;

/// <summary>
/// The two slowest recent ways back from a low event to the next <c>Send</c>, shared by every channel that uses the
/// same clock. How long a woken sender takes to run again is a property of the process and its machine (the thread
/// pool, the scheduler, a collection), not of one channel: a channel opened now starts with what the others measured,
/// instead of leaving the link idle on its own first slow wake-ups. Keyed by clock, so a test's fake clock has its own.
/// </summary>
/// <remarks>Thread-safe: transfers on many channels record and read at once; once per drain cycle each.</remarks>
internal sealed class WakeLatency
{
    /// <summary>
    /// How fast a slow way back is forgotten once wake-ups are quick again: the slowest absence halves every this
    /// many seconds. Long enough to span the gaps between a busy machine's stalls (a descheduled thread, a
    /// collection), so the second stall finds the queue already deep; short enough that a quiet machine is back at
    /// the requested thresholds within seconds.
    /// </summary>
    private const double HalfLifeSeconds = 1;

    private static readonly ConditionalWeakTable<TimeProvider, WakeLatency> s_byClock = new();

    private readonly object _gate = new();
    private double _slowestSeconds;
    private double _secondSeconds;
    private long _updatedAt;

    /// <summary>Gets the shared measure for <paramref name="time"/>.</summary>
    public static WakeLatency For(TimeProvider time) => s_byClock.GetValue(time, static _ => new WakeLatency());

    /// <summary>
    /// Records one way back of <paramref name="seconds"/> ending at <paramref name="now"/>; returns the two slowest
    /// recent ones.
    /// </summary>
    public SlowWaysBack Record(double seconds, long now, TimeProvider time)
    {
        lock (_gate)
        {
            Decay(now, time);
            if (seconds > _slowestSeconds)
            {
                _secondSeconds = _slowestSeconds;
                _slowestSeconds = seconds;
            }
            else if (seconds > _secondSeconds)
            {
                _secondSeconds = seconds;
            }

            return new SlowWaysBack(_slowestSeconds, _secondSeconds);
        }
    }

    /// <summary>The two slowest recent ways back as of <paramref name="now"/>.</summary>
    public SlowWaysBack Read(long now, TimeProvider time)
    {
        lock (_gate)
        {
            Decay(now, time);
            return new SlowWaysBack(_slowestSeconds, _secondSeconds);
        }
    }

    private void Decay(long now, TimeProvider time)
    {
        if (_updatedAt != 0 && _slowestSeconds > 0 && time.GetElapsedTime(_updatedAt, now).TotalSeconds is var seconds and > 0)
        {
            var factor = Math.Pow(0.5, seconds / HalfLifeSeconds);
            _slowestSeconds *= factor;
            _secondSeconds *= factor;
        }

        // A clock read from another thread may be a little behind this one: never move the mark back.
        if (now > _updatedAt)
        {
            _updatedAt = now;
        }
    }
}

/// <summary>The slowest and the second slowest recent ways back, in seconds, decayed to the moment read.</summary>
internal readonly record struct SlowWaysBack(double Slowest, double SecondSlowest);
