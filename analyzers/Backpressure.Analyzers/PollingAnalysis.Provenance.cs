using System.Collections.Concurrent;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Operations;

namespace Backpressure.Analyzers;

/// <summary>
/// Where a value comes from: whether a condition tests a buffered amount, read directly, through a local
/// copied from it, or through a property, method or local function that returns a comparison on it.
/// </summary>
internal sealed partial class PollingAnalysis
{
    /// <summary>How deep predicates are followed: <c>IsCongested</c> calling <c>Queued</c> reading the amount is two.</summary>
    private const int MaxInlineDepth = 3;

    /// <summary>
    /// What a boolean value says about the amount. <see cref="HighWhenTrue"/>: when the value is true the amount is
    /// high (over the threshold of <see cref="Comparison"/>); <see cref="HighWhenFalse"/> likewise for false. A drain
    /// wait is one reached only under a value that says "high". <see cref="HighRelation"/> is the relation, amount on
    /// the left, under which the comparison itself says "high".
    /// </summary>
    internal readonly record struct AmountTest(Comparison Comparison, BinaryOperatorKind HighRelation, bool HighWhenTrue, bool HighWhenFalse, bool Inlined);

    /// <summary>A comparison of a buffered amount (through locals and predicates) against another value.</summary>
    internal readonly record struct Comparison(IOperation Test, BinaryOperatorKind OperatorKind, IOperation Member, IOperation Other, bool AmountOnLeft, ILocalSymbol? ViaLocal, bool Exact)
    {
        /// <summary>Gets why the compared value is not the amount itself (a sum of channels, arithmetic on it): reported, never rewritten.</summary>
        public string? WhyNotPlain { get; init; }
    }

    /// <summary>
    /// Reads <paramref name="condition"/> (an operation of the original tree, not of a flow graph) as a test of
    /// the amount. <c>&amp;&amp;</c>, <c>||</c> and <c>!</c> combine as logic does: in <c>open &amp;&amp; amount &gt; x</c> a true
    /// value says "high", a false one says nothing.
    /// </summary>
    private bool TryGetAmountTest(IOperation? condition, BufferedAmountMatcher matcher, int depth, out AmountTest test)
    {
        test = default;
        var operation = Strip(condition);
        switch (operation)
        {
            case IUnaryOperation { OperatorKind: UnaryOperatorKind.Not } not:
                if (!TryGetAmountTest(not.Operand, matcher, depth, out test))
                {
                    return false;
                }

                test = test with { HighWhenTrue = test.HighWhenFalse, HighWhenFalse = test.HighWhenTrue };
                return true;

            case IBinaryOperation { OperatorKind: BinaryOperatorKind.ConditionalAnd or BinaryOperatorKind.ConditionalOr or BinaryOperatorKind.And or BinaryOperatorKind.Or } logical
                when logical.Type?.SpecialType == SpecialType.System_Boolean:
                var hasLeft = TryGetAmountTest(logical.LeftOperand, matcher, depth, out var left);
                var hasRight = TryGetAmountTest(logical.RightOperand, matcher, depth, out var right);
                if (!hasLeft && !hasRight)
                {
                    return false;
                }

                var and = logical.OperatorKind is BinaryOperatorKind.ConditionalAnd or BinaryOperatorKind.And;
                test = hasLeft ? left : right;
                test = and
                    ? test with { HighWhenTrue = left.HighWhenTrue || right.HighWhenTrue, HighWhenFalse = left.HighWhenFalse && right.HighWhenFalse }
                    : test with { HighWhenTrue = left.HighWhenTrue && right.HighWhenTrue, HighWhenFalse = left.HighWhenFalse || right.HighWhenFalse };
                return test.HighWhenTrue || test.HighWhenFalse;

            case IBinaryOperation binary when IsComparison(binary.OperatorKind):
                return TryGetComparisonTest(binary, matcher, depth, out test);

            case IIsPatternOperation { Pattern: { } pattern, Value: var value }:
                return TryGetPatternTest(value, pattern, matcher, depth, out test);

            case IPropertyReferenceOperation or IInvocationOperation when depth < MaxInlineDepth && operation.Type?.SpecialType == SpecialType.System_Boolean:
                // `while (IsCongested)`, `while (!CanSend())`: a predicate of the same file that returns a comparison on the amount.
                if (InlinedBody(operation) is not { } body || !TryGetAmountTest(body, matcher, depth + 1, out test))
                {
                    return false;
                }

                test = test with { Inlined = true };
                return true;

            default:
                return false;
        }
    }

    private bool TryGetComparisonTest(IBinaryOperation binary, BufferedAmountMatcher matcher, int depth, out AmountTest test)
    {
        test = default;
        Comparison comparison;
        if (TryGetAmountOperand(binary.LeftOperand, matcher, depth, out var member, out var viaLocal, out var exact, out var whyNotPlain))
        {
            comparison = new Comparison(binary, binary.OperatorKind, member, binary.RightOperand, AmountOnLeft: true, viaLocal, exact) { WhyNotPlain = whyNotPlain };
        }
        else if (TryGetAmountOperand(binary.RightOperand, matcher, depth, out member, out viaLocal, out exact, out whyNotPlain))
        {
            comparison = new Comparison(binary, binary.OperatorKind, member, binary.LeftOperand, AmountOnLeft: false, viaLocal, exact) { WhyNotPlain = whyNotPlain };
        }
        else
        {
            return false;
        }

        var relation = comparison.AmountOnLeft ? binary.OperatorKind : Mirror(binary.OperatorKind);
        return TryGetRelationTest(comparison, relation, depth > 0, out test);
    }

    /// <summary>Which truth value of <c>amount (relation) other</c> says the queue is high: none for an equality with anything but 0.</summary>
    private static bool TryGetRelationTest(Comparison comparison, BinaryOperatorKind relation, bool inlined, out AmountTest test)
    {
        var zero = StripImplicit(comparison.Other).ConstantValue is { HasValue: true, Value: 0 or 0L or 0UL or 0U };
        test = relation switch
        {
            BinaryOperatorKind.GreaterThan or BinaryOperatorKind.GreaterThanOrEqual => new AmountTest(comparison, relation, true, false, inlined),
            BinaryOperatorKind.NotEquals when zero => new AmountTest(comparison, relation, true, false, inlined),
            BinaryOperatorKind.LessThan or BinaryOperatorKind.LessThanOrEqual => new AmountTest(comparison, Negate(relation), false, true, inlined),
            BinaryOperatorKind.Equals when zero => new AmountTest(comparison, BinaryOperatorKind.NotEquals, false, true, inlined),
            _ => default,
        };
        return test.HighWhenTrue || test.HighWhenFalse;
    }

    /// <summary><c>amount is &gt; 65536</c>, <c>amount is not &lt;= limit</c>: a relational pattern on the amount.</summary>
    private bool TryGetPatternTest(IOperation value, IPatternOperation pattern, BufferedAmountMatcher matcher, int depth, out AmountTest test)
    {
        test = default;
        var negated = false;
        while (pattern is INegatedPatternOperation negation)
        {
            negated = !negated;
            pattern = negation.Pattern;
        }

        if (pattern is not IRelationalPatternOperation relational
            || !TryGetAmountOperand(value, matcher, depth, out var member, out var viaLocal, out var exact, out var whyNotPlain)
            || relational.Syntax is not RelationalPatternSyntax)
        {
            return false;
        }

        var comparison = new Comparison(relational, relational.OperatorKind, member, relational.Value, AmountOnLeft: true, viaLocal, exact) { WhyNotPlain = whyNotPlain };
        if (!TryGetRelationTest(comparison, relational.OperatorKind, depth > 0, out test))
        {
            return false;
        }

        if (negated)
        {
            test = test with { HighWhenTrue = test.HighWhenFalse, HighWhenFalse = test.HighWhenTrue };
        }

        return true;
    }

    /// <summary>
    /// An operand that is the amount: the member itself, a local holding only its value, a sum of amounts, or a
    /// property or method of the same file that returns one of those.
    /// </summary>
    private bool TryGetAmountOperand(
        IOperation operand, BufferedAmountMatcher matcher, int depth, out IOperation member, out ILocalSymbol? viaLocal, out bool exact, out string? whyNotPlain)
    {
        whyNotPlain = null;
        if (TryGetAmount(operand, matcher, out member, out viaLocal, out exact))
        {
            return true;
        }

        var stripped = Strip(operand);
        switch (stripped)
        {
            case IBinaryOperation { OperatorKind: BinaryOperatorKind.Add or BinaryOperatorKind.Subtract or BinaryOperatorKind.Multiply or BinaryOperatorKind.Divide } arithmetic:
                // `a.BufferedAmount + b.BufferedAmount > limit`, `amount / 1024 > kib`: reported, with no threshold of the amount's own.
                if (TryGetAmountOperand(arithmetic.LeftOperand, matcher, depth, out member, out viaLocal, out exact, out _)
                    || TryGetAmountOperand(arithmetic.RightOperand, matcher, depth, out member, out viaLocal, out exact, out _))
                {
                    var several = TryGetAmountOperand(arithmetic.LeftOperand, matcher, depth, out _, out _, out _, out _)
                        && TryGetAmountOperand(arithmetic.RightOperand, matcher, depth, out _, out _, out _, out _);
                    whyNotPlain = several
                        ? "the loop tests a sum of several channels' amounts, and no one channel's event says when that sum is low"
                        : $"the loop compares '{arithmetic.Syntax}', an expression of the amount, not the amount itself, so there is no plain threshold to wait for";
                    exact = false;
                    return true;
                }

                break;

            case IPropertyReferenceOperation or IInvocationOperation when depth < MaxInlineDepth && stripped.Type is { } type && IsIntegralType(type):
                // `long Pending => _dc.bufferedAmount;`: an accessor of the same file.
                if (InlinedBody(stripped) is { } body && TryGetAmountOperand(body, matcher, depth + 1, out member, out viaLocal, out exact, out whyNotPlain))
                {
                    return true;
                }

                break;
        }

        member = operand;
        viaLocal = null;
        exact = false;
        return false;
    }

    /// <summary>
    /// The single returned expression of a parameterless property, method or local function declared in the same
    /// file, as an operation; null for anything else (another file, arguments, several statements, virtual members).
    /// </summary>
    private static IOperation? InlinedBody(IOperation reference)
    {
        var method = reference switch
        {
            IPropertyReferenceOperation { Property: { Parameters.Length: 0, GetMethod: { } getter } } => getter,
            IInvocationOperation { Arguments.Length: 0, TargetMethod: var target } => target,
            _ => null,
        };

        // An override elsewhere could return anything: only what this member's own code says counts.
        if (method is null || method.IsVirtual || method.IsAbstract || method.IsOverride || method.IsExtern || reference.SemanticModel is not { } model)
        {
            return null;
        }

        foreach (var declaration in method.DeclaringSyntaxReferences)
        {
            if (declaration.SyntaxTree != reference.Syntax.SyntaxTree)
            {
                continue;
            }

            var expression = declaration.GetSyntax() switch
            {
                ArrowExpressionClauseSyntax arrow => arrow.Expression,
                MethodDeclarationSyntax m => m.ExpressionBody?.Expression ?? SingleReturn(m.Body),
                LocalFunctionStatementSyntax l => l.ExpressionBody?.Expression ?? SingleReturn(l.Body),
                AccessorDeclarationSyntax a => a.ExpressionBody?.Expression ?? SingleReturn(a.Body),
                _ => null,
            };

            return expression is null ? null : model.GetOperation(expression);
        }

        return null;
    }

    private static ExpressionSyntax? SingleReturn(BlockSyntax? body) =>
        body?.Statements is [ReturnStatementSyntax { Expression: { } returned }] ? returned : null;

    private static bool IsIntegralType(ITypeSymbol type) => type.SpecialType is >= SpecialType.System_SByte and <= SpecialType.System_UInt64;

    /// <summary>
    /// For a condition that is exactly the comparison (or its negation), the relation under which it holds,
    /// with the amount on the left.
    /// </summary>
    private static bool TryGetStopRelation(IOperation condition, Comparison comparison, out BinaryOperatorKind relation)
    {
        var negated = false;
        var current = Strip(condition);
        while (current is IUnaryOperation { OperatorKind: UnaryOperatorKind.Not } not)
        {
            negated = !negated;
            current = Strip(not.Operand);
        }

        relation = comparison.AmountOnLeft ? comparison.OperatorKind : Mirror(comparison.OperatorKind);
        if (negated)
        {
            relation = Negate(relation);
        }

        return ReferenceEquals(current, comparison.Test);
    }

    private static BinaryOperatorKind Mirror(BinaryOperatorKind kind) => kind switch
    {
        BinaryOperatorKind.GreaterThan => BinaryOperatorKind.LessThan,
        BinaryOperatorKind.GreaterThanOrEqual => BinaryOperatorKind.LessThanOrEqual,
        BinaryOperatorKind.LessThan => BinaryOperatorKind.GreaterThan,
        BinaryOperatorKind.LessThanOrEqual => BinaryOperatorKind.GreaterThanOrEqual,
        _ => kind,
    };

    private static BinaryOperatorKind Negate(BinaryOperatorKind kind) => kind switch
    {
        BinaryOperatorKind.GreaterThan => BinaryOperatorKind.LessThanOrEqual,
        BinaryOperatorKind.GreaterThanOrEqual => BinaryOperatorKind.LessThan,
        BinaryOperatorKind.LessThan => BinaryOperatorKind.GreaterThanOrEqual,
        BinaryOperatorKind.LessThanOrEqual => BinaryOperatorKind.GreaterThan,
        BinaryOperatorKind.Equals => BinaryOperatorKind.NotEquals,
        BinaryOperatorKind.NotEquals => BinaryOperatorKind.Equals,
        _ => kind,
    };

    /// <summary>
    /// Finds, inside <paramref name="condition"/>, a comparison of a buffered amount (directly or through a
    /// local copied from one) under which waiting goes on while the amount is high: a drain wait.
    /// <paramref name="until"/> says the condition is the one waiting stops at (SpinUntil), not the one it goes on under.
    /// </summary>
    private bool TryFindComparison(IOperation condition, BufferedAmountMatcher matcher, bool until, out Comparison comparison)
    {
        foreach (var operation in DescendantsAndSelf(condition))
        {
            if (operation is not IBinaryOperation binary || !IsComparison(binary.OperatorKind))
            {
                continue;
            }

            Comparison candidate;
            if (TryGetAmount(binary.LeftOperand, matcher, out var member, out var viaLocal, out var exact))
            {
                candidate = new Comparison(binary, binary.OperatorKind, member, binary.RightOperand, AmountOnLeft: true, viaLocal, exact);
            }
            else if (TryGetAmount(binary.RightOperand, matcher, out member, out viaLocal, out exact))
            {
                candidate = new Comparison(binary, binary.OperatorKind, member, binary.LeftOperand, AmountOnLeft: false, viaLocal, exact);
            }
            else
            {
                continue;
            }

            // Waiting while the amount is zero or small waits for the queue to fill, which is not this rule's business.
            var relation = candidate.AmountOnLeft ? binary.OperatorKind : Mirror(binary.OperatorKind);
            if (CountNegations(binary, condition) % 2 == 1 ^ until)
            {
                relation = Negate(relation);
            }

            if (relation is BinaryOperatorKind.GreaterThan or BinaryOperatorKind.GreaterThanOrEqual
                || (relation == BinaryOperatorKind.NotEquals && StripImplicit(candidate.Other).ConstantValue is { HasValue: true, Value: 0 or 0L or 0UL or 0U }))
            {
                comparison = candidate;
                return true;
            }
        }

        comparison = default;
        return false;
    }

    private static int CountNegations(IOperation operation, IOperation root)
    {
        var count = 0;
        for (var current = operation.Parent; current is not null && !ReferenceEquals(current, root.Parent); current = current.Parent)
        {
            if (current is IUnaryOperation { OperatorKind: UnaryOperatorKind.Not })
            {
                count++;
            }
        }

        return count;
    }

    private static bool IsComparison(BinaryOperatorKind kind) => kind is BinaryOperatorKind.GreaterThan
        or BinaryOperatorKind.GreaterThanOrEqual or BinaryOperatorKind.LessThan or BinaryOperatorKind.LessThanOrEqual
        or BinaryOperatorKind.Equals or BinaryOperatorKind.NotEquals;

    private bool TryGetAmount(IOperation operand, BufferedAmountMatcher matcher, out IOperation member, out ILocalSymbol? viaLocal, out bool exact)
    {
        viaLocal = null;
        exact = true;
        member = operand;
        while (member is IConversionOperation conversion)
        {
            // A narrowing cast changes the number compared: the site is reported, but no rewrite keeps it.
            if (!conversion.IsImplicit && conversion.Operand.Type is { } from && conversion.Type is { } to
                && !_compilation.ClassifyCommonConversion(from, to).IsImplicit)
            {
                exact = false;
            }

            member = conversion.Operand;
        }

        if (member is IConditionalAccessOperation { WhenNotNull: var whenNotNull })
        {
            member = StripImplicit(whenNotNull); // `_dc?.bufferedAmount > x`: false when there is no channel, the amount otherwise
        }

        switch (member)
        {
            case IPropertyReferenceOperation property:
                return matcher.IsBufferedAmountMember(property.Property);
            case IFieldReferenceOperation field:
                return matcher.IsBufferedAmountMember(field.Field);
            case ISimpleAssignmentOperation { Value: var assigned } when Strip(assigned) is IMemberReferenceOperation source && matcher.IsBufferedAmountMember(source.Member):
                member = source; // `(q = ch.BufferedAmount) > x`: reported; the assignment would be lost, so no fix
                exact = false;
                return true;
            case ILocalReferenceOperation local when FindCopySource(local, matcher) is { } copied:
                // A local counts only when every value it ever holds is the member's: a parameter, or a local
                // that merely has the name or is reused for another number, is somebody else's.
                member = copied;
                viaLocal = local.Local;
                return true;
            default:
                return false;
        }
    }

    private IOperation? FindCopySource(ILocalReferenceOperation local, BufferedAmountMatcher matcher)
    {
        var root = FunctionRoot(local);
        var perLocal = _copySources.GetValue(root, static _ => new ConcurrentDictionary<ILocalSymbol, IOperation?>(SymbolEqualityComparer.Default));
        return perLocal.GetOrAdd(local.Local, l => ComputeCopySource(root, l, matcher));
    }

    private static IOperation? ComputeCopySource(IOperation root, ILocalSymbol local, BufferedAmountMatcher matcher)
    {
        IMemberReferenceOperation? source = null;
        foreach (var operation in Descendants(root, enterFunctions: true))
        {
            IOperation? value;
            switch (operation)
            {
                case IVariableDeclaratorOperation declarator when SymbolEqualityComparer.Default.Equals(declarator.Symbol, local):
                    value = declarator.Initializer?.Value;
                    if (value is null)
                    {
                        continue;
                    }

                    break;
                case ISimpleAssignmentOperation { Target: ILocalReferenceOperation target } assignment when SymbolEqualityComparer.Default.Equals(target.Local, local):
                    value = assignment.Value;
                    break;
                case ICompoundAssignmentOperation { Target: ILocalReferenceOperation target } when SymbolEqualityComparer.Default.Equals(target.Local, local):
                case IIncrementOrDecrementOperation { Target: ILocalReferenceOperation counter } when SymbolEqualityComparer.Default.Equals(counter.Local, local):
                case IArgumentOperation { Parameter.RefKind: RefKind.Out or RefKind.Ref, Value: ILocalReferenceOperation passed } when SymbolEqualityComparer.Default.Equals(passed.Local, local):
                    return null;
                default:
                    continue;
            }

            if (Strip(value) is not IMemberReferenceOperation copy || !matcher.IsBufferedAmountMember(copy.Member)
                || (source is not null && (!SymbolEqualityComparer.Default.Equals(source.Member, copy.Member) || !SameInstance(source.Instance, copy.Instance))))
            {
                return null;
            }

            source ??= copy;
        }

        return source;
    }
}
