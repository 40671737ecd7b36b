using System.Threading.Channels;
using Microsoft.Extensions.Time.Testing;

namespace Backpressure.Runtime.Tests;

/// <summary>
/// Fake time that also reports every timer the code under test arms, so a test can wait for the sender
/// to schedule its next wake and check how far ahead it scheduled it.
/// </summary>
internal sealed class RecordingTimeProvider : TimeProvider
{
    private readonly Channel<TimeSpan> _wakes = Channel.CreateUnbounded<TimeSpan>();
    private int _timersCreated;

    public FakeTimeProvider Fake { get; } = new();

    public int TimersCreated => Volatile.Read(ref _timersCreated);

    /// <summary>Gets or sets how much later than asked every timer fires, like a coarse OS timer; recorded delays stay as asked.</summary>
    public TimeSpan TimerLateness { get; set; }

    public override long TimestampFrequency => Fake.TimestampFrequency;

    public override long GetTimestamp() => Fake.GetTimestamp();

    public override DateTimeOffset GetUtcNow() => Fake.GetUtcNow();

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        Interlocked.Increment(ref _timersCreated);
        var timer = new RecordingTimer(this, Fake.CreateTimer(callback, state, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan), _wakes.Writer);
        timer.Change(dueTime, period);
        return timer;
    }

    /// <summary>Waits for the next timer to be armed and returns its delay.</summary>
    public async Task<TimeSpan> NextWakeAsync()
    {
        using var cts = new CancellationTokenSource(TestUtil.HangTimeout);
        return await _wakes.Reader.ReadAsync(cts.Token);
    }

    private sealed class RecordingTimer(RecordingTimeProvider owner, ITimer inner, ChannelWriter<TimeSpan> wakes) : ITimer
    {
        public bool Change(TimeSpan dueTime, TimeSpan period)
        {
            var changed = inner.Change(dueTime == Timeout.InfiniteTimeSpan ? dueTime : dueTime + owner.TimerLateness, period);
            if (dueTime != Timeout.InfiniteTimeSpan)
            {
                wakes.TryWrite(dueTime);
            }

            return changed;
        }

        public void Dispose() => inner.Dispose();

        public ValueTask DisposeAsync() => inner.DisposeAsync();
    }
}
