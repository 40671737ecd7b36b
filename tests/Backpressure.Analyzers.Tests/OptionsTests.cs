using Microsoft.CodeAnalysis.Testing;
using Verify = Backpressure.Analyzers.Tests.CSharpAnalyzerVerifier<Backpressure.Analyzers.BP0001BufferedAmountPollingAnalyzer>;

namespace Backpressure.Analyzers.Tests;

public sealed class OptionsTests
{
    private const string Source = """
        using System.Threading.Tasks;
        using Acme.Transport;

        class Sender
        {
            async Task PumpAsync(MessageChannel channel)
            {
                {|#0:while (channel.BufferedAmount > 10)|} await Task.Delay(1);
                {|#1:while (channel.QueuedBytes > 10)|} await Task.Delay(1);
            }
        }
        """;

    [Fact]
    public Task MemberNames_ReplacesTheDefault_WideningToQueuedBytesAndNarrowingAwayBufferedAmount()
    {
        var test = new Verify.Test { TestCode = Source };
        test.TestState.AnalyzerConfigFiles.Add(("/.editorconfig", """
            root = true

            [*.cs]
            BP0001.member_names = QueuedBytes, PendingBytes
            """));
        test.ExpectedDiagnostics.Add(Verify.Diagnostic().WithLocation(1).WithArguments("loop", "channel.QueuedBytes", "").WithOptions(DiagnosticOptions.IgnoreAdditionalLocations));
        return test.RunAsync();
    }

    [Fact]
    public Task MemberNames_CanListBoth()
    {
        var test = new Verify.Test { TestCode = Source };
        test.TestState.AnalyzerConfigFiles.Add(("/.editorconfig", """
            root = true

            [*.cs]
            bp0001.member_names = bufferedamount queuedbytes
            """));
        test.ExpectedDiagnostics.Add(Verify.Diagnostic().WithLocation(0).WithArguments("loop", "channel.BufferedAmount", "").WithOptions(DiagnosticOptions.IgnoreAdditionalLocations));
        test.ExpectedDiagnostics.Add(Verify.Diagnostic().WithLocation(1).WithArguments("loop", "channel.QueuedBytes", "").WithOptions(DiagnosticOptions.IgnoreAdditionalLocations));
        return test.RunAsync();
    }

    [Fact]
    public Task Severity_None_SilencesTheRule()
    {
        var test = new Verify.Test { TestCode = Source.Replace("{|#0:", string.Empty).Replace("{|#1:", string.Empty).Replace(")|}", ")") };
        test.TestState.AnalyzerConfigFiles.Add(("/.editorconfig", """
            root = true

            [*.cs]
            dotnet_diagnostic.BP0001.severity = none
            """));
        return test.RunAsync();
    }
}
