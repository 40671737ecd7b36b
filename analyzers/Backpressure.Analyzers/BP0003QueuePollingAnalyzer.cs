using System.Collections.Immutable;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Diagnostics;

namespace Backpressure.Analyzers;

/// <summary>
/// BP0003: a time-based wait repeated under the control of a drainable source's emptiness (a queue's
/// <c>TryDequeue</c> failing, <c>Count == 0</c>, <c>IsEmpty</c>, a socket's <c>Available == 0</c>): a consumer
/// polling for something to arrive where the producer could wake it.
/// </summary>
[DiagnosticAnalyzer(LanguageNames.CSharp)]
public sealed class BP0003QueuePollingAnalyzer : DiagnosticAnalyzer
{
    /// <inheritdoc/>
    public override ImmutableArray<DiagnosticDescriptor> SupportedDiagnostics { get; } =
        ImmutableArray.Create(DiagnosticDescriptors.QueuePolling);

    /// <inheritdoc/>
    public override void Initialize(AnalysisContext context)
    {
        context.EnableConcurrentExecution();
        context.ConfigureGeneratedCodeAnalysis(GeneratedCodeAnalysisFlags.None);
        context.RegisterCompilationStartAction(static start =>
        {
            var types = WellKnownTypes.Create(start.Compilation);
            var sources = QueuePollingAnalysis.DrainableSources.Create(start.Compilation);
            if (types is null || sources is null)
            {
                return;
            }

            // The waits are BP0001's (the same engine finds them); only the test that controls them differs.
            var waits = new PollingAnalysis(start.Compilation, types, start.Options.AnalyzerConfigOptionsProvider);
            var analysis = new QueuePollingAnalysis(start.Compilation, sources, waits);
            start.RegisterSemanticModelAction(analysis.AnalyzeSemanticModel);
        });
    }
}
