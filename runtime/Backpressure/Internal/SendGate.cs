using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;

namespace Backpressure.Internal;

/// <summary>
/// A first-in, first-out async lock: transfers on one channel run one at a time, in call order.
/// A waiter cancelled while queued gives up its place; the lock passes to the next one.
/// </summary>
internal sealed class SendGate
{
    private readonly object _lock = new();
    private readonly Queue<TaskCompletionSource<bool>> _waiters = new();
    private bool _held;

    public bool TryAcquire()
    {
        lock (_lock)
        {
            if (_held)
            {
                return false;
            }

            _held = true;
            return true;
        }
    }

    public ValueTask AcquireAsync(CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        TaskCompletionSource<bool> turn;
        lock (_lock)
        {
            if (!_held)
            {
                _held = true;
                return default;
            }

            // Continuations run asynchronously so that Release never runs the next transfer under the lock.
            turn = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
            _waiters.Enqueue(turn);
        }

        return WaitForTurnAsync(turn, cancellationToken);
    }

    public void Release()
    {
        lock (_lock)
        {
            while (_waiters.Count > 0)
            {
                // A waiter whose cancellation won the race has already completed: skip it.
                if (_waiters.Dequeue().TrySetResult(true))
                {
                    return;
                }
            }

            _held = false;
        }
    }

    private static async ValueTask WaitForTurnAsync(TaskCompletionSource<bool> turn, CancellationToken cancellationToken)
    {
        using (cancellationToken.Register(() => turn.TrySetCanceled(cancellationToken)))
        {
            // Either this waiter got the lock (and must release it) or it was cancelled (and never holds it).
            await turn.Task.ConfigureAwait(false);
        }
    }
}
