using System.Collections.Immutable;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Diagnostics;

namespace Backpressure.Analyzers;

/// <summary>
/// BP0001: a time-based wait (<c>Task.Delay</c>, <c>Thread.Sleep</c>, <c>Task.Yield</c>, spinning, a timer
/// re-schedule) controlled by a comparison on a channel's buffered amount: polling for the send queue to
/// drain where the channel's low-buffer event should be awaited.
/// </summary>
[DiagnosticAnalyzer(LanguageNames.CSharp)]
public sealed class BP0001BufferedAmountPollingAnalyzer : DiagnosticAnalyzer
{
    /// <inheritdoc/>
    public override ImmutableArray<DiagnosticDescriptor> SupportedDiagnostics { get; } =
        ImmutableArray.Create(DiagnosticDescriptors.BufferedAmountPolling);

    /// <inheritdoc/>
    public override void Initialize(AnalysisContext context)
    {
        context.EnableConcurrentExecution();
        context.ConfigureGeneratedCodeAnalysis(GeneratedCodeAnalysisFlags.None);
        context.RegisterCompilationStartAction(static start =>
        {
            var types = WellKnownTypes.Create(start.Compilation);
            if (types is null)
            {
                return;
            }

            var analysis = new PollingAnalysis(start.Compilation, types, start.Options.AnalyzerConfigOptionsProvider);
            start.RegisterSemanticModelAction(analysis.AnalyzeSemanticModel);
        });
    }
}
