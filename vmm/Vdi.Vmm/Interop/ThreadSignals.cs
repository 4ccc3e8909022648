using Tmds.Linux;
using static Tmds.Linux.LibC;

namespace Vdi.Vmm.Interop;

/// <summary>
/// The signal that kicks a vCPU thread out of <c>KVM_RUN</c>. vCPU threads keep it blocked, and
/// hand KVM a run-time mask with it unblocked (<c>KVM_SET_SIGNAL_MASK</c>), so it can only interrupt
/// the guest: it is never delivered to a handler, and whatever stays pending is drained with
/// <c>sigtimedwait</c> before the thread enters the guest again. No handler is installed, so a
/// stray delivery elsewhere is impossible as long as only vCPU threads are targeted.
/// </summary>
internal static unsafe class ThreadSignals
{
    /// <summary>A real-time signal above the one .NET uses for thread activation (SIGRTMIN).</summary>
    public static int KickSignal => SIGRTMIN + 3;

    /// <summary>Blocks the kick signal in the calling thread.</summary>
    public static int BlockKickInCurrentThread()
    {
        sigset_t set;
        // SAFETY: set is a local sigset_t that the calls fully initialise before use.
        _ = sigemptyset(&set);
        _ = sigaddset(&set, KickSignal);
        return pthread_sigmask(SIG_BLOCK, &set, null);
    }

    /// <summary>The calling thread's current mask, as the kernel's 64-bit sigset, with the kick signal removed.</summary>
    public static ulong KernelMaskForRun()
    {
        sigset_t current;
        // SAFETY: pthread_sigmask with a null new set only writes the current mask into the local.
        if (pthread_sigmask(SIG_BLOCK, null, &current) != 0)
            return 0;
        // glibc's sigset_t starts with the kernel's 64-bit word for signals 1..64.
        var mask = *(ulong*)&current;
        return mask & ~(1UL << (KickSignal - 1));
    }

    /// <summary>Consumes every pending kick for the calling thread without waiting.</summary>
    public static int DrainPendingKicks()
    {
        sigset_t set;
        timespec zero = default;
        siginfo_t info;
        // SAFETY: all pointers are to locals; sigtimedwait with a zero timeout never blocks.
        _ = sigemptyset(&set);
        _ = sigaddset(&set, KickSignal);
        var drained = 0;
        while (sigtimedwait(&set, &info, &zero) > 0)
            drained++;
        return drained;
    }

    /// <summary>Sends the kick signal to one thread of this process.</summary>
    public static int Kick(int threadId) => LibcCalls.SignalThread(threadId, KickSignal);
}
