using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.Linq;
using System.Text;
using System.Threading;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Text;

namespace Backpressure.Analyzers.Adapters;

/// <summary>
/// Writes, for every channel type user code calls <c>AsBufferedChannel()</c> on, a strongly typed adapter
/// to the runtime's <c>IBufferedChannel</c> and the extension method that returns it: no reflection, one
/// adapter per channel object. A type that cannot be adapted gets BP0002, which says what it lacks.
/// </summary>
[Generator(LanguageNames.CSharp)]
public sealed class ChannelAdapterGenerator : IIncrementalGenerator
{
    /// <summary>The tracking name of the step that turns call sites into adapter requests (for caching tests).</summary>
    public const string RequestsStep = "AdapterRequests";

    /// <summary>The tracking name of the step that gathers the distinct requests.</summary>
    public const string DistinctStep = "DistinctAdapters";

    /// <inheritdoc/>
    public void Initialize(IncrementalGeneratorInitializationContext context)
    {
        var runtimeReferenced = context.CompilationProvider
            .Select(static (compilation, _) => compilation.GetTypeByMetadataName("Backpressure.IBufferedChannel") is not null);

        var requests = context.SyntaxProvider
            .CreateSyntaxProvider(static (node, _) => IsAdapterCall(node), static (syntax, cancellationToken) => ToRequest(syntax, cancellationToken))
            .Where(static request => request is not null)
            .Select(static (request, _) => request!)
            .WithTrackingName(RequestsStep);

        var distinct = requests.Collect()
            .Select(static (all, _) => new EquatableArray<AdapterRequest>(all.GroupBy(r => r.Binding.TypeName, StringComparer.Ordinal).Select(g => g.First()).OrderBy(r => r.Binding.TypeName, StringComparer.Ordinal)))
            .WithTrackingName(DistinctStep);

        context.RegisterSourceOutput(distinct.Combine(runtimeReferenced), static (output, input) => Emit(output, input.Left, input.Right));
    }

    private static bool IsAdapterCall(SyntaxNode node) =>
        node is InvocationExpressionSyntax
        {
            ArgumentList.Arguments.Count: 0,
            Expression: MemberAccessExpressionSyntax { Name.Identifier.ValueText: PollingAnalysis.AdapterMethodName },
        };

    private static AdapterRequest? ToRequest(GeneratorSyntaxContext syntax, CancellationToken cancellationToken)
    {
        var invocation = (InvocationExpressionSyntax)syntax.Node;
        var receiver = ((MemberAccessExpressionSyntax)invocation.Expression).Expression;

        // A call that already binds goes to an adapter somebody wrote: not ours to generate.
        if (syntax.SemanticModel.GetSymbolInfo(invocation, cancellationToken).Symbol is not null
            || syntax.SemanticModel.GetTypeInfo(receiver, cancellationToken).Type is not INamedTypeSymbol type
            || type.TypeKind == TypeKind.Error
            || type.AllInterfaces.Any(i => i.ToDisplayString() == "Backpressure.IBufferedChannel"))
        {
            return null;
        }

        var binding = ChannelShapeBinder.Bind(type, syntax.SemanticModel.Compilation);
        return new AdapterRequest(binding, LocationInfo.From(invocation));
    }

    private static void Emit(SourceProductionContext output, EquatableArray<AdapterRequest> requests, bool runtimeReferenced)
    {
        if (!runtimeReferenced || requests.Count == 0)
        {
            return;
        }

        var extensions = new StringBuilder();
        foreach (var request in requests)
        {
            output.CancellationToken.ThrowIfCancellationRequested();
            if (request.Binding.Shape is not { } shape)
            {
                var displayName = request.Binding.TypeName.Replace("global::", string.Empty);
                output.ReportDiagnostic(Diagnostic.Create(DiagnosticDescriptors.ChannelNotAdaptable, request.Location.ToLocation(), displayName, request.Binding.Missing));
                continue;
            }

            output.AddSource(shape.AdapterName + ".g.cs", SourceText.From(AdapterEmitter.Adapter(shape), Encoding.UTF8));
            extensions.Append(AdapterEmitter.Extension(shape));
        }

        if (extensions.Length > 0)
        {
            output.AddSource("GeneratedChannelAdapters.g.cs", SourceText.From(AdapterEmitter.ExtensionsClass(extensions.ToString()), Encoding.UTF8));
        }
    }
}

/// <summary>One call site's request: the binding of its receiver's type, and where to report a failure.</summary>
internal sealed record AdapterRequest(BindingResult Binding, LocationInfo Location);

/// <summary>A location as plain values, so requests compare equal across runs.</summary>
internal sealed record LocationInfo(string FilePath, TextSpan Span, LinePositionSpan Lines)
{
    public static LocationInfo From(SyntaxNode node)
    {
        var location = node.GetLocation();
        return new LocationInfo(node.SyntaxTree.FilePath, location.SourceSpan, location.GetLineSpan().Span);
    }

    public Location ToLocation() => Location.Create(FilePath, Span, Lines);
}

/// <summary>An immutable array compared by its elements, for incremental pipeline values.</summary>
internal readonly struct EquatableArray<T> : IEquatable<EquatableArray<T>>, IEnumerable<T>
    where T : IEquatable<T>
{
    private readonly ImmutableArray<T> _items;

    public EquatableArray(IEnumerable<T> items) => _items = items.ToImmutableArray();

    public int Count => _items.IsDefault ? 0 : _items.Length;

    public bool Equals(EquatableArray<T> other) => (_items.IsDefault ? ImmutableArray<T>.Empty : _items).SequenceEqual(other._items.IsDefault ? ImmutableArray<T>.Empty : other._items);

    public override bool Equals(object? obj) => obj is EquatableArray<T> other && Equals(other);

    public override int GetHashCode()
    {
        var hash = 17;
        foreach (var item in this)
        {
            hash = (hash * 31) + item.GetHashCode();
        }

        return hash;
    }

    public IEnumerator<T> GetEnumerator() => ((IEnumerable<T>)(_items.IsDefault ? ImmutableArray<T>.Empty : _items)).GetEnumerator();

    System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
}
