using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.FlowAnalysis;
using Microsoft.CodeAnalysis.Operations;

namespace Backpressure.Analyzers;

/// <summary>
/// Detection on the control-flow graph: a timed wait is polling when it is reached only along the branch of a
/// test that says "keep waiting": for BP0001 the buffered amount is high, for BP0003 a queue is empty (each rule
/// brings its own <see cref="TestReader{TTest}"/>). The loop around it, its deadline, null test, counters and
/// guards are other branches of the same graph, so none of them needs a shape of its own.
/// </summary>
internal sealed partial class PollingAnalysis
{
    /// <summary>
    /// BP0001 on one file, entered once per file rather than once per member: the file's text says where it may
    /// wait (or tick, or spin), and only the members around those places are looked at, bound, and given a graph.
    /// A build that runs the rule makes no operation tree, and no callback, for the thousands of members that
    /// cannot poll an amount.
    /// </summary>
    public void AnalyzeSemanticModel(SemanticModelAnalysisContext context)
    {
        var cancellationToken = context.CancellationToken;
        var model = context.SemanticModel;
        if (!TryGetTree(model.SyntaxTree, cancellationToken, out var tree))
        {
            return;
        }

        var index = tree.Index!;
        foreach (var (block, owner) in CodeBlocksAround(model, index, NameIndex.WaitNames.Concat(TimerDriven), cancellationToken))
        {
            if (!index.NamesAny(block.Span, tree.AmountNames))
            {
                continue;
            }

            var timers = index.NamesAny(block.Span, TimerDriven);
            ForEachWaitingGraph(
                block, owner, model, index.MayWait(block.Span), cancellationToken,
                (graph, graphModel, waits) => ReportControlledWaits(graph, graphModel, waits, owner, tree.Matcher, context.ReportDiagnostic),
                timers ? operation => AnalyzeTimerDriven(operation, tree, owner, context.ReportDiagnostic) : null);
        }
    }

    /// <summary>
    /// The code blocks of a file around the places it names any of <paramref name="names"/>, each once, in file order,
    /// with the symbol that owns each: the only members a rule entered once per file needs to bind.
    /// </summary>
    internal static IEnumerable<(SyntaxNode Block, ISymbol Owner)> CodeBlocksAround(
        SemanticModel model, NameIndex index, IEnumerable<string> names, CancellationToken cancellationToken)
    {
        var root = model.SyntaxTree.GetRoot(cancellationToken);
        var blocks = new Dictionary<SyntaxNode, SyntaxNode>();
        foreach (var position in names.SelectMany(index.Positions))
        {
            if (CodeBlockAt(root.FindToken(position)) is ({ } block, { } key) && !blocks.ContainsKey(key))
            {
                blocks.Add(key, block);
            }
        }

        foreach (var entry in blocks.OrderBy(b => b.Key.SpanStart))
        {
            if (OwnerOf(entry.Key, model, cancellationToken) is { } owner)
            {
                yield return (entry.Value, owner);
            }
        }
    }

    /// <summary>
    /// The code block a token sits in, as the compiler divides a file into them: a method's, constructor's, operator's or
    /// accessor's declaration, a property's initializer and expression body, a field's initializer (the declaration,
    /// keyed by the declarator, which owns it), or the top-level statements. Lambdas and local functions belong to the
    /// block around them. Null outside any (an attribute, a base list).
    /// </summary>
    private static (SyntaxNode? Block, SyntaxNode? Key) CodeBlockAt(SyntaxToken token)
    {
        for (var node = token.Parent; node is not null; node = node.Parent)
        {
            switch (node)
            {
                case AccessorDeclarationSyntax or BaseMethodDeclarationSyntax:
                    return (node, node);
                case ArrowExpressionClauseSyntax { Parent: BasePropertyDeclarationSyntax property }:
                    return (property, property);
                case EqualsValueClauseSyntax { Parent: PropertyDeclarationSyntax property }:
                    return (property, property);
                case EqualsValueClauseSyntax { Parent: VariableDeclaratorSyntax { Parent.Parent: BaseFieldDeclarationSyntax field } declarator }:
                    return (field, declarator);
                case GlobalStatementSyntax { Parent: CompilationUnitSyntax unit }:
                    return (unit, unit);
                case MemberDeclarationSyntax or AttributeListSyntax or ParameterSyntax:
                    return (null, null);
            }
        }

        return (null, null);
    }

    /// <summary>The symbol that owns a code block: the member, the field of a declarator, or the top-level statements' entry point.</summary>
    private static ISymbol? OwnerOf(SyntaxNode key, SemanticModel model, CancellationToken cancellationToken) => key switch
    {
        CompilationUnitSyntax unit => unit.Members.OfType<GlobalStatementSyntax>().FirstOrDefault() is { } first
            ? model.GetEnclosingSymbol(first.SpanStart, cancellationToken)
            : null,
        _ => model.GetDeclaredSymbol(key, cancellationToken),
    };

    /// <summary>
    /// Hands every graph of the code block (the function's, then its lambdas' and local functions') that makes a timed
    /// wait to <paramref name="onWaits"/>, with the waits and the block each sits in; and each root operation to
    /// <paramref name="onRoot"/> when a rule wants the tree too. <paramref name="waits"/>: whether the block's syntax
    /// may make a timed wait at all. The caller's cheap syntax filter has already passed:
    /// from here on the member is bound. The rules differ only in what they do with the waits.
    /// </summary>
    internal void ForEachWaitingGraph(
        SyntaxNode codeBlock, ISymbol owner, SemanticModel model, bool waits, CancellationToken cancellationToken,
        Action<ControlFlowGraph, SemanticModel, IReadOnlyList<(int Block, IOperation Wait)>> onWaits, Action<IOperation>? onRoot = null)
    {
        if (!waits && onRoot is null)
        {
            return;
        }

        foreach (var root in GraphRoots(codeBlock, owner, model, cancellationToken))
        {
            onRoot?.Invoke(root);
            if (waits && CreateGraph(root, cancellationToken) is { } graph)
            {
                AnalyzeGraph(graph, model, owner, owner, onWaits, cancellationToken);
            }
        }
    }

    /// <summary>
    /// The roots of the code a declaration executes, each once (a constructor's initializer and body are one
    /// graph, a method's body and its block too).
    /// </summary>
    private static IEnumerable<IOperation> GraphRoots(SyntaxNode codeBlock, ISymbol owner, SemanticModel model, CancellationToken cancellationToken)
    {
        // The declaration's own operation where it has one (a method body); otherwise its initializer and expression
        // body. A field declaration is the code block of each of its fields: only the owner's declarator is its code.
        IEnumerable<SyntaxNode?> parts = codeBlock is BaseFieldDeclarationSyntax field
            ? field.Declaration.Variables.Where(v => owner.Locations.Any(l => l.SourceSpan == v.Identifier.Span)).Select(v => (SyntaxNode?)v.Initializer)
            : codeBlock.ChildNodes().Where(c => c is EqualsValueClauseSyntax or ArrowExpressionClauseSyntax or BlockSyntax).Prepend(codeBlock);
        var roots = new HashSet<IOperation>();
        foreach (var part in parts.OfType<SyntaxNode>())
        {
            if (model.GetOperation(part, cancellationToken) is { } operation && Root(operation) is var root && HasGraph(root) && roots.Add(root))
            {
                yield return root;
            }
        }
    }

    private static ControlFlowGraph? CreateGraph(IOperation root, CancellationToken cancellationToken) => root switch
    {
        IMethodBodyOperation body => ControlFlowGraph.Create(body, cancellationToken),
        IConstructorBodyOperation body => ControlFlowGraph.Create(body, cancellationToken),
        IFieldInitializerOperation initializer => ControlFlowGraph.Create(initializer, cancellationToken),
        IPropertyInitializerOperation initializer => ControlFlowGraph.Create(initializer, cancellationToken),
        IParameterInitializerOperation initializer => ControlFlowGraph.Create(initializer, cancellationToken),
        IBlockOperation block => ControlFlowGraph.Create(block, cancellationToken),
        _ => null,
    };

    private static bool HasGraph(IOperation root) =>
        root is IMethodBodyOperation or IConstructorBodyOperation or IFieldInitializerOperation or IPropertyInitializerOperation or IParameterInitializerOperation or IBlockOperation;

    /// <summary>
    /// A graph costs more than the rest of a rule: build one only for code that names a wait (or yields),
    /// which most methods of even a transport's file do not.
    /// </summary>
    private static bool MayWait(SyntaxNode code) => code.DescendantTokens().Any(NameIndex.IsWait);

    private static IOperation Root(IOperation operation)
    {
        while (operation.Parent is { } parent)
        {
            operation = parent;
        }

        return operation;
    }

    /// <summary>One function's graph, then the graphs of the lambdas and local functions it declares: each polls on its own.</summary>
    private void AnalyzeGraph(
        ControlFlowGraph graph, SemanticModel model, ISymbol function, ISymbol owner,
        Action<ControlFlowGraph, SemanticModel, IReadOnlyList<(int Block, IOperation Wait)>> onWaits, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var waits = new List<(int Block, IOperation Wait)>();
        var lambdas = new List<IFlowAnonymousFunctionOperation>();
        var coroutine = IsCoroutine(function);
        foreach (var block in graph.Blocks)
        {
            foreach (var operation in block.Operations)
            {
                CollectWaits(operation, block.Ordinal, model, owner, coroutine, waits, lambdas);
            }

            if (block.BranchValue is { } value)
            {
                CollectWaits(value, block.Ordinal, model, owner, coroutine, waits, lambdas);
            }
        }

        if (waits.Count > 0)
        {
            onWaits(graph, model, waits);
        }

        foreach (var lambda in lambdas.Where(l => MayWait(l.Syntax)))
        {
            AnalyzeGraph(graph.GetAnonymousFunctionControlFlowGraph(lambda, cancellationToken), model, lambda.Symbol, owner, onWaits, cancellationToken);
        }

        foreach (var local in graph.LocalFunctions.Where(l => l.DeclaringSyntaxReferences.Any(r => MayWait(r.GetSyntax(cancellationToken)))))
        {
            AnalyzeGraph(graph.GetLocalFunctionControlFlowGraph(local, cancellationToken), model, local, owner, onWaits, cancellationToken);
        }
    }

    /// <summary>The timed waits an operation of the graph makes, judged on the original tree (where their parents are).</summary>
    private void CollectWaits(
        IOperation root, int block, SemanticModel model, ISymbol owner, bool coroutine, List<(int, IOperation)> waits, List<IFlowAnonymousFunctionOperation> lambdas)
    {
        var stack = new Stack<IOperation>();
        stack.Push(root);
        while (stack.Count > 0)
        {
            var operation = stack.Pop();
            switch (operation)
            {
                case IFlowAnonymousFunctionOperation lambda:
                    lambdas.Add(lambda);
                    continue;
                case IInvocationOperation { TargetMethod.Name: "Delay" or "Yield" or "Sleep" or "SpinWait" or "SpinOnce" or "Change" or "Start" } invocation
                    when model.GetOperation(invocation.Syntax) is IInvocationOperation original && IsTimedWait(original, owner):
                    waits.Add((block, original));
                    break;
                case IReturnOperation { Kind: OperationKind.YieldReturn } yield when coroutine:
                    waits.Add((block, model.GetOperation(yield.Syntax) ?? yield));
                    break;
            }

            foreach (var child in operation.ChildOperations)
            {
                stack.Push(child);
            }
        }
    }

    /// <summary>A Unity-style coroutine: an iterator of the non-generic IEnumerator, resumed once per frame or after its yielded wait.</summary>
    private static bool IsCoroutine(ISymbol function) =>
        function is IMethodSymbol { IsAsync: false, ReturnType: { SpecialType: SpecialType.System_Collections_IEnumerator } } method
        && method.DeclaringSyntaxReferences.Any(r => r.GetSyntax().DescendantNodes().OfType<YieldStatementSyntax>().Any());

    private void ReportControlledWaits(
        ControlFlowGraph graph, SemanticModel model, IReadOnlyList<(int Block, IOperation Wait)> waits, ISymbol owner, BufferedAmountMatcher matcher, Action<Diagnostic> report)
    {
        var sites = FindControlledWaits<AmountTest>(
            graph, model, waits, (IOperation? condition, out AmountTest test, out bool waitWhenTrue) =>
            {
                var found = TryGetAmountTest(condition, matcher, depth: 0, out test);
                waitWhenTrue = test.HighWhenTrue;
                return found;
            });

        foreach (var (construct, branch, siteWaits) in sites)
        {
            var test = branch.Test;
            var (shape, comparison, fix) = model.GetOperation(construct) switch
            {
                ILoopOperation loop and (IWhileLoopOperation or IForLoopOperation) => PlanLoop(loop, matcher, owner),
                IConditionalOperation conditional => PlanConditional(conditional, matcher, owner),
                _ => (PollingSite.Loop, (Comparison?)null, (Fix?)null),
            };

            if (siteWaits.Any(w => w is IReturnOperation))
            {
                shape = PollingSite.Coroutine;
            }

            var kind = construct is IfStatementSyntax ? "if statement" : "loop";
            Report(report, construct, kind, comparison ?? test.Comparison, shape, fix, PlanBoundedWaits(siteWaits, test, model));
        }
    }

    /// <summary>
    /// Reads a branch value (an operation of the original tree, not of the graph) as a test a rule knows, and says
    /// which truth value means "keep waiting": the amount is high (BP0001), the queue is empty (BP0003).
    /// </summary>
    internal delegate bool TestReader<TTest>(IOperation? condition, out TTest test, out bool waitWhenTrue);

    /// <summary>A branch of the graph on a test, with how far each block is along its "keep waiting" edge and along the other one.</summary>
    /// <remarks>
    /// A wait is controlled by the branch when it is reached from the waiting edge and not from the other one, and
    /// either leads back to the test (it repeats: a loop) or is where the waiting edge always goes (it is the branch's
    /// own: <c>if (amount &gt; x) await Task.Delay(50);</c>, the setTimeout twin). Code after a wait loop is reached only
    /// through its exit edge too, but it neither repeats nor always follows, so it is not that loop's wait.
    /// </remarks>
    internal sealed record ControllingBranch<TTest>(TTest Test, SyntaxNode Condition, BasicBlock Block, BasicBlock? Waiting, int[] FromWaiting, int[] FromOther);

    /// <summary>
    /// The detection, shared by every rule that reports a timed wait controlled by a test: for each wait, the innermost
    /// branch that <paramref name="read"/> recognises and that controls it, grouped into one site per construct (the
    /// loop or if whose test it is), in source order.
    /// </summary>
    internal static List<(SyntaxNode Construct, ControllingBranch<TTest> Branch, List<IOperation> Waits)> FindControlledWaits<TTest>(
        ControlFlowGraph graph, SemanticModel model, IReadOnlyList<(int Block, IOperation Wait)> waits, TestReader<TTest> read)
    {
        var result = new List<(SyntaxNode, ControllingBranch<TTest>, List<IOperation>)>();
        var branches = Branches(graph, model, read);
        if (branches.Count == 0)
        {
            return result;
        }

        var sites = new Dictionary<SyntaxNode, (ControllingBranch<TTest> Branch, List<IOperation> Waits)>();
        foreach (var (block, wait) in waits)
        {
            int[]? after = null; // how far the wait leads on: computed once, for the first branch that needs it
            (ControllingBranch<TTest> Branch, int Distance)? best = null;
            foreach (var branch in branches)
            {
                var distance = branch.FromWaiting[block];
                if (distance >= 0 && branch.FromOther[block] < 0 && (best is null || distance < best.Value.Distance)
                    && (block == branch.Block.Ordinal
                        || (after ??= Distances(graph, graph.Blocks[block], test: null))[branch.Block.Ordinal] > 0
                        || AlwaysReaches(graph, branch.Waiting!, block, branch.Block)))
                {
                    best = (branch, distance);
                }
            }

            if (best is { } controlling)
            {
                var construct = Construct(controlling.Branch.Condition, wait.Syntax);
                if (!sites.TryGetValue(construct, out var site))
                {
                    sites[construct] = site = (controlling.Branch, new List<IOperation>());
                }

                site.Waits.Add(wait);
            }
        }

        foreach (var construct in sites.Keys.OrderBy(c => c.SpanStart))
        {
            result.Add((construct, sites[construct].Branch, sites[construct].Waits));
        }

        return result;
    }

    /// <summary>Whether the wait in block <paramref name="wait"/> leads back to the branch's test: it repeats, rather than waits once.</summary>
    internal static bool Repeats(ControlFlowGraph graph, int wait, BasicBlock test) =>
        wait == test.Ordinal || Distances(graph, graph.Blocks[wait], test: null)[test.Ordinal] > 0;

    private static List<ControllingBranch<TTest>> Branches<TTest>(ControlFlowGraph graph, SemanticModel model, TestReader<TTest> read)
    {
        var branches = new List<ControllingBranch<TTest>>();
        foreach (var block in graph.Blocks)
        {
            if (block is not { BranchValue: { } value, ConditionalSuccessor: { } conditional, FallThroughSuccessor: { } fallThrough }
                || !read(model.GetOperation(value.Syntax), out var test, out var waitWhenTrue))
            {
                continue;
            }

            var whenTrue = block.ConditionKind == ControlFlowConditionKind.WhenTrue ? conditional.Destination : fallThrough.Destination;
            var whenFalse = block.ConditionKind == ControlFlowConditionKind.WhenTrue ? fallThrough.Destination : conditional.Destination;
            var (waiting, other) = waitWhenTrue ? (whenTrue, whenFalse) : (whenFalse, whenTrue);
            branches.Add(new ControllingBranch<TTest>(test, value.Syntax, block, waiting, Distances(graph, waiting, block), Distances(graph, other, block)));
        }

        return branches;
    }

    /// <summary>
    /// Whether every path from <paramref name="start"/> meets block <paramref name="wait"/> before it leaves the
    /// function (returns, throws) or comes back to <paramref name="test"/>: the wait post-dominates the edge.
    /// </summary>
    private static bool AlwaysReaches(ControlFlowGraph graph, BasicBlock start, int wait, BasicBlock test)
    {
        var seen = new bool[graph.Blocks.Length];
        var stack = new Stack<BasicBlock>();
        stack.Push(start);
        while (stack.Count > 0)
        {
            var block = stack.Pop();
            if (block.Ordinal == wait || seen[block.Ordinal])
            {
                continue;
            }

            seen[block.Ordinal] = true;
            if (ReferenceEquals(block, test) || block.Kind == BasicBlockKind.Exit)
            {
                return false;
            }

            var conditional = block.ConditionalSuccessor;
            var fallThrough = block.FallThroughSuccessor;
            if ((conditional is not null && conditional.Destination is null) || fallThrough is null || fallThrough.Destination is null)
            {
                return false; // a throw, a rethrow or the end of a finally: the path leaves without the wait
            }

            if (conditional?.Destination is { } next)
            {
                stack.Push(next);
            }

            stack.Push(fallThrough.Destination);
        }

        return true;
    }

    /// <summary>
    /// Edges from <paramref name="start"/> to each block (-1: unreachable), not going on past <paramref name="test"/>.
    /// With no test, it counts from the start block's successors, so the start is reached again only round a cycle.
    /// </summary>
    private static int[] Distances(ControlFlowGraph graph, BasicBlock? start, BasicBlock? test)
    {
        var distances = new int[graph.Blocks.Length];
        for (var i = 0; i < distances.Length; i++)
        {
            distances[i] = -1;
        }

        if (start is null)
        {
            return distances;
        }

        var queue = new Queue<BasicBlock>();
        if (test is null)
        {
            foreach (var next in new[] { start.ConditionalSuccessor?.Destination, start.FallThroughSuccessor?.Destination })
            {
                if (next is not null && distances[next.Ordinal] < 0)
                {
                    distances[next.Ordinal] = 1;
                    queue.Enqueue(next);
                }
            }
        }
        else
        {
            distances[start.Ordinal] = 0;
            queue.Enqueue(start);
        }

        while (queue.Count > 0)
        {
            var block = queue.Dequeue();
            if (ReferenceEquals(block, test))
            {
                continue; // back at the test: whatever follows is the next round's business
            }

            foreach (var next in new[] { block.ConditionalSuccessor?.Destination, block.FallThroughSuccessor?.Destination })
            {
                if (next is not null && distances[next.Ordinal] < 0)
                {
                    distances[next.Ordinal] = distances[block.Ordinal] + 1;
                    queue.Enqueue(next);
                }
            }
        }

        return distances;
    }

    /// <summary>
    /// The statement a site is reported on: the loop whose condition holds the test, the if whose branch holds the
    /// wait, or, for an if that only leaves (<c>if (amount &lt;= x) break;</c>), the loop around both.
    /// </summary>
    private static SyntaxNode Construct(SyntaxNode condition, SyntaxNode wait)
    {
        var statement = condition.AncestorsAndSelf().OfType<StatementSyntax>().FirstOrDefault();
        switch (statement)
        {
            case WhileStatementSyntax or DoStatementSyntax or ForStatementSyntax:
                return statement;
            case IfStatementSyntax gate when gate.Span.Contains(wait.Span):
                return gate;
        }

        // The loop an `if (...) break;` leaves: its nearest enclosing loop, unless a switch is nearer (the break leaves that).
        var loop = statement?.Ancestors()
            .TakeWhile(n => n is not (AnonymousFunctionExpressionSyntax or LocalFunctionStatementSyntax or MemberDeclarationSyntax))
            .FirstOrDefault(n => n is WhileStatementSyntax or DoStatementSyntax or ForStatementSyntax or ForEachStatementSyntax or SwitchStatementSyntax);
        if (loop is SwitchStatementSyntax || (loop is not null && !loop.Span.Contains(wait.Span)))
        {
            loop = null;
        }

        return loop ?? (SyntaxNode?)statement ?? wait;
    }
}
