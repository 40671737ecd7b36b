using Verify = Backpressure.Analyzers.Tests.CSharpCodeFixVerifier<
    Backpressure.Analyzers.BP0001BufferedAmountPollingAnalyzer,
    Backpressure.CodeFixes.BP0001BufferedAmountPollingCodeFix>;

namespace Backpressure.Analyzers.Tests;

/// <summary>
/// Fix-all in document, project and solution scope (the test framework runs each scope), with the using
/// added once per file however many sites it has.
/// </summary>
public sealed class FixAllTests
{
    [Fact]
    public Task FixAll_RewritesEverySite_InTwoFiles_AddingTheUsingOncePerFile()
    {
        var test = new Verify.Test();
        test.TestState.Sources.Add(("/0/Upload.cs", """
            using System.Threading.Tasks;
            using SIPSorcery.Net;

            class Upload
            {
                async Task SendAsync(RTCDataChannel dc, byte[] chunk)
                {
                    [|while (dc.bufferedAmount > 65536)|] await Task.Delay(50);
                    dc.send(chunk);
                    [|while (dc.bufferedAmount > 65536)|] await Task.Delay(50);
                    dc.send(chunk);
                }
            }
            """));
        test.TestState.Sources.Add(("/0/Download.cs", """
            namespace Transfers;

            using System.Threading.Tasks;
            using Acme.Transport;

            class Download
            {
                async Task AckAsync(MessageChannel channel, byte[] ack)
                {
                    [|while (channel.BufferedAmount >= 1024)|]
                    {
                        await Task.Delay(5);
                    }

                    channel.Send(ack);
                }
            }
            """));
        test.FixedState.Sources.Add(("/0/Upload.cs", """
            using System.Threading.Tasks;
            using Backpressure;
            using SIPSorcery.Net;

            class Upload
            {
                async Task SendAsync(RTCDataChannel dc, byte[] chunk)
                {
                    await dc.AsBufferedChannel().WaitForBufferedAmountLowAsync(65536);
                    dc.send(chunk);
                    await dc.AsBufferedChannel().WaitForBufferedAmountLowAsync(65536);
                    dc.send(chunk);
                }
            }
            """));
        test.FixedState.Sources.Add(("/0/Download.cs", """
            using Backpressure;

            namespace Transfers;

            using System.Threading.Tasks;
            using Acme.Transport;

            class Download
            {
                async Task AckAsync(MessageChannel channel, byte[] ack)
                {
                    await channel.AsBufferedChannel().WaitForBufferedAmountLowAsync(1023);

                    channel.Send(ack);
                }
            }
            """));
        return test.RunAsync();
    }

    [Fact]
    public Task FixAll_LeavesSitesWithoutAFix_Reported()
    {
        var test = new Verify.Test
        {
            TestCode = """
                using System.Threading;
                using System.Threading.Tasks;
                using Acme.Transport;

                class Sender
                {
                    async Task PumpAsync(MessageChannel channel)
                    {
                        [|while (channel.BufferedAmount > 10)|] await Task.Delay(1);
                    }

                    void Pump(MessageChannel channel)
                    {
                        [|while (channel.BufferedAmount > 10)|] Thread.Sleep(1);
                    }
                }
                """,
            FixedCode = """
                using System.Threading;
                using System.Threading.Tasks;
                using Acme.Transport;
                using Backpressure;

                class Sender
                {
                    async Task PumpAsync(MessageChannel channel)
                    {
                        await channel.AsBufferedChannel().WaitForBufferedAmountLowAsync(10);
                    }

                    void Pump(MessageChannel channel)
                    {
                        while (channel.BufferedAmount > 10) Thread.Sleep(1);
                    }
                }
                """,
        };

        // The synchronous site has no whole-loop rewrite (only the bounded wait) and stays reported after this fix-all.
        test.FixedState.ExpectedDiagnostics.Add(Verify.Diagnostic().WithSpan(15, 9, 15, 44).WithArguments("loop", "channel.BufferedAmount", ""));
        return test.RunAsync();
    }

    [Fact]
    public Task Fix_AddsNoUsing_WhenAGlobalUsingAlreadyImportsTheRuntime()
    {
        var test = new Verify.Test();
        test.TestState.Sources.Add(("/0/Usings.cs", "global using Backpressure;\n"));
        test.TestState.Sources.Add(("/0/Sender.cs", """
            using System.Threading.Tasks;
            using Acme.Transport;

            class Sender
            {
                async Task PumpAsync(MessageChannel channel)
                {
                    [|while (channel.BufferedAmount > 10)|] await Task.Delay(1);
                }
            }
            """));
        test.FixedState.Sources.Add(("/0/Usings.cs", "global using Backpressure;\n"));
        test.FixedState.Sources.Add(("/0/Sender.cs", """
            using System.Threading.Tasks;
            using Acme.Transport;

            class Sender
            {
                async Task PumpAsync(MessageChannel channel)
                {
                    await channel.AsBufferedChannel().WaitForBufferedAmountLowAsync(10);
                }
            }
            """));
        return test.RunAsync();
    }
}
