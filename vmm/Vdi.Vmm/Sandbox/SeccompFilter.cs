using Vdi.Vmm.Interop;
using static Vdi.Vmm.Interop.SandboxConstants;

namespace Vdi.Vmm.Sandbox;

/// <summary>
/// Installs a BPF program with <c>seccomp(SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, …)</c>, so that every
/// thread the runtime already started gets it too (threads started later inherit it). Needs no_new_privs (or
/// CAP_SYS_ADMIN) first. A filter cannot be removed: this is the last step of the sandbox.
/// </summary>
public static unsafe class SeccompFilter
{
    /// <summary>Installs <paramref name="program"/>; returns null, or why it could not be installed.</summary>
    public static string? Install(SockFilter[] program)
    {
        fixed (SockFilter* filter = program)
        {
            // struct sock_fprog { unsigned short len; struct sock_filter *filter; } with the padding after len.
            var fprog = stackalloc ulong[2];
            fprog[0] = (ulong)program.Length;
            fprog[1] = (ulong)filter;
            // SAFETY: fprog and the pinned program stay valid for the call; the kernel copies the program.
            var result = SandboxCalls.Call(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, (long)fprog);
            if (result == 0)
                return null;
            var errno = SandboxCalls.LastErrno;
            // With TSYNC, a positive result is the id of a thread that could not be synchronised.
            return result > 0
                ? $"thread {result} could not take the filter"
                : $"seccomp(SECCOMP_SET_MODE_FILTER) failed: {LibcCalls.Describe(errno)}";
        }
    }
}
