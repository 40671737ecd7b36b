using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Operations;

namespace Backpressure.Analyzers;

/// <summary>
/// Where "is there anything to do" comes from: whether a condition reads a drainable source's emptiness
/// (<c>TryDequeue</c> and its kin returning false, <c>Count == 0</c>, <c>IsEmpty</c>, <c>Available == 0</c>).
/// </summary>
internal sealed partial class QueuePollingAnalysis
{
    internal enum SourceKind
    {
        ConcurrentQueue,
        ConcurrentBag,
        ConcurrentStack,
        Queue,
        BlockingCollection,
        ChannelReader,
        Socket,
    }

    /// <summary>
    /// What a boolean value says about a source: <see cref="EmptyWhenTrue"/>, the source is empty when the value is
    /// true; <see cref="EmptyWhenFalse"/> likewise for false. <see cref="Source"/> is the receiver the test reads,
    /// <see cref="Test"/> the call or property read itself.
    /// </summary>
    internal readonly record struct EmptinessTest(IOperation Test, IOperation Source, SourceKind Kind, bool EmptyWhenTrue, bool EmptyWhenFalse);

    private bool TryGetEmptinessTest(IOperation? condition, out EmptinessTest test)
    {
        test = default;
        switch (Strip(condition))
        {
            case IUnaryOperation { OperatorKind: UnaryOperatorKind.Not } not:
                if (!TryGetEmptinessTest(not.Operand, out test))
                {
                    return false;
                }

                test = test with { EmptyWhenTrue = test.EmptyWhenFalse, EmptyWhenFalse = test.EmptyWhenTrue };
                return true;

            case IBinaryOperation { OperatorKind: BinaryOperatorKind.ConditionalAnd or BinaryOperatorKind.ConditionalOr or BinaryOperatorKind.And or BinaryOperatorKind.Or } logical
                when logical.Type?.SpecialType == SpecialType.System_Boolean:
                // As BP0001's amount tests combine: in `!q.TryDequeue(out x) && !ct.IsCancellationRequested` true says "empty", false nothing.
                var hasLeft = TryGetEmptinessTest(logical.LeftOperand, out var left);
                var hasRight = TryGetEmptinessTest(logical.RightOperand, out var right);
                if (!hasLeft && !hasRight)
                {
                    return false;
                }

                var and = logical.OperatorKind is BinaryOperatorKind.ConditionalAnd or BinaryOperatorKind.And;
                test = hasLeft ? left : right;
                test = and
                    ? test with { EmptyWhenTrue = left.EmptyWhenTrue || right.EmptyWhenTrue, EmptyWhenFalse = left.EmptyWhenFalse && right.EmptyWhenFalse }
                    : test with { EmptyWhenTrue = left.EmptyWhenTrue && right.EmptyWhenTrue, EmptyWhenFalse = left.EmptyWhenFalse || right.EmptyWhenFalse };
                return test.EmptyWhenTrue || test.EmptyWhenFalse;

            case IInvocationOperation { Instance: { } instance, TargetMethod: { Name: "TryDequeue" or "TryTake" or "TryPeek" or "TryPop" or "TryRead" } method } take
                when SourceOf(instance, method.ContainingType) is { } kind
                    // A TryTake with a timeout already waits for the producer.
                    && take.Arguments.Length == 1:
                test = new EmptinessTest(take, instance, kind, EmptyWhenTrue: false, EmptyWhenFalse: true);
                return true;

            case IPropertyReferenceOperation { Instance: { } instance, Property.Name: "IsEmpty" } isEmpty
                when SourceOf(instance, isEmpty.Property.ContainingType) is { } kind:
                test = new EmptinessTest(isEmpty, instance, kind, EmptyWhenTrue: true, EmptyWhenFalse: false);
                return true;

            case IPropertyReferenceOperation { Instance: { } instance, Property.Name: "DataAvailable" } available
                when Is(available.Property.ContainingType, _sources.NetworkStream):
                test = new EmptinessTest(available, instance, SourceKind.Socket, EmptyWhenTrue: false, EmptyWhenFalse: true);
                return true;

            case IBinaryOperation binary:
                return TryGetCountTest(binary, out test);

            case IIsPatternOperation { Value: var value, Pattern: var pattern }:
                return TryGetCountPatternTest(value, pattern, out test);

            default:
                return false;
        }
    }

    /// <summary><c>q.Count == 0</c>, <c>0 &lt; q.Count</c>, <c>socket.Available &gt; 0</c>: only against 0 or 1, which ask "empty?". <c>Count &gt; 100</c> asks something else.</summary>
    private bool TryGetCountTest(IBinaryOperation binary, out EmptinessTest test)
    {
        test = default;
        BinaryOperatorKind relation;
        IPropertyReferenceOperation count;
        IOperation other;
        if (CountOf(binary.LeftOperand) is { } left)
        {
            (count, other, relation) = (left, binary.RightOperand, binary.OperatorKind);
        }
        else if (CountOf(binary.RightOperand) is { } right)
        {
            (count, other, relation) = (right, binary.LeftOperand, Mirror(binary.OperatorKind));
        }
        else
        {
            return false;
        }

        if (Strip(other)?.ConstantValue is not { HasValue: true, Value: int threshold })
        {
            return false;
        }

        bool? emptyWhenTrue = (relation, threshold) switch
        {
            (BinaryOperatorKind.Equals, 0) or (BinaryOperatorKind.LessThanOrEqual, 0) or (BinaryOperatorKind.LessThan, 1) => true,
            (BinaryOperatorKind.NotEquals, 0) or (BinaryOperatorKind.GreaterThan, 0) or (BinaryOperatorKind.GreaterThanOrEqual, 1) => false,
            _ => null,
        };

        if (emptyWhenTrue is not { } empty || !TrySource(count, out var source, out var kind))
        {
            return false;
        }

        test = new EmptinessTest(binary, source, kind, empty, !empty);
        return true;
    }

    /// <summary><c>q.Count is 0</c>, <c>q.Count is &gt; 0</c>, <c>q.Count is not 0</c>.</summary>
    private bool TryGetCountPatternTest(IOperation value, IPatternOperation pattern, out EmptinessTest test)
    {
        test = default;
        var negated = false;
        while (pattern is INegatedPatternOperation negation)
        {
            negated = !negated;
            pattern = negation.Pattern;
        }

        if (CountOf(value) is not { } count || !TrySource(count, out var source, out var kind))
        {
            return false;
        }

        bool? emptyWhenTrue = pattern switch
        {
            IConstantPatternOperation { Value.ConstantValue: { HasValue: true, Value: 0 } } => true,
            IRelationalPatternOperation { OperatorKind: BinaryOperatorKind.GreaterThan, Value.ConstantValue: { HasValue: true, Value: 0 } } => false,
            IRelationalPatternOperation { OperatorKind: BinaryOperatorKind.GreaterThanOrEqual, Value.ConstantValue: { HasValue: true, Value: 1 } } => false,
            _ => null,
        };

        if (emptyWhenTrue is not { } empty)
        {
            return false;
        }

        empty ^= negated;
        test = new EmptinessTest(pattern.Parent ?? pattern, source, kind, empty, !empty);
        return true;
    }

    /// <summary>The <c>Count</c> or <c>Available</c> read an operand is, with its implicit widening stripped.</summary>
    private static IPropertyReferenceOperation? CountOf(IOperation operand) =>
        Strip(operand) is IPropertyReferenceOperation { Property.Name: "Count" or "Available", Instance: not null } property ? property : null;

    private bool TrySource(IPropertyReferenceOperation count, out IOperation source, out SourceKind kind)
    {
        source = count.Instance!;
        if (count.Property.Name == "Available")
        {
            kind = SourceKind.Socket;
            return Is(count.Property.ContainingType, _sources.Socket) || Is(count.Property.ContainingType, _sources.UdpClient) || Is(count.Property.ContainingType, _sources.TcpClient);
        }

        var found = SourceOf(source, count.Property.ContainingType);
        kind = found.GetValueOrDefault();
        return found is not null;
    }

    /// <summary>Which drainable source a member of <paramref name="declaringType"/> read on <paramref name="instance"/> is, if any.</summary>
    private SourceKind? SourceOf(IOperation instance, INamedTypeSymbol declaringType)
    {
        SourceKind? kind = declaringType.OriginalDefinition switch
        {
            var t when Is(t, _sources.ConcurrentQueue) => SourceKind.ConcurrentQueue,
            var t when Is(t, _sources.ConcurrentBag) => SourceKind.ConcurrentBag,
            var t when Is(t, _sources.ConcurrentStack) => SourceKind.ConcurrentStack,
            var t when Is(t, _sources.BlockingCollection) => SourceKind.BlockingCollection,
            var t when Is(t, _sources.Queue) => SourceKind.Queue,
            var t when Is(t, _sources.ChannelReader) => SourceKind.ChannelReader,
            _ => null,
        };

        // A Queue<T> read outside a lock is a worklist this thread fills itself: sleeping while it is empty waits for nobody.
        if (kind == SourceKind.Queue && !UnderLock(instance))
        {
            return null;
        }

        return kind;
    }

    private static bool UnderLock(IOperation operation)
    {
        for (var parent = operation.Parent; parent is not null and not IAnonymousFunctionOperation and not ILocalFunctionOperation; parent = parent.Parent)
        {
            if (parent is ILockOperation)
            {
                return true;
            }
        }

        return false;
    }

    private static BinaryOperatorKind Mirror(BinaryOperatorKind kind) => kind switch
    {
        BinaryOperatorKind.GreaterThan => BinaryOperatorKind.LessThan,
        BinaryOperatorKind.GreaterThanOrEqual => BinaryOperatorKind.LessThanOrEqual,
        BinaryOperatorKind.LessThan => BinaryOperatorKind.GreaterThan,
        BinaryOperatorKind.LessThanOrEqual => BinaryOperatorKind.GreaterThanOrEqual,
        _ => kind,
    };

    private static IOperation? Strip(IOperation? operation)
    {
        while (operation is IConversionOperation conversion)
        {
            operation = conversion.Operand;
        }

        return operation;
    }

    private static bool Is(ITypeSymbol? type, INamedTypeSymbol? expected) =>
        expected is not null && SymbolEqualityComparer.Default.Equals(type?.OriginalDefinition, expected);

    /// <summary>The source types, resolved once per compilation.</summary>
    internal sealed class DrainableSources
    {
        private DrainableSources(Compilation compilation)
        {
            ConcurrentQueue = compilation.GetTypeByMetadataName("System.Collections.Concurrent.ConcurrentQueue`1");
            ConcurrentBag = compilation.GetTypeByMetadataName("System.Collections.Concurrent.ConcurrentBag`1");
            ConcurrentStack = compilation.GetTypeByMetadataName("System.Collections.Concurrent.ConcurrentStack`1");
            BlockingCollection = compilation.GetTypeByMetadataName("System.Collections.Concurrent.BlockingCollection`1");
            Queue = compilation.GetTypeByMetadataName("System.Collections.Generic.Queue`1");
            ChannelReader = compilation.GetTypeByMetadataName("System.Threading.Channels.ChannelReader`1");
            Socket = compilation.GetTypeByMetadataName("System.Net.Sockets.Socket");
            UdpClient = compilation.GetTypeByMetadataName("System.Net.Sockets.UdpClient");
            TcpClient = compilation.GetTypeByMetadataName("System.Net.Sockets.TcpClient");
            NetworkStream = compilation.GetTypeByMetadataName("System.Net.Sockets.NetworkStream");
            SemaphoreSlim = compilation.GetTypeByMetadataName("System.Threading.SemaphoreSlim");
        }

        public INamedTypeSymbol? ConcurrentQueue { get; }

        public INamedTypeSymbol? ConcurrentBag { get; }

        public INamedTypeSymbol? ConcurrentStack { get; }

        public INamedTypeSymbol? BlockingCollection { get; }

        public INamedTypeSymbol? Queue { get; }

        public INamedTypeSymbol? ChannelReader { get; }

        public INamedTypeSymbol? Socket { get; }

        public INamedTypeSymbol? UdpClient { get; }

        public INamedTypeSymbol? TcpClient { get; }

        public INamedTypeSymbol? NetworkStream { get; }

        public INamedTypeSymbol? SemaphoreSlim { get; }

        /// <summary>Returns null when the compilation has none of the sources: then nothing in it can poll one.</summary>
        public static DrainableSources? Create(Compilation compilation)
        {
            var sources = new DrainableSources(compilation);
            return sources.ConcurrentQueue is null && sources.Queue is null && sources.ChannelReader is null && sources.Socket is null ? null : sources;
        }
    }
}
