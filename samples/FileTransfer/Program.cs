// Sends a 1 MiB file, a 1 MiB stream, a blocking message and a trailer over a 100 Mbit/s loopback
// transport, drains it and closes it, then prints what arrived. It runs the same before and after `backpressure fix`: only how
// the sender waits changes.
using System.Diagnostics;
using System.Security.Cryptography;
using FileTransfer;

var file = new byte[1 << 20];
new Random(42).NextBytes(file);
using var transport = new LoopbackTransport(megabitsPerSecond: 100);
var sender = new FileSender(transport);
var clock = Stopwatch.StartNew();

await sender.SendFileAsync(file, CancellationToken.None);
await sender.SendStreamAsync(new MemoryStream(file), CancellationToken.None);
sender.SendBlocking(file[..1024]);
await sender.SendTrailerAsync("done"u8.ToArray());
await sender.CloseAsync(TimeSpan.FromSeconds(10));

using var expected = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
expected.AppendData(file);
expected.AppendData(file);
expected.AppendData(file.AsSpan(0, 1024));
expected.AppendData("done"u8);
var hash = transport.ReceivedHash();
Console.WriteLine($"received {transport.BytesReceived} bytes, sha256 {hash} ({(hash == Convert.ToHexString(expected.GetCurrentHash())[..16] ? "intact" : "CORRUPT")}) in {clock.Elapsed.TotalSeconds:F2} s");
