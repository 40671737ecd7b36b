using System;
using System.Threading;
using System.Threading.Tasks;
using Backpressure.Internal;

namespace Backpressure;

// Bounded waits: drop-in replacements for the Task.Delay or Thread.Sleep inside a polling loop, which wait no
// longer than the delay they replace and wake early when the queue drains. The type's documentation is on the
// other part (BufferedChannelExtensions.cs): two parts with a <summary> each would give it two.
public static partial class BufferedChannelExtensions
{
    /// <summary>The longest delay <c>Task.Delay</c> accepts, in milliseconds.</summary>
    private const long MaxDelayMilliseconds = uint.MaxValue - 1;

    /// <summary>
    /// Waits at most <paramref name="millisecondsDelay"/> for the channel's buffered amount to fall to
    /// <paramref name="threshold"/>: the replacement for the <c>await Task.Delay(millisecondsDelay, cancellationToken)</c>
    /// of a polling loop that it wakes early.
    /// </summary>
    /// <param name="channel">The channel.</param>
    /// <param name="threshold">
    /// The buffered amount to wait for, usually the loop's own limit. A negative value is never reached: the call
    /// then waits the full delay.
    /// </param>
    /// <param name="millisecondsDelay">The longest wait, in milliseconds, or <see cref="Timeout.Infinite"/>.</param>
    /// <param name="cancellationToken">Stops the wait, as it stopped the delay.</param>
    /// <returns>
    /// <see langword="true"/> when the buffered amount was seen at or below <paramref name="threshold"/>: at the call
    /// (synchronously, without allocating), after a low event, or at the last look as the wait ends;
    /// <see langword="false"/> when the delay passed first, or the channel raised <see cref="IBufferedChannel.Closed"/>
    /// or <see cref="IBufferedChannel.Error"/> during the wait.
    /// </returns>
    /// <exception cref="ArgumentNullException"><paramref name="channel"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="millisecondsDelay"/> is negative and not <see cref="Timeout.Infinite"/>.</exception>
    /// <exception cref="TaskCanceledException"><paramref name="cancellationToken"/> was cancelled before or during the wait.</exception>
    /// <remarks>
    /// <para>
    /// The wait behaves like the delay it replaces, except that it ends as soon as the amount is low: it never
    /// lasts longer than the delay and never throws for a closed or failed channel, as the loop around it does
    /// its own checks and throws its own exceptions. A <see cref="IBufferedChannel.Closed"/> or
    /// <see cref="IBufferedChannel.Error"/> event during the wait ends it once, with <see langword="false"/>;
    /// on a channel that is not <see cref="BufferedChannelState.Open"/> at the call, the wait lasts the full
    /// delay, so a loop that never checks the state cannot turn into a busy loop.
    /// </para>
    /// <para>
    /// It listens for <see cref="IBufferedChannel.BufferedAmountLow"/> and re-reads the amount after each one (events
    /// are hints), listening before it re-reads so that an event raised in between is not lost. It sets
    /// <see cref="IBufferedChannel.BufferedAmountLowThreshold"/> to <paramref name="threshold"/> while it waits, unless
    /// a <c>SendAsync</c> or <c>WaitForBufferedAmountLowAsync</c> on the channel is running: that one's threshold stays,
    /// and the event may then come later or not at all. Two bounded waits with different thresholds on one channel
    /// share its one threshold in the same way. The delay bounds the wait in every case.
    /// </para>
    /// <para>
    /// A channel without the event (<see cref="IBufferedChannel.SupportsBufferedAmountLowEvent"/> is
    /// <see langword="false"/>) is re-read when the drain rate this wait measures on it (kept from one wait to the next)
    /// says the queue should have reached the threshold, at least every 50 ms, and never after the delay.
    /// </para>
    /// <para>
    /// Handlers only signal; the re-reads and the continuation run on the thread pool, never on the transport's thread
    /// that raised the event. One wait at a time per channel allocates nothing (a waiter is kept per channel); a wait
    /// that overlaps another on the same channel gets one of its own.
    /// </para>
    /// </remarks>
    public static ValueTask<bool> DelayUntilBufferedAmountLowAsync(
        this IBufferedChannel channel, long threshold, int millisecondsDelay, CancellationToken cancellationToken = default) =>
        DelayUntilLowAsync(channel, threshold, ToDelay(millisecondsDelay, nameof(millisecondsDelay)), TimeProvider.System, cancellationToken);

    /// <summary>
    /// Waits at most <paramref name="delay"/> for the channel's buffered amount to fall to <paramref name="threshold"/>:
    /// the replacement for the <c>await Task.Delay(delay, cancellationToken)</c> of a polling loop that it wakes early.
    /// </summary>
    /// <param name="channel">The channel.</param>
    /// <param name="threshold">
    /// The buffered amount to wait for, usually the loop's own limit. A negative value is never reached: the call
    /// then waits the full delay.
    /// </param>
    /// <param name="delay">The longest wait, or <see cref="Timeout.InfiniteTimeSpan"/>.</param>
    /// <param name="cancellationToken">Stops the wait, as it stopped the delay.</param>
    /// <returns>
    /// <see langword="true"/> when the buffered amount was seen at or below <paramref name="threshold"/>;
    /// <see langword="false"/> when the delay passed first, or the channel closed or reported an error during the wait.
    /// </returns>
    /// <exception cref="ArgumentNullException"><paramref name="channel"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentOutOfRangeException">
    /// <paramref name="delay"/> is negative and not <see cref="Timeout.InfiniteTimeSpan"/>, or longer than <c>Task.Delay</c> accepts.
    /// </exception>
    /// <exception cref="TaskCanceledException"><paramref name="cancellationToken"/> was cancelled before or during the wait.</exception>
    /// <remarks>
    /// See <see cref="DelayUntilBufferedAmountLowAsync(IBufferedChannel, long, int, CancellationToken)"/> for how the
    /// wait treats the channel's events, its state and its low threshold.
    /// </remarks>
    public static ValueTask<bool> DelayUntilBufferedAmountLowAsync(
        this IBufferedChannel channel, long threshold, TimeSpan delay, CancellationToken cancellationToken = default) =>
        DelayUntilLowAsync(channel, threshold, ToDelay(delay, nameof(delay)), TimeProvider.System, cancellationToken);

    /// <summary>
    /// Waits at most <paramref name="millisecondsDelay"/> for the channel's buffered amount to fall to
    /// <paramref name="threshold"/>, for code whose thresholds are <see cref="ulong"/> (SIPSorcery's
    /// <c>bufferedAmountLowThreshold</c>). A threshold above <see cref="long.MaxValue"/> is no limit: every queue is under it.
    /// </summary>
    /// <param name="channel">The channel.</param>
    /// <param name="threshold">The buffered amount to wait for, usually the loop's own limit.</param>
    /// <param name="millisecondsDelay">The longest wait, in milliseconds, or <see cref="Timeout.Infinite"/>.</param>
    /// <param name="cancellationToken">Stops the wait, as it stopped the delay.</param>
    /// <returns>
    /// <see langword="true"/> when the buffered amount was seen at or below <paramref name="threshold"/>;
    /// <see langword="false"/> when the delay passed first, or the channel closed or reported an error during the wait.
    /// </returns>
    /// <exception cref="ArgumentNullException"><paramref name="channel"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="millisecondsDelay"/> is negative and not <see cref="Timeout.Infinite"/>.</exception>
    /// <exception cref="TaskCanceledException"><paramref name="cancellationToken"/> was cancelled before or during the wait.</exception>
    /// <remarks>
    /// See <see cref="DelayUntilBufferedAmountLowAsync(IBufferedChannel, long, int, CancellationToken)"/> for how the
    /// wait treats the channel's events, its state and its low threshold.
    /// </remarks>
    public static ValueTask<bool> DelayUntilBufferedAmountLowAsync(
        this IBufferedChannel channel, ulong threshold, int millisecondsDelay, CancellationToken cancellationToken = default) =>
        DelayUntilLowAsync(channel, ToLong(threshold), ToDelay(millisecondsDelay, nameof(millisecondsDelay)), TimeProvider.System, cancellationToken);

    /// <summary>
    /// Waits at most <paramref name="delay"/> for the channel's buffered amount to fall to <paramref name="threshold"/>,
    /// for code whose thresholds are <see cref="ulong"/>. A threshold above <see cref="long.MaxValue"/> is no limit.
    /// </summary>
    /// <param name="channel">The channel.</param>
    /// <param name="threshold">The buffered amount to wait for, usually the loop's own limit.</param>
    /// <param name="delay">The longest wait, or <see cref="Timeout.InfiniteTimeSpan"/>.</param>
    /// <param name="cancellationToken">Stops the wait, as it stopped the delay.</param>
    /// <returns>
    /// <see langword="true"/> when the buffered amount was seen at or below <paramref name="threshold"/>;
    /// <see langword="false"/> when the delay passed first, or the channel closed or reported an error during the wait.
    /// </returns>
    /// <exception cref="ArgumentNullException"><paramref name="channel"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentOutOfRangeException">
    /// <paramref name="delay"/> is negative and not <see cref="Timeout.InfiniteTimeSpan"/>, or longer than <c>Task.Delay</c> accepts.
    /// </exception>
    /// <exception cref="TaskCanceledException"><paramref name="cancellationToken"/> was cancelled before or during the wait.</exception>
    /// <remarks>
    /// See <see cref="DelayUntilBufferedAmountLowAsync(IBufferedChannel, long, int, CancellationToken)"/> for how the
    /// wait treats the channel's events, its state and its low threshold.
    /// </remarks>
    public static ValueTask<bool> DelayUntilBufferedAmountLowAsync(
        this IBufferedChannel channel, ulong threshold, TimeSpan delay, CancellationToken cancellationToken = default) =>
        DelayUntilLowAsync(channel, ToLong(threshold), ToDelay(delay, nameof(delay)), TimeProvider.System, cancellationToken);

    /// <summary>
    /// Waits at most <paramref name="delay"/>, measured by <paramref name="timeProvider"/>, for the channel's buffered
    /// amount to fall to <paramref name="threshold"/>.
    /// </summary>
    /// <param name="channel">The channel.</param>
    /// <param name="threshold">The buffered amount to wait for. A negative value is never reached.</param>
    /// <param name="delay">The longest wait, or <see cref="Timeout.InfiniteTimeSpan"/>.</param>
    /// <param name="timeProvider">The clock and timers of the delay and of the no-event fallback.</param>
    /// <param name="cancellationToken">Stops the wait.</param>
    /// <returns>
    /// <see langword="true"/> when the buffered amount was seen at or below <paramref name="threshold"/>;
    /// <see langword="false"/> when the delay passed first, or the channel closed or reported an error during the wait.
    /// </returns>
    /// <exception cref="ArgumentNullException"><paramref name="channel"/> or <paramref name="timeProvider"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentOutOfRangeException">
    /// <paramref name="delay"/> is negative and not <see cref="Timeout.InfiniteTimeSpan"/>, or longer than <c>Task.Delay</c> accepts.
    /// </exception>
    /// <exception cref="TaskCanceledException"><paramref name="cancellationToken"/> was cancelled before or during the wait.</exception>
    /// <remarks>
    /// See <see cref="DelayUntilBufferedAmountLowAsync(IBufferedChannel, long, int, CancellationToken)"/> for how the
    /// wait treats the channel's events, its state and its low threshold.
    /// </remarks>
    public static ValueTask<bool> DelayUntilBufferedAmountLowAsync(
        this IBufferedChannel channel, long threshold, TimeSpan delay, TimeProvider timeProvider, CancellationToken cancellationToken = default)
    {
        if (timeProvider is null)
        {
            throw new ArgumentNullException(nameof(timeProvider));
        }

        return DelayUntilLowAsync(channel, threshold, ToDelay(delay, nameof(delay)), timeProvider, cancellationToken);
    }

    /// <summary>
    /// Blocks the calling thread for at most <paramref name="millisecondsTimeout"/> until the channel's buffered amount
    /// falls to <paramref name="threshold"/>: the replacement for the <c>Thread.Sleep(millisecondsTimeout)</c> of a
    /// polling loop that it wakes early.
    /// </summary>
    /// <param name="channel">The channel.</param>
    /// <param name="threshold">
    /// The buffered amount to wait for, usually the loop's own limit. A negative value is never reached: the call
    /// then sleeps the full timeout.
    /// </param>
    /// <param name="millisecondsTimeout">The longest sleep, in milliseconds, or <see cref="Timeout.Infinite"/>.</param>
    /// <returns>
    /// <see langword="true"/> when the buffered amount was seen at or below <paramref name="threshold"/>
    /// (at once, without blocking, when it already is); <see langword="false"/> when the timeout passed first,
    /// or the channel raised <see cref="IBufferedChannel.Closed"/> or <see cref="IBufferedChannel.Error"/> during the wait.
    /// </returns>
    /// <exception cref="ArgumentNullException"><paramref name="channel"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="millisecondsTimeout"/> is negative and not <see cref="Timeout.Infinite"/>.</exception>
    /// <remarks>
    /// <para>
    /// The same contract as <see cref="DelayUntilBufferedAmountLowAsync(IBufferedChannel, long, int, CancellationToken)"/>,
    /// as a blocking wait (<see cref="Monitor.Wait(object, int)"/> on a per-channel object) woken by the channel's
    /// events: no timer and no polling, and no allocation in a steady loop. A timeout of 0 yields the thread as
    /// <c>Thread.Sleep(0)</c> does and returns <see langword="false"/>.
    /// </para>
    /// <para>
    /// Call it from a thread the channel does not need to raise its events: a channel that raises
    /// <see cref="IBufferedChannel.BufferedAmountLow"/> only on the blocked thread wakes it only at the timeout,
    /// just as it woke the <c>Thread.Sleep</c>.
    /// </para>
    /// </remarks>
    public static bool SleepUntilBufferedAmountLow(this IBufferedChannel channel, long threshold, int millisecondsTimeout) =>
        SleepUntilLow(channel, threshold, ToTimeout(millisecondsTimeout, nameof(millisecondsTimeout)));

    /// <summary>
    /// Blocks the calling thread for at most <paramref name="timeout"/> until the channel's buffered amount falls to
    /// <paramref name="threshold"/>: the replacement for the <c>Thread.Sleep(timeout)</c> of a polling loop.
    /// </summary>
    /// <param name="channel">The channel.</param>
    /// <param name="threshold">The buffered amount to wait for. A negative value is never reached.</param>
    /// <param name="timeout">The longest sleep, or <see cref="Timeout.InfiniteTimeSpan"/>.</param>
    /// <returns>
    /// <see langword="true"/> when the buffered amount was seen at or below <paramref name="threshold"/>;
    /// <see langword="false"/> when the timeout passed first, or the channel closed or reported an error during the wait.
    /// </returns>
    /// <exception cref="ArgumentNullException"><paramref name="channel"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentOutOfRangeException">
    /// <paramref name="timeout"/> is negative and not <see cref="Timeout.InfiniteTimeSpan"/>, or longer than
    /// <see cref="int.MaxValue"/> milliseconds.
    /// </exception>
    /// <remarks>See <see cref="SleepUntilBufferedAmountLow(IBufferedChannel, long, int)"/>.</remarks>
    public static bool SleepUntilBufferedAmountLow(this IBufferedChannel channel, long threshold, TimeSpan timeout) =>
        SleepUntilLow(channel, threshold, ToTimeout(timeout, nameof(timeout)));

    /// <summary>
    /// Blocks the calling thread for at most <paramref name="millisecondsTimeout"/> until the channel's buffered amount
    /// falls to <paramref name="threshold"/>, for code whose thresholds are <see cref="ulong"/>. A threshold above
    /// <see cref="long.MaxValue"/> is no limit: every queue is under it.
    /// </summary>
    /// <param name="channel">The channel.</param>
    /// <param name="threshold">The buffered amount to wait for.</param>
    /// <param name="millisecondsTimeout">The longest sleep, in milliseconds, or <see cref="Timeout.Infinite"/>.</param>
    /// <returns>
    /// <see langword="true"/> when the buffered amount was seen at or below <paramref name="threshold"/>;
    /// <see langword="false"/> when the timeout passed first, or the channel closed or reported an error during the wait.
    /// </returns>
    /// <exception cref="ArgumentNullException"><paramref name="channel"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="millisecondsTimeout"/> is negative and not <see cref="Timeout.Infinite"/>.</exception>
    /// <remarks>See <see cref="SleepUntilBufferedAmountLow(IBufferedChannel, long, int)"/>.</remarks>
    public static bool SleepUntilBufferedAmountLow(this IBufferedChannel channel, ulong threshold, int millisecondsTimeout) =>
        SleepUntilLow(channel, ToLong(threshold), ToTimeout(millisecondsTimeout, nameof(millisecondsTimeout)));

    /// <summary>
    /// Blocks the calling thread for at most <paramref name="timeout"/> until the channel's buffered amount falls to
    /// <paramref name="threshold"/>, for code whose thresholds are <see cref="ulong"/>. A threshold above
    /// <see cref="long.MaxValue"/> is no limit.
    /// </summary>
    /// <param name="channel">The channel.</param>
    /// <param name="threshold">The buffered amount to wait for.</param>
    /// <param name="timeout">The longest sleep, or <see cref="Timeout.InfiniteTimeSpan"/>.</param>
    /// <returns>
    /// <see langword="true"/> when the buffered amount was seen at or below <paramref name="threshold"/>;
    /// <see langword="false"/> when the timeout passed first, or the channel closed or reported an error during the wait.
    /// </returns>
    /// <exception cref="ArgumentNullException"><paramref name="channel"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentOutOfRangeException">
    /// <paramref name="timeout"/> is negative and not <see cref="Timeout.InfiniteTimeSpan"/>, or longer than
    /// <see cref="int.MaxValue"/> milliseconds.
    /// </exception>
    /// <remarks>See <see cref="SleepUntilBufferedAmountLow(IBufferedChannel, long, int)"/>.</remarks>
    public static bool SleepUntilBufferedAmountLow(this IBufferedChannel channel, ulong threshold, TimeSpan timeout) =>
        SleepUntilLow(channel, ToLong(threshold), ToTimeout(timeout, nameof(timeout)));

    private static long ToLong(ulong threshold) => threshold > long.MaxValue ? long.MaxValue : (long)threshold;

    /// <summary>Validates a delay as <c>Task.Delay(int)</c> does.</summary>
    private static TimeSpan ToDelay(int millisecondsDelay, string parameterName)
    {
        if (millisecondsDelay < Timeout.Infinite)
        {
            throw new ArgumentOutOfRangeException(parameterName, millisecondsDelay, "The delay must be non-negative or Timeout.Infinite (-1).");
        }

        return millisecondsDelay == Timeout.Infinite ? Timeout.InfiniteTimeSpan : TimeSpan.FromMilliseconds(millisecondsDelay);
    }

    /// <summary>Validates a delay as <c>Task.Delay(TimeSpan)</c> does: whole milliseconds from -1 (infinite) to <see cref="uint.MaxValue"/> - 1.</summary>
    private static TimeSpan ToDelay(TimeSpan delay, string parameterName)
    {
        var milliseconds = (long)delay.TotalMilliseconds;
        if (milliseconds < Timeout.Infinite || milliseconds > MaxDelayMilliseconds)
        {
            throw new ArgumentOutOfRangeException(parameterName, delay, "The delay must be between -1 ms (infinite) and 4294967294 ms.");
        }

        return milliseconds == Timeout.Infinite ? Timeout.InfiniteTimeSpan : delay;
    }

    /// <summary>Validates a timeout as <c>Thread.Sleep(int)</c> does; returns milliseconds.</summary>
    private static int ToTimeout(int millisecondsTimeout, string parameterName)
    {
        if (millisecondsTimeout < Timeout.Infinite)
        {
            throw new ArgumentOutOfRangeException(parameterName, millisecondsTimeout, "The timeout must be non-negative or Timeout.Infinite (-1).");
        }

        return millisecondsTimeout;
    }

    /// <summary>Validates a timeout as <c>Thread.Sleep(TimeSpan)</c> does; returns whole milliseconds.</summary>
    private static int ToTimeout(TimeSpan timeout, string parameterName)
    {
        var milliseconds = (long)timeout.TotalMilliseconds;
        if (milliseconds < Timeout.Infinite || milliseconds > int.MaxValue)
        {
            throw new ArgumentOutOfRangeException(parameterName, timeout, "The timeout must be between -1 ms (infinite) and int.MaxValue ms.");
        }

        return (int)milliseconds;
    }

    private static ValueTask<bool> DelayUntilLowAsync(IBufferedChannel channel, long threshold, TimeSpan delay, TimeProvider time, CancellationToken cancellationToken)
    {
        if (channel is null)
        {
            throw new ArgumentNullException(nameof(channel));
        }

        // As Task.Delay: a cancelled token wins over everything, even a delay of zero.
        if (cancellationToken.IsCancellationRequested)
        {
            return new ValueTask<bool>(Task.FromCanceled<bool>(cancellationToken));
        }

        if (channel.BufferedAmount <= threshold)
        {
            return new ValueTask<bool>(true);
        }

        if (delay == TimeSpan.Zero)
        {
            return new ValueTask<bool>(false);
        }

        return ChannelCoordinator.For(channel).RentWaiter(channel).DelayAsync(threshold, delay, time, cancellationToken);
    }

    private static bool SleepUntilLow(IBufferedChannel channel, long threshold, int millisecondsTimeout)
    {
        if (channel is null)
        {
            throw new ArgumentNullException(nameof(channel));
        }

        if (channel.BufferedAmount <= threshold)
        {
            return true;
        }

        if (millisecondsTimeout == 0)
        {
            Thread.Sleep(0);
            return false;
        }

        return ChannelCoordinator.For(channel).RentWaiter(channel).Sleep(threshold, millisecondsTimeout);
    }
}
