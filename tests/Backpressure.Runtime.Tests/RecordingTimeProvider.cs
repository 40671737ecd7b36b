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

    public override long TimestampFrequency => Fake.TimestampFrequency;

    public override long GetTimestamp() => Fake.GetTimestamp();

    public override DateTimeOffset GetUtcNow() => Fake.GetUtcNow();

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        Interlocked.Increment(ref _timersCreated);
        var timer = new RecordingTimer(Fake.CreateTimer(callback, state, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan), _wakes.Writer);
        timer.Change(dueTime, period);
        return timer;
    }

    /// <summary>Waits for the next timer to be armed and returns its delay.</summary>
    public async Task<TimeSpan> NextWakeAsync()
    {
        using var cts = new CancellationTokenSource(TestUtil.HangTimeout);
        return await _wakes.Reader.ReadAsync(cts.Token);
    }

    private sealed class RecordingTimer(ITimer inner, ChannelWriter<TimeSpan> wakes) : ITimer
    {
        public bool Change(TimeSpan dueTime, TimeSpan period)
        {
            var changed = inner.Change(dueTime, period);
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
