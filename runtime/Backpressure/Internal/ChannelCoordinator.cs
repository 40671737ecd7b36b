using System.Runtime.CompilerServices;

namespace Backpressure.Internal;

/// <summary>The state this library keeps per channel object: its transfer queue and its drain-rate estimate.</summary>
internal sealed class ChannelCoordinator
{
    private static readonly ConditionalWeakTable<IBufferedChannel, ChannelCoordinator> s_coordinators = new();

    public SendGate Gate { get; } = new();

    public DrainRateEstimator DrainRate { get; } = new();

    public static ChannelCoordinator For(IBufferedChannel channel) =>
        s_coordinators.GetValue(channel, static _ => new ChannelCoordinator());
}
