using Verify = Backpressure.Analyzers.Tests.CSharpAnalyzerVerifier<Backpressure.Analyzers.BP0001BufferedAmountPollingAnalyzer>;

namespace Backpressure.Analyzers.Tests;

/// <summary>
/// BP0001 analyses each code block the compiler has: not only method bodies but field and property initializers,
/// constructors, accessors and expression bodies. Each site is reported once, whatever declares it.
/// </summary>
public sealed class CodeBlockKindsTests
{
    [Fact]
    public Task Reports_APollingLambda_InAFieldInitializer_OncePerDeclarator() => Verify.VerifyAnalyzerAsync("""
        using System;
        using System.Threading.Tasks;
        using Acme.Transport;

        class Sender
        {
            static readonly MessageChannel Channel = new();

            readonly Func<Task> _drain = async () =>
            {
                [|while (Channel.BufferedAmount > 1024)|] await Task.Delay(10);
            };

            readonly Func<Task> _first = async () =>
            {
                [|while (Channel.BufferedAmount > 1)|] await Task.Delay(10);
            }, _second = async () =>
            {
                [|while (Channel.BufferedAmount > 2)|] await Task.Delay(10);
            };
        }
        """);

    [Fact]
    public Task Reports_APollingLambda_InAPropertyInitializerAndAnExpressionBody() => Verify.VerifyAnalyzerAsync("""
        using System;
        using System.Threading;
        using Acme.Transport;

        class Sender
        {
            static readonly MessageChannel Channel = new();

            Action Drain { get; } = () =>
            {
                [|while (Channel.BufferedAmount > 1024)|] Thread.Sleep(10);
            };

            Action Wait => () =>
            {
                [|while (Channel.BufferedAmount > 4096)|] Thread.Sleep(10);
            };
        }
        """);

    [Fact]
    public Task Reports_PollingInAConstructorAndAnAccessor() => Verify.VerifyAnalyzerAsync("""
        using System.Threading;
        using Acme.Transport;

        class Sender
        {
            readonly MessageChannel _channel;

            Sender(MessageChannel channel) : base()
            {
                _channel = channel;
                [|while (_channel.BufferedAmount > 0)|] Thread.Sleep(5);
            }

            bool Drained
            {
                get
                {
                    [|while (_channel.BufferedAmount > 0)|] Thread.Sleep(5);
                    return true;
                }
            }
        }
        """);

    [Fact]
    public Task Reports_InAnIndexer_AnEventAccessor_AnOperator_AndAnAccessorsLocalFunction() => Verify.VerifyAnalyzerAsync("""
        using System;
        using System.Threading;
        using Acme.Transport;

        class Sender
        {
            static readonly MessageChannel Channel = new();

            int this[int i] => Drain(i);

            event Action Changed
            {
                add { [|while (Channel.BufferedAmount > 10)|] Thread.Sleep(1); }
                remove { }
            }

            public static Sender operator +(Sender s, int limit)
            {
                [|while (Channel.BufferedAmount > limit)|] Thread.Sleep(1);
                return s;
            }

            static int Drain(int limit)
            {
                [|while (Channel.BufferedAmount > limit)|] Thread.Sleep(1);
                return limit;
            }

            bool Ready
            {
                get
                {
                    void Wait() { [|while (Channel.BufferedAmount > 20)|] Thread.Sleep(1); }
                    Wait();
                    return true;
                }
            }
        }
        """);

    [Fact]
    public Task Reports_OnceInATypeWithAPrimaryConstructor() => Verify.VerifyAnalyzerAsync("""
        using System.Threading;
        using System.Threading.Tasks;
        using Acme.Transport;

        class Sender(MessageChannel channel)
        {
            readonly MessageChannel _channel = channel;

            async Task DrainAsync()
            {
                [|while (_channel.BufferedAmount > 0)|] await Task.Delay(5);
            }

            void Drain() => [|SpinWait.SpinUntil(() => channel.BufferedAmount == 0, 1000)|];
        }
        """);
}

/// <summary>BP0003 runs on the same code blocks.</summary>
public sealed class QueuePollingCodeBlockKindsTests
{
    [Fact]
    public Task Reports_AQueuePollingLambda_InAFieldInitializer_AndAConstructor() =>
        CSharpAnalyzerVerifier<BP0003QueuePollingAnalyzer>.VerifyAnalyzerAsync("""
        using System;
        using System.Collections.Concurrent;
        using System.Threading;

        class Receiver
        {
            static readonly ConcurrentQueue<byte[]> Incoming = new();

            readonly Func<byte[]> _next = () =>
            {
                byte[] item;
                [|while (!Incoming.TryDequeue(out item))|] Thread.Sleep(25);
                return item;
            };

            Receiver()
            {
                [|while (Incoming.IsEmpty)|] Thread.Sleep(25);
            }
        }
        """);
}
