using Microsoft.CodeAnalysis;

namespace Backpressure.Analyzers;

/// <summary>The types the rule recognises, resolved once per compilation.</summary>
internal sealed class WellKnownTypes
{
    private WellKnownTypes(Compilation compilation)
    {
        Task = compilation.GetTypeByMetadataName("System.Threading.Tasks.Task");
        Thread = compilation.GetTypeByMetadataName("System.Threading.Thread");
        SpinWait = compilation.GetTypeByMetadataName("System.Threading.SpinWait");
        ThreadingTimer = compilation.GetTypeByMetadataName("System.Threading.Timer");
        TimersTimer = compilation.GetTypeByMetadataName("System.Timers.Timer");
        PeriodicTimer = compilation.GetTypeByMetadataName("System.Threading.PeriodicTimer");
        CancellationToken = compilation.GetTypeByMetadataName("System.Threading.CancellationToken");
        BufferedChannel = compilation.GetTypeByMetadataName("Backpressure.IBufferedChannel");
    }

    public INamedTypeSymbol? Task { get; }

    public INamedTypeSymbol? Thread { get; }

    public INamedTypeSymbol? SpinWait { get; }

    public INamedTypeSymbol? ThreadingTimer { get; }

    public INamedTypeSymbol? TimersTimer { get; }

    public INamedTypeSymbol? PeriodicTimer { get; }

    public INamedTypeSymbol? CancellationToken { get; }

    /// <summary>Gets the runtime's channel contract, or null when the runtime is not referenced (then nothing is fixable).</summary>
    public INamedTypeSymbol? BufferedChannel { get; }

    /// <summary>Returns null when the compilation has neither tasks nor threads: then nothing in it can wait on a timer.</summary>
    public static WellKnownTypes? Create(Compilation compilation)
    {
        var types = new WellKnownTypes(compilation);
        return types.Task is null && types.Thread is null ? null : types;
    }
}
