using System.Collections.Immutable;
using Backpressure;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

namespace Backpressure.Analyzers.Tests;

/// <summary>
/// What every test compilation references: the .NET 10 reference assemblies (no download at test time),
/// the runtime library, and a stub assembly of channel types and their hand-written adapters.
/// </summary>
internal static class TestReferences
{
    private static readonly Lazy<ImmutableArray<MetadataReference>> s_all = new(Build);

    public static ImmutableArray<MetadataReference> All => s_all.Value;

    /// <summary>The framework and the runtime, without the stub channels: for tests that bring their own.</summary>
    public static ImmutableArray<MetadataReference> FrameworkAndRuntime { get; } =
        Basic.Reference.Assemblies.Net100.References.All.Cast<MetadataReference>().ToImmutableArray()
            .Add(MetadataReference.CreateFromFile(typeof(IBufferedChannel).Assembly.Location));

    /// <summary>
    /// Channel shapes the analyzer meets. SIPSorcery is not available here: its public surface is stubbed,
    /// signatures only. Their adapters come from the compile-time generator, which every test runs.
    /// </summary>
    public const string Stubs = """
        namespace SIPSorcery.Net
        {
            public enum RTCDataChannelState { connecting, open, closing, closed }
            public enum DataChannelPayloadProtocols { WebRTC_String = 51, WebRTC_Binary = 53 }
            public delegate void OnDataChannelMessageDelegate(RTCDataChannel dc, DataChannelPayloadProtocols protocol, byte[] data);

            public class RTCDataChannel
            {
                public RTCDataChannelState readyState => throw null!;
                public ulong bufferedAmount => throw null!;
                public ulong bufferedAmountLowThreshold { get; set; }
                public string label => throw null!;
                public ushort? id => throw null!;
                public event System.Action? onopen;
                public event System.Action? onclose;
                public event System.Action<string>? onerror;
                public event OnDataChannelMessageDelegate? onmessage;
                public void send(string message) { }
                public void send(byte[] data, int offset = 0, int count = -1) { }
                public void close() { }
            }
        }

        namespace Acme.Transport
        {
            /// <summary>A .NET-style custom transport.</summary>
            public sealed class MessageChannel
            {
                public long BufferedAmount { get; }
                public int QueuedBytes { get; }
                public bool IsOpen { get; }
                public void Send(System.ReadOnlyMemory<byte> message) { }
            }

            /// <summary>Amount as an int field, send as SendMessage.</summary>
            public sealed class FieldChannel
            {
                public int BufferedAmount;
                public void SendMessage(byte[] message) { }
            }

            /// <summary>A channel no adapter can be generated for: its only send is asynchronous.</summary>
            public sealed class UnadaptedChannel
            {
                public long BufferedAmount { get; }
                public System.Threading.Tasks.Task SendAsync(byte[] message) => System.Threading.Tasks.Task.CompletedTask;
            }

            /// <summary>Holds a channel behind a property.</summary>
            public sealed class Holder
            {
                public MessageChannel Current { get; } = new();
                public long BufferedAmount => Current.BufferedAmount;
                public void Send(byte[] message) { }
            }

            /// <summary>Not a channel: it cannot send.</summary>
            public sealed class Meter
            {
                public long BufferedAmount { get; }
            }

            /// <summary>A media player: look-alike names on a type that happens to have a Send.</summary>
            public sealed class Player
            {
                public long BufferedMilliseconds { get; }
                public long BufferedBytes { get; }
                public void SendCommand(string command) { }
            }
        }

        """;

    private static ImmutableArray<MetadataReference> Build()
    {
        var framework = Basic.Reference.Assemblies.Net100.References.All.Cast<MetadataReference>().ToImmutableArray();
        var runtime = MetadataReference.CreateFromFile(typeof(IBufferedChannel).Assembly.Location);
        var compilation = CSharpCompilation.Create(
            "TestChannels",
            [CSharpSyntaxTree.ParseText(Stubs, new CSharpParseOptions(LanguageVersion.Latest))],
            framework.Add(runtime),
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, nullableContextOptions: NullableContextOptions.Enable));

        using var image = new MemoryStream();
        var emitted = compilation.Emit(image);
        if (!emitted.Success)
        {
            throw new InvalidOperationException("The test stubs do not compile: " + string.Join(Environment.NewLine, emitted.Diagnostics));
        }

        return framework.Add(runtime).Add(MetadataReference.CreateFromImage(image.ToArray()));
    }
}
