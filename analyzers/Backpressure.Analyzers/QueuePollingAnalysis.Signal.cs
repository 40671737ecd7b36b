using System.Collections.Generic;
using System.Collections.Immutable;
using System.Linq;
using System.Threading;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.FlowAnalysis;
using Microsoft.CodeAnalysis.Operations;
using Microsoft.CodeAnalysis.Text;

using ControllingBranch = Backpressure.Analyzers.PollingAnalysis.ControllingBranch<Backpressure.Analyzers.QueuePollingAnalysis.EmptinessTest>;

namespace Backpressure.Analyzers;

/// <summary>
/// BP0003's fix planners. The signal: a <c>SemaphoreSlim</c> beside a private queue, released after every write to
/// it, waited on (bounded by the same time) instead of the timer. BlockingCollection: its own <c>TryTake(out item, timeout)</c>.
/// Only the timer call (and, for the signal, the writes) change, so the loop's counters, deadlines and returns keep their meaning.
/// </summary>
internal sealed partial class QueuePollingAnalysis
{
    /// <summary>Calls that add to a queue: each must be followed by a release.</summary>
    private static readonly HashSet<string> WriteNames = ["Enqueue", "Add", "Push", "PushRange", "TryAdd"];

    /// <summary>Calls that only read or take: they need no release and hand nothing out.</summary>
    private static readonly HashSet<string> ReadNames = ["TryDequeue", "TryTake", "TryPeek", "TryPop", "TryPopRange", "Dequeue", "Peek", "Pop", "Clear", "Contains", "ToArray", "TrimExcess", "EnsureCapacity"];

    private FixPlan PlanFix(ControllingBranch branch, IReadOnlyList<IOperation> waits, SemanticModel model, CancellationToken cancellationToken) => branch.Test.Kind switch
    {
        SourceKind.ChannelReader => FixPlan.None(
            "a ChannelReader's own wait, WaitToReadAsync, cannot be bounded by the delay without leaving a waiter behind every turn, and once the channel completes it returns at once, forever, where the delay did not; await ReadAsync or WaitToReadAsync in place of the loop"),
        SourceKind.Socket => FixPlan.None(
            "the data comes from the network, not from a write in this type; receive with a timeout (Receive, ReceiveAsync with a token) instead of polling the count"),
        SourceKind.BlockingCollection => PlanTakeWithTimeout(branch, waits, model),
        _ => PlanSignal(branch.Test, waits, model, cancellationToken),
    };

    /// <summary>
    /// <c>while (!bc.TryTake(out x)) Thread.Sleep(25);</c> becomes <c>while (!bc.TryTake(out x, 25)) { }</c>: the sleep,
    /// the first thing done when the collection is empty, moves into the take, which returns as soon as an item arrives.
    /// </summary>
    private static FixPlan PlanTakeWithTimeout(ControllingBranch branch, IReadOnlyList<IOperation> waits, SemanticModel model)
    {
        if (branch.Test.Test is not IInvocationOperation { TargetMethod.Name: "TryTake", Syntax: InvocationExpressionSyntax take })
        {
            return FixPlan.None("BlockingCollection's own TryTake(out item, timeout) replaces the sleep only when the loop tests TryTake, not the count");
        }

        if (waits is not [IInvocationOperation { TargetMethod: { Name: "Sleep", ContainingType.Name: "Thread" } } sleep]
            || sleep.Parent is not IExpressionStatementOperation { Syntax: ExpressionStatementSyntax statement }
            || sleep.Syntax is not InvocationExpressionSyntax sleepSyntax)
        {
            return FixPlan.None("BlockingCollection has no asynchronous take, and its TryTake with a timeout stands in only for a Thread.Sleep statement");
        }

        // Only a sleep that is the first thing done on the empty edge may move into the test: nothing ran between them.
        if (branch.Waiting is not { Operations: [var first, ..] } || !first.Syntax.Span.Contains(sleep.Syntax.Span))
        {
            return FixPlan.None("something runs between the failed TryTake and the sleep, which a take with a timeout would reorder");
        }

        if (sleepSyntax.ArgumentList.Arguments.Any(a => a.NameColon is not null) || statement.ContainsDirectives
            || !sleep.Arguments.All(a => IsPlainValue(a.Value) && PollingAnalysis.BindsAt(a.Value, take.SpanStart, model)))
        {
            return FixPlan.None("the sleep's time is not a plain value that reads the same where the take is");
        }

        var edits = ImmutableArray.CreateBuilder<(TextSpan, string)>();
        edits.Add((new TextSpan(take.ArgumentList.CloseParenToken.SpanStart, 0), ", " + sleepSyntax.ArgumentList.Arguments.ToString()));
        edits.Add(RemoveStatement(statement));
        return new FixPlan(QueueSite.TakeWithTimeoutEquivalenceKey, edits.ToImmutable(), null);
    }

    /// <summary>A value the take may read instead of the sleep: no calls but TimeSpan's factories, no assignments.</summary>
    private static bool IsPlainValue(IOperation value) =>
        value.DescendantsAndSelf().All(o => o is ILiteralOperation or IConversionOperation or ILocalReferenceOperation or IParameterReferenceOperation
            or IFieldReferenceOperation or IInstanceReferenceOperation or IBinaryOperation or IUnaryOperation or IArgumentOperation
            || (o is IPropertyReferenceOperation { Property.IsIndexer: false })
            || (o is IInvocationOperation { Instance: null, TargetMethod.ContainingType.Name: "TimeSpan" }));

    /// <summary>
    /// The signal fix, offered only when every write to the queue is known: a private field (or an internal one that
    /// nothing else can reach) of a class declared in this file, written only by Enqueue/Add/Push/TryAdd statements,
    /// and never handed out (no argument, return, copy or capture that gives it away).
    /// </summary>
    private FixPlan PlanSignal(EmptinessTest test, IReadOnlyList<IOperation> waits, SemanticModel model, CancellationToken cancellationToken)
    {
        if (Strip(test.Source) is not IFieldReferenceOperation { Field: var field } reference
            || (reference.Instance is not null and not IInstanceReferenceOperation { ReferenceKind: InstanceReferenceKind.ContainingTypeInstance }))
        {
            return FixPlan.None($"'{test.Source.Syntax}' is not a field of this type, so not every write to it can be found to signal the consumer");
        }

        field = field.OriginalDefinition;
        var type = field.ContainingType;
        if (type.TypeKind != TypeKind.Class)
        {
            return FixPlan.None($"'{type.Name}' is not a class: every copy of it would have a signal of its own");
        }

        var tree = model.SyntaxTree;
        var declarations = type.DeclaringSyntaxReferences;
        if (declarations.Any(d => d.SyntaxTree != tree))
        {
            return FixPlan.None($"'{type.Name}' is declared in several files; the fix checks every write to '{field.Name}' in one file");
        }

        if (field.DeclaredAccessibility is not (Accessibility.Private or Accessibility.Internal))
        {
            return FixPlan.None($"'{field.Name}' is {AccessibilityText(field)}: code outside the type can add to it without waking the consumer");
        }

        if (field.DeclaredAccessibility == Microsoft.CodeAnalysis.Accessibility.Internal && WhyInternalMayEscape(field, tree, declarations, cancellationToken) is { } whyInternal)
        {
            return FixPlan.None(whyInternal);
        }

        var (name, existing) = SignalName(field, waits, model);
        var signalType = model.GetSpeculativeTypeInfo(waits[0].Syntax.SpanStart, SyntaxFactory.ParseTypeName("SemaphoreSlim"), SpeculativeBindingOption.BindAsTypeOrNamespace).Type is { } bound
            && SymbolEqualityComparer.Default.Equals(bound, _sources.SemaphoreSlim)
                ? "SemaphoreSlim"
                : "System.Threading.SemaphoreSlim";

        var edits = ImmutableArray.CreateBuilder<(TextSpan, string)>();
        foreach (var wait in waits)
        {
            if (SignalWait(wait, name, out var whyNot) is not { } call)
            {
                return FixPlan.None(whyNot!);
            }

            edits.Add((wait.Syntax.Span, call));
        }

        // Every use of the field in the type: writes get a release, reads are fine, anything else may hand it out.
        var writes = 0;
        foreach (var declaration in declarations)
        {
            foreach (var identifier in declaration.GetSyntax(cancellationToken).DescendantNodes().OfType<IdentifierNameSyntax>())
            {
                if (identifier.Identifier.ValueText != field.Name
                    || !SymbolEqualityComparer.Default.Equals(model.GetSymbolInfo(identifier, cancellationToken).Symbol?.OriginalDefinition, field))
                {
                    continue;
                }

                // `this._queue` is one operation, whose syntax is the member access.
                SyntaxNode node = identifier.Parent is MemberAccessExpressionSyntax access && access.Name == identifier ? access : identifier;
                var use = model.GetOperation(node, cancellationToken);
                var line = identifier.GetLocation().GetLineSpan().StartLinePosition.Line + 1;
                switch (use?.Parent)
                {
                    case IInvocationOperation invocation when ReferenceEquals(invocation.Instance, use) && WriteNames.Contains(invocation.TargetMethod.Name):
                        writes++;
                        if (existing && IsReleasedAfter(invocation, name))
                        {
                            continue; // fixed for another loop on this queue already
                        }

                        if (Release(invocation, name) is not { } release)
                        {
                            return FixPlan.None($"the write to '{field.Name}' on line {line} is not a statement of its own, so no signal can follow it");
                        }

                        edits.Add(release);
                        continue;
                    case IInvocationOperation invocation when ReferenceEquals(invocation.Instance, use) && ReadNames.Contains(invocation.TargetMethod.Name):
                    case IPropertyReferenceOperation { Property.Name: "Count" or "IsEmpty" } property when ReferenceEquals(property.Instance, use):
                    case ILockOperation:
                        continue;
                    case ISimpleAssignmentOperation assignment when ReferenceEquals(assignment.Target, use)
                        && Strip(assignment.Value) is IObjectCreationOperation
                        && model.GetEnclosingSymbol(identifier.SpanStart, cancellationToken) is IMethodSymbol { MethodKind: MethodKind.Constructor or MethodKind.StaticConstructor }:
                        continue; // a fresh queue made by a constructor is as private as the field
                    default:
                        return FixPlan.None($"'{field.Name}' {Escape(use)} on line {line}, so not every write to it can be found to signal the consumer");
                }
            }
        }

        if (writes == 0)
        {
            return FixPlan.None($"nothing in '{type.Name}' adds to '{field.Name}', so there is no write to signal from");
        }

        if (existing)
        {
            return new FixPlan(QueueSite.SignalEquivalenceKey, edits.ToImmutable(), null);
        }

        if (FieldInsertion(field, name, signalType, tree, cancellationToken) is not { } insertion)
        {
            return FixPlan.None($"'{field.Name}' is not declared as a field the signal can be placed beside");
        }

        edits.Add(insertion);
        return new FixPlan(QueueSite.SignalEquivalenceKey, edits.ToImmutable(), null);
    }

    private static string AccessibilityText(IFieldSymbol field) => field.DeclaredAccessibility switch
    {
        Microsoft.CodeAnalysis.Accessibility.Public => "public",
        Microsoft.CodeAnalysis.Accessibility.Protected => "protected",
        Microsoft.CodeAnalysis.Accessibility.ProtectedOrInternal => "protected internal",
        Microsoft.CodeAnalysis.Accessibility.ProtectedAndInternal => "private protected",
        _ => "not private",
    };

    private static string Escape(IOperation? use) => use?.Parent switch
    {
        IArgumentOperation => "is passed as an argument",
        IReturnOperation => "is returned",
        ISimpleAssignmentOperation assignment when ReferenceEquals(assignment.Target, use) => "is assigned something other than a new queue made by a constructor",
        ISimpleAssignmentOperation or IVariableInitializerOperation => "is copied to another variable",
        IInvocationOperation or IPropertyReferenceOperation => "is used through a member the fix does not know",
        _ => "is used in a way the fix cannot follow",
    };

    /// <summary>
    /// An internal field can be written from anywhere in the assembly, and from assemblies it shows its internals to:
    /// the fix goes on only when no other file and no other code in this one names it.
    /// </summary>
    private string? WhyInternalMayEscape(IFieldSymbol field, SyntaxTree tree, ImmutableArray<SyntaxReference> declarations, CancellationToken cancellationToken)
    {
        if (_compilation.Assembly.GetAttributes().Any(a => a.AttributeClass?.Name == "InternalsVisibleToAttribute"))
        {
            return $"'{field.Name}' is internal and the assembly shows its internals to others, which can add to it without waking the consumer";
        }

        foreach (var other in _compilation.SyntaxTrees)
        {
            if (other == tree)
            {
                var outside = other.GetRoot(cancellationToken).DescendantTokens()
                    .Any(t => t.IsKind(SyntaxKind.IdentifierToken) && t.ValueText == field.Name && !declarations.Any(d => d.Span.Contains(t.Span)));
                if (outside)
                {
                    return $"'{field.Name}' is internal and named outside '{field.ContainingType.Name}', where it may be written without waking the consumer";
                }
            }
            else if (other.GetText(cancellationToken).ToString().IndexOf(field.Name, System.StringComparison.Ordinal) >= 0)
            {
                return $"'{field.Name}' is internal and named in another file ({System.IO.Path.GetFileName(other.FilePath)}), where it may be written without waking the consumer";
            }
        }

        return null;
    }

    /// <summary>
    /// <c>_incoming</c> gets <c>_incomingSignal</c>, <c>s_work</c> <c>s_workSignal</c>, <c>queue</c> <c>_queueSignal</c>; a number
    /// follows when the name is taken. A SemaphoreSlim field of that name is the signal an earlier fix of another loop
    /// on this queue added: it is reused (<c>existing</c>), so a queue gets one signal however many loops poll it.
    /// </summary>
    private (string Name, bool Existing) SignalName(IFieldSymbol field, IReadOnlyList<IOperation> waits, SemanticModel model)
    {
        var prefixed = field.Name.StartsWith("_", System.StringComparison.Ordinal) || (field.Name.Length > 2 && field.Name[1] == '_');
        var stem = (prefixed ? field.Name : "_" + field.Name) + "Signal";
        if (field.ContainingType.GetMembers(stem) is [IFieldSymbol { DeclaredAccessibility: Microsoft.CodeAnalysis.Accessibility.Private } signal]
            && signal.IsStatic == field.IsStatic
            && SymbolEqualityComparer.Default.Equals(signal.Type, _sources.SemaphoreSlim)
            && IsAnEarlierFixesSignal(signal, stem))
        {
            return (stem, true);
        }

        for (var i = 1; ; i++)
        {
            var name = i == 1 ? stem : stem + i.ToString(System.Globalization.CultureInfo.InvariantCulture);
            if (field.ContainingType.GetMembers(name).IsEmpty && waits.All(w => model.LookupSymbols(w.Syntax.SpanStart, name: name).IsEmpty))
            {
                return (name, false);
            }
        }
    }

    /// <summary>
    /// A semaphore of the signal's name is this fix's own only when it starts at 0 and is released nowhere but in the
    /// fix's capped release: a user's mutex (<c>new(1)</c>, released in a <c>finally</c>) is not a wake-up signal.
    /// </summary>
    private static bool IsAnEarlierFixesSignal(IFieldSymbol signal, string name) =>
        signal.DeclaringSyntaxReferences is [var reference]
        && reference.GetSyntax() is VariableDeclaratorSyntax { Initializer.Value: BaseObjectCreationExpressionSyntax { ArgumentList.Arguments: [{ Expression: LiteralExpressionSyntax { Token.ValueText: "0" } }] } }
        && signal.ContainingType.DeclaringSyntaxReferences.All(type => type.GetSyntax().DescendantNodes().OfType<MemberAccessExpressionSyntax>()
            .Where(access => access.Name.Identifier.ValueText == "Release" && access.Expression.ToString() == name)
            .All(access => access.FirstAncestorOrSelf<IfStatementSyntax>()?.ToString() == ReleaseText(name)));

    /// <summary>Whether the statement after the write is already the release this fix adds.</summary>
    private static bool IsReleasedAfter(IInvocationOperation write, string signal) =>
        write.Parent is IExpressionStatementOperation { Syntax: ExpressionStatementSyntax { Parent: BlockSyntax block } statement }
        && block.Statements.IndexOf(statement) is var index && index + 1 < block.Statements.Count
        && block.Statements[index + 1].ToString() == ReleaseText(signal);

    private static string ReleaseText(string signal) => $"if ({signal}.CurrentCount == 0) {signal}.Release();";

    /// <summary>The wait on the signal that replaces one timer call, bounded by the same time; null (and why) when there is none.</summary>
    private string? SignalWait(IOperation wait, string signal, out string? whyNot)
    {
        whyNot = null;
        if (wait is not IInvocationOperation { TargetMethod: var method } invocation || invocation.Syntax is not InvocationExpressionSyntax syntax)
        {
            whyNot = "a coroutine resumes only on the engine's frame loop, which no signal can drive";
            return null;
        }

        if (syntax.ContainsDirectives || syntax.ArgumentList.Arguments.Any(a => a.NameColon is not null))
        {
            whyNot = "the wait's arguments are named or hold a preprocessor directive, which the signal's wait would not keep";
            return null;
        }

        var arguments = syntax.ArgumentList.Arguments.ToString();
        var awaited = invocation.Parent is IAwaitOperation
            || (invocation.Parent is IInvocationOperation { TargetMethod.Name: "ConfigureAwait", Parent: IAwaitOperation } configure && ReferenceEquals(configure.Instance, invocation));
        switch (method.ContainingType.Name, method.Name)
        {
            case ("Thread", "Sleep") when method.ContainingType.ContainingNamespace.ToDisplayString() == "System.Threading":
                return $"{signal}.Wait({arguments})";
            case ("Task", "Delay") when awaited && method.Parameters.All(p => p.Type.Name is "Int32" or "TimeSpan" or "CancellationToken"):
                return $"{signal}.WaitAsync({arguments})"; // the same overloads: (ms), (TimeSpan), either with a token, which still throws when cancelled
            case ("Task", "Delay") when awaited:
                whyNot = "the delay runs on a TimeProvider, which SemaphoreSlim's wait does not take";
                return null;
            case ("Task", "Yield") when invocation.Parent is IAwaitOperation:
                return $"{signal}.WaitAsync(1)"; // await Task.Yield(): the shortest wait
            case ("Thread", "Yield" or "SpinWait") or ("SpinWait", "SpinOnce") when invocation.Parent is IExpressionStatementOperation:
                return $"{signal}.Wait(1)"; // a spin gives the time slice away for about a millisecond at most: block for as long, or until signalled
            case ("Timer", "Change" or "Start"):
                whyNot = "a timer re-schedule runs its callback on the timer's own schedule, so there is no wait to end early; rewrite the callback as a loop";
                return null;
            default:
                whyNot = "the result of this wait is used as a value, which the signal's wait cannot stand in for";
                return null;
        }
    }

    /// <summary>
    /// The release after one write, as an edit: a line after the statement, or a block around an embedded statement
    /// or a lambda's expression body.
    /// </summary>
    /// <remarks>
    /// The release is skipped while a permit is pending. One pending permit already guarantees the consumer sees every
    /// item written before it: the write comes first, and the consumer re-tests the queue after every wake. More permits
    /// would let later waits return at once, so a counter in the loop (<c>waited += 25</c>) would count time that did not
    /// pass, and a busy queue the consumer drains without waiting would push the count towards SemaphoreSlim's maximum,
    /// where Release throws. Two producers racing on the test leave at most one extra permit each: one early wake.
    /// </remarks>
    private static (TextSpan, string)? Release(IInvocationOperation write, string signal)
    {
        var release = ReleaseText(signal);
        if (write.Syntax.ContainsDirectives)
        {
            return null;
        }

        if (write.Parent is IExpressionStatementOperation { Syntax: ExpressionStatementSyntax statement })
        {
            return statement.Parent is BlockSyntax or SwitchSectionSyntax
                ? InsertLineAfter(statement, release)
                : (statement.Span, "{ " + statement + " " + release + " }");
        }

        // `data => _incoming.Enqueue(data)`: an event handler filling the queue.
        if (write.Syntax.Parent is LambdaExpressionSyntax lambda && lambda.Body == write.Syntax && write.Type?.SpecialType == SpecialType.System_Void)
        {
            return (write.Syntax.Span, "{ " + write.Syntax + "; " + release + " }");
        }

        // `public void Post(T item) => _queue.Enqueue(item);`
        if (write.Syntax.Parent is ArrowExpressionClauseSyntax arrow && write.Type?.SpecialType == SpecialType.System_Void
            && arrow.Parent switch { MethodDeclarationSyntax m => m.SemicolonToken, LocalFunctionStatementSyntax l => l.SemicolonToken, _ => default } is { RawKind: (int)SyntaxKind.SemicolonToken } semicolon)
        {
            return (TextSpan.FromBounds(arrow.SpanStart, semicolon.Span.End), "{ " + write.Syntax + "; " + release + " }");
        }

        return null;
    }

    /// <summary>The signal's declaration, on the line after the queue's.</summary>
    private static (TextSpan, string)? FieldInsertion(IFieldSymbol field, string name, string type, SyntaxTree tree, CancellationToken cancellationToken)
    {
        if (field.DeclaringSyntaxReferences is not [var reference] || reference.GetSyntax(cancellationToken) is not VariableDeclaratorSyntax { Parent.Parent: FieldDeclarationSyntax declaration })
        {
            return null;
        }

        var targetTyped = ((CSharpParseOptions)tree.Options).LanguageVersion >= LanguageVersion.CSharp9;
        var text = $"private {(field.IsStatic ? "static " : string.Empty)}readonly {type} {name} = new{(targetTyped ? string.Empty : " " + type)}(0);";
        return InsertLineAfter(declaration, text);
    }

    /// <summary>Inserts <paramref name="text"/> on its own line after <paramref name="node"/>, with the node's indentation.</summary>
    private static (TextSpan, string) InsertLineAfter(SyntaxNode node, string text)
    {
        var indentation = node.GetLeadingTrivia().LastOrDefault(t => t.IsKind(SyntaxKind.WhitespaceTrivia)).ToString();
        var endOfLine = node.GetTrailingTrivia().FirstOrDefault(t => t.IsKind(SyntaxKind.EndOfLineTrivia));
        return endOfLine.IsKind(SyntaxKind.EndOfLineTrivia)
            ? (new TextSpan(endOfLine.Span.End, 0), indentation + text + endOfLine)
            : (new TextSpan(node.Span.End, 0), " " + text);
    }

    /// <summary>Removes a statement: its line when it has one in a block, else it becomes an empty block.</summary>
    private static (TextSpan, string) RemoveStatement(StatementSyntax statement)
    {
        if (statement.Parent is not BlockSyntax)
        {
            return (statement.Span, "{ }");
        }

        var leading = statement.GetLeadingTrivia();
        var start = leading.Count > 0 && leading[leading.Count - 1].IsKind(SyntaxKind.WhitespaceTrivia) ? leading[leading.Count - 1].SpanStart : statement.SpanStart;
        var endOfLine = statement.GetTrailingTrivia().FirstOrDefault(t => t.IsKind(SyntaxKind.EndOfLineTrivia));
        var end = endOfLine.IsKind(SyntaxKind.EndOfLineTrivia) ? endOfLine.Span.End : statement.Span.End;
        return (TextSpan.FromBounds(start, end), string.Empty);
    }
}
