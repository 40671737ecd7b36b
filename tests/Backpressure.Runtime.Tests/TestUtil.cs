namespace Backpressure.Runtime.Tests;

internal static class TestUtil
{
    /// <summary>
    /// A bound on how long a test waits for something that should happen promptly; reaching it means a hang.
    /// Generous, because on a 2-core CI machine both runtime suites move tens of MiB over loopback side by side.
    /// </summary>
    public static readonly TimeSpan HangTimeout = TimeSpan.FromSeconds(60);

    public static byte[] Payload(int length, int seed = 1)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    /// <summary>Waits until <paramref name="condition"/> holds; fails the test if it never does.</summary>
    public static async Task Eventually(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + HangTimeout;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail($"Timed out waiting until {what}.");
            }

            await Task.Delay(1);
        }
    }

    /// <summary>Awaits <paramref name="task"/>, failing the test instead of hanging.</summary>
    public static async Task Within(this Task task, string what = "the task completes")
    {
        var finished = await Task.WhenAny(task, Task.Delay(HangTimeout));
        if (finished != task)
        {
            Assert.Fail($"Timed out waiting until {what}.");
        }

        await task;
    }

    public static async Task<T> Within<T>(this Task<T> task, string what = "the task completes")
    {
        await ((Task)task).Within(what);
        return await task;
    }

    /// <summary>
    /// Lets any queued continuation run, then checks the transfer is still parked. A sender that polls on
    /// a timer would have sent again by now; an event-driven one cannot until the test drains.
    /// </summary>
    public static async Task AssertStaysParked(ManualChannel channel, Task transfer, int expectedSends)
    {
        await Task.Delay(100);
        Assert.False(transfer.IsCompleted, "The transfer should be waiting for the low event.");
        Assert.Equal(expectedSends, channel.SendCount);
    }

}

/// <summary>An <see cref="IProgress{T}"/> that records reports synchronously, unlike <see cref="Progress{T}"/>.</summary>
internal sealed class RecordingProgress : IProgress<long>
{
    private readonly List<long> _reports = new();

    public Action<long>? OnReport { get; set; }

    public IReadOnlyList<long> Reports
    {
        get
        {
            lock (_reports)
            {
                return _reports.ToArray();
            }
        }
    }

    public void Report(long value)
    {
        lock (_reports)
        {
            _reports.Add(value);
        }

        OnReport?.Invoke(value);
    }
}

/// <summary>A non-seekable, read-only stream: derived test streams supply only <see cref="Read"/>.</summary>
internal abstract class ReadOnlyTestStream : Stream
{
    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override void Flush() { }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
