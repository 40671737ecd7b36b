// Sends the same payload over a simulated 200 Mbit/s link three ways and prints what each achieves:
// the event-driven sender, the same sender on a link without a low event (the drain-rate fallback),
// and the polling loop this project exists to replace.
using System.Diagnostics;
using System.Security.Cryptography;
using Backpressure;

const long BitsPerSecond = 200_000_000;
var latency = TimeSpan.FromMilliseconds(5);
var payload = RandomNumberGenerator.GetBytes(8 * 1024 * 1024);
var expectedHash = Convert.ToHexString(SHA256.HashData(payload))[..16];

Console.WriteLine($"Sending {payload.Length / (1024 * 1024)} MiB over an in-memory link of {BitsPerSecond / 1_000_000} Mbit/s, {latency.TotalMilliseconds} ms latency.");
Console.WriteLine($"{"strategy",-34} {"seconds",8} {"MB/s",8} {"% of link",10} {"peak queue",11}  sha256");

await Run("event-driven SendAsync", raisesLowEvent: true, link => link.SendAsync(payload));
await Run("SendAsync, no low event (fallback)", raisesLowEvent: false, link => link.SendAsync(payload));
await Run("poll every 50 ms (the 'before')", raisesLowEvent: true, link => PollingSendAsync(link, payload));

async Task Run(string name, bool raisesLowEvent, Func<InMemoryLinkChannel, Task> send)
{
    using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
    using var link = new InMemoryLinkChannel(new InMemoryLinkOptions(BitsPerSecond, latency, raisesBufferedAmountLow: raisesLowEvent), m => hash.AppendData(m.Span));

    var clock = Stopwatch.StartNew();
    await send(link);
    while (link.BytesDelivered < payload.Length)
    {
        await Task.Delay(1);
    }

    var seconds = clock.Elapsed.TotalSeconds;
    var megabytesPerSecond = payload.Length / seconds / 1e6;
    var ofLink = payload.Length * 8 / seconds / BitsPerSecond;
    var received = Convert.ToHexString(hash.GetHashAndReset())[..16];
    Console.WriteLine($"{name,-34} {seconds,8:F2} {megabytesPerSecond,8:F1} {ofLink,10:P0} {link.PeakBufferedAmount / 1024,8} KiB  {(received == expectedHash ? "ok" : "MISMATCH")}");
}

// The shape BP0001 reports: a timer-driven wait on the buffered amount, as in the seed's setTimeout(sendChunk, 50).
static async Task PollingSendAsync(IBufferedChannel channel, byte[] data)
{
    const int ChunkSize = 16 * 1024;
    const long Limit = 64 * 1024;
    for (var offset = 0; offset < data.Length; offset += ChunkSize)
    {
        while (channel.BufferedAmount > Limit)
        {
            await Task.Delay(50);
        }

        channel.Send(data.AsMemory(offset, Math.Min(ChunkSize, data.Length - offset)));
    }
}
