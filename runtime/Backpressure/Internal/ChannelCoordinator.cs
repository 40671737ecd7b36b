using System.Runtime.CompilerServices;
using System.Threading;

namespace Backpressure.Internal;

/// <summary>
/// The state this library keeps per channel object: its transfer queue, its drain-rate estimate, and the
/// bounded waiter its polling loops reuse.
/// </summary>
internal sealed class ChannelCoordinator
{
    private static readonly ConditionalWeakTable<IBufferedChannel, ChannelCoordinator> s_coordinators = new();

    private BoundedWaiter? _idleWaiter;

    public SendGate Gate { get; } = new();

    public DrainRateEstimator DrainRate { get; } = new();

    public static ChannelCoordinator For(IBufferedChannel channel) =>
        s_coordinators.GetValue(channel, static _ => new ChannelCoordinator());

    /// <summary>
    /// The channel's idle bounded waiter, or a new one when it is in use: one loop per channel allocates
    /// nothing per wait, and overlapping waits still each get their own.
    /// </summary>
    public BoundedWaiter RentWaiter(IBufferedChannel channel) =>
        Interlocked.Exchange(ref _idleWaiter, null) ?? new BoundedWaiter(channel, this);

    /// <summary>Keeps <paramref name="waiter"/> for the next wait, unless another one is kept already.</summary>
    public void ReturnWaiter(BoundedWaiter waiter) => Interlocked.CompareExchange(ref _idleWaiter, waiter, null);
}
