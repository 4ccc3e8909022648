using Vdi.Vmm.Interop;
using static Vdi.Vmm.Interop.SandboxConstants;

namespace Vdi.Vmm.Sandbox;

/// <summary>
/// <c>prctl(PR_SET_NO_NEW_PRIVS, 1)</c>: from here on, execve can never grant privileges (set-uid bits and file
/// capabilities are ignored), for this process and anything it could start. The kernel requires it before an
/// unprivileged process installs a seccomp filter; it cannot be undone.
/// </summary>
public static class NoNewPrivileges
{
    /// <summary>Sets the flag; returns null, or why not.</summary>
    public static string? Apply()
    {
        if (SandboxCalls.Prctl(PR_SET_NO_NEW_PRIVS, 1) == 0 && IsSet)
            return null;
        return $"prctl(PR_SET_NO_NEW_PRIVS) failed: {LibcCalls.Describe(SandboxCalls.LastErrno)}";
    }

    public static bool IsSet => SandboxCalls.Prctl(PR_GET_NO_NEW_PRIVS) == 1;
}
