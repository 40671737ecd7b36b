using Backpressure;

namespace Backpressure.Runtime.Tests;

public sealed class BackpressureOptionsTests
{
    [Fact]
    public void Defaults_Are16KiBChunks_64KiBLow_128KiBHigh()
    {
        var options = BackpressureOptions.Default;

        Assert.Equal(16 * 1024, options.ChunkSize);
        Assert.Equal(64 * 1024, options.LowThreshold);
        Assert.Equal(128 * 1024, options.HighWatermark);
        Assert.Same(TimeProvider.System, options.TimeProvider);
    }

    [Fact]
    public void HighWatermark_FollowsACustomLowThreshold_WhenNotGiven()
    {
        Assert.Equal(2000, new BackpressureOptions(lowThreshold: 1000).HighWatermark);
        Assert.Equal(1000, new BackpressureOptions(lowThreshold: 1000, highWatermark: 1000).HighWatermark);
    }

    [Theory]
    [InlineData(0, 10, 10, "chunkSize")]
    [InlineData(-5, 10, 10, "chunkSize")]
    [InlineData(10, -1, 10, "lowThreshold")]
    [InlineData(10, 100, 99, "highWatermark")]
    public void InvalidValues_ThrowArgumentOutOfRange_NamingTheParameter(int chunk, long low, long high, string parameter)
    {
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => new BackpressureOptions(chunk, low, high));

        Assert.Equal(parameter, ex.ParamName);
    }
}
