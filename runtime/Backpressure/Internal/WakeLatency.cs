using System;
using System.Runtime.CompilerServices;

namespace Backpressure.Internal;

/// <summary>
/// The slowest recent way back from a low event to the next <c>Send</c>, shared by every channel that uses the same
/// clock. How long a woken sender takes to run again is a property of the process and its machine (the thread pool,
/// the scheduler, a collection), not of one channel: a channel opened now starts with what the others measured,
/// instead of leaving the link idle on its own first slow wake-up. Keyed by clock, so a test's fake clock has its own.
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
    private long _updatedAt;

    /// <summary>Gets the shared measure for <paramref name="time"/>.</summary>
    public static WakeLatency For(TimeProvider time) => s_byClock.GetValue(time, static _ => new WakeLatency());

    /// <summary>Records one way back of <paramref name="seconds"/> ending at <paramref name="now"/>; returns the slowest recent one.</summary>
    public double Record(double seconds, long now, TimeProvider time)
    {
        lock (_gate)
        {
            Decay(now, time);
            _slowestSeconds = Math.Max(_slowestSeconds, seconds);
            return _slowestSeconds;
        }
    }

    /// <summary>The slowest recent way back as of <paramref name="now"/>.</summary>
    public double Slowest(long now, TimeProvider time)
    {
        lock (_gate)
        {
            Decay(now, time);
            return _slowestSeconds;
        }
    }

    private void Decay(long now, TimeProvider time)
    {
        if (_updatedAt != 0 && _slowestSeconds > 0 && time.GetElapsedTime(_updatedAt, now).TotalSeconds is var seconds and > 0)
        {
            _slowestSeconds *= Math.Pow(0.5, seconds / HalfLifeSeconds);
        }

        // A clock read from another thread may be a little behind this one: never move the mark back.
        if (now > _updatedAt)
        {
            _updatedAt = now;
        }
    }
}
