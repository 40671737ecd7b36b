using System;
using System.Runtime.CompilerServices;
using System.Threading;

namespace Backpressure.Internal;

/// <summary>
/// Awaiting it moves the rest of the method to the thread pool, whatever synchronization context the current
/// thread has: the way off a transport's thread before a task of the caller's completes.
/// </summary>
internal readonly struct ThreadPoolHop : ICriticalNotifyCompletion
{
#if !NET
    private static readonly WaitCallback s_run = static state => ((Action)state!)();
#endif

    public bool IsCompleted => false;

    public ThreadPoolHop GetAwaiter() => this;

    public void GetResult()
    {
    }

    public void OnCompleted(Action continuation) =>
#if NET
        ThreadPool.QueueUserWorkItem(static action => action(), continuation, preferLocal: false);
#else
        ThreadPool.QueueUserWorkItem(s_run, continuation);
#endif

    public void UnsafeOnCompleted(Action continuation) =>
#if NET
        ThreadPool.UnsafeQueueUserWorkItem(static action => action(), continuation, preferLocal: false);
#else
        ThreadPool.UnsafeQueueUserWorkItem(s_run, continuation);
#endif
}
