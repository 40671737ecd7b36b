using System;

namespace Backpressure;

/// <summary>
/// How a transfer paces itself: the chunk size, the low threshold at which sending resumes, and the
/// high watermark above which it pauses. Immutable and validated on construction; share one instance freely.
/// </summary>
public sealed class BackpressureOptions
{
    /// <summary>The default chunk size: 16 KiB, a message size every WebRTC stack delivers unfragmented.</summary>
    public const int DefaultChunkSize = 16 * 1024;

    /// <summary>The default low threshold: 64 KiB, as in the original event-driven <c>executeSend</c>.</summary>
    public const long DefaultLowThreshold = 64 * 1024;

    /// <summary>
    /// The shortest wait of the no-event fallback: a channel without a low event is never re-checked sooner.
    /// </summary>
    public static readonly TimeSpan FallbackMinimumDelay = TimeSpan.FromMilliseconds(1);

    /// <summary>
    /// The longest wait of the no-event fallback: a stalled channel is re-checked at least this often,
    /// so a drain that restarts is noticed and the estimate can recover.
    /// </summary>
    public static readonly TimeSpan FallbackMaximumDelay = TimeSpan.FromMilliseconds(50);

    /// <summary>Initializes a new instance of the <see cref="BackpressureOptions"/> class.</summary>
    /// <param name="chunkSize">
    /// The largest message sent, in bytes. A channel with a smaller <see cref="IBufferedChannel.MaxMessageSize"/>
    /// gets chunks of its maximum instead.
    /// </param>
    /// <param name="lowThreshold">
    /// Sending resumes once the buffered amount has fallen to this many bytes; it is written to the
    /// channel's <see cref="IBufferedChannel.BufferedAmountLowThreshold"/>.
    /// </param>
    /// <param name="highWatermark">
    /// Chunks are sent while the buffered amount is at or below this many bytes. <see langword="null"/>
    /// derives it from <paramref name="lowThreshold"/> (see <see cref="DeriveHighWatermark"/>); passing
    /// <paramref name="lowThreshold"/> gives exactly the pause-at-the-threshold behaviour of the seed.
    /// A value given here is a hard bound: the queue never holds more than it plus one chunk, while a derived one
    /// may be raised with the low threshold when the sender measures it needs more queue (see <see cref="HighWatermarkIsDerived"/>).
    /// </param>
    /// <param name="timeProvider">The clock and timers of the no-event fallback; <see cref="TimeProvider.System"/> when <see langword="null"/>.</param>
    /// <exception cref="ArgumentOutOfRangeException">A size is negative or zero, or <paramref name="highWatermark"/> is below <paramref name="lowThreshold"/>.</exception>
    public BackpressureOptions(
        int chunkSize = DefaultChunkSize,
        long lowThreshold = DefaultLowThreshold,
        long? highWatermark = null,
        TimeProvider? timeProvider = null)
    {
        if (chunkSize <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(chunkSize), chunkSize, "The chunk size must be positive.");
        }

        if (lowThreshold < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(lowThreshold), lowThreshold, "The low threshold must not be negative.");
        }

        var high = highWatermark ?? DeriveHighWatermark(lowThreshold);
        if (high < lowThreshold)
        {
            throw new ArgumentOutOfRangeException(nameof(highWatermark), high, $"The high watermark must be at least the low threshold ({lowThreshold}).");
        }

        ChunkSize = chunkSize;
        LowThreshold = lowThreshold;
        HighWatermark = high;
        HighWatermarkIsDerived = highWatermark is null;
        TimeProvider = timeProvider ?? TimeProvider.System;
    }

    /// <summary>Gets the options used when none are given.</summary>
    public static BackpressureOptions Default { get; } = new();

    /// <summary>Gets the largest message sent, in bytes.</summary>
    public int ChunkSize { get; }

    /// <summary>Gets the buffered amount at or below which a paused transfer resumes.</summary>
    public long LowThreshold { get; }

    /// <summary>Gets the buffered amount above which a transfer pauses.</summary>
    public long HighWatermark { get; }

    /// <summary>
    /// Gets a value indicating whether <see cref="HighWatermark"/> was derived from the low threshold rather than
    /// given. <c>SendAsync</c> measures how long it is away once the queue is low and how fast the link drains,
    /// and raises its thresholds on a fast link until the queue left at the low threshold outlasts that absence.
    /// On a channel without a low event that absence is the timer's real shortest sleep (15.6 ms on Windows,
    /// several ms on a busy machine), and the thresholds rise whenever the high watermark is derived. With the
    /// event it is the slowest recent time from the event to the next <c>Send</c> on any channel in the process with
    /// the same clock (a thread-pool wake-up, up to milliseconds on a loaded machine; next to nothing where the channel
    /// lets the event itself send the next chunks, see <see cref="ILowEventSendChannel"/>), and they rise only with the
    /// default options, once two recent absences have outlasted the queue left at the low threshold: a low threshold
    /// or high watermark the caller gave is kept as given there. The raise is at most 15 times the low threshold and
    /// falls back, by half every second, while the absences are short. It raises a derived high watermark with them;
    /// a given one stays the bound, and only the low threshold rises, up to it.
    /// </summary>
    public bool HighWatermarkIsDerived { get; }

    /// <summary>
    /// Gets a value indicating whether the caller left both thresholds to the sender: the default low threshold and a
    /// derived high watermark. Only then does a send on a channel with the low event raise them (by how long it
    /// takes to come back from the event); thresholds a caller chose are kept as chosen there.
    /// </summary>
    internal bool ThresholdsAreDefault => HighWatermarkIsDerived && LowThreshold == DefaultLowThreshold;

    /// <summary>Gets the clock and timers used by the no-event fallback.</summary>
    public TimeProvider TimeProvider { get; }

    /// <summary>
    /// The high watermark used when none is given: twice the low threshold (128 KiB for the defaults),
    /// the ratio System.IO.Pipelines uses between its pause and resume thresholds. Each pause then lets
    /// several chunks go at once instead of one, so the sender wakes five times less often than with the
    /// high watermark at the threshold (measured in the project's benchmarks, docs/benchmarks.md in its
    /// repository). See <see cref="HighWatermarkIsDerived"/> for how far a send may raise it.
    /// </summary>
    /// <param name="lowThreshold">The low threshold.</param>
    /// <returns>The derived high watermark.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="lowThreshold"/> is negative.</exception>
    public static long DeriveHighWatermark(long lowThreshold) => lowThreshold switch
    {
        < 0 => throw new ArgumentOutOfRangeException(nameof(lowThreshold), lowThreshold, "The low threshold must not be negative."),
        > long.MaxValue / 2 => long.MaxValue,
        _ => lowThreshold * 2,
    };
}
