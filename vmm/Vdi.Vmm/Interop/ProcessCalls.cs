using System.Runtime.InteropServices;
using static Tmds.Linux.LibC;

namespace Vdi.Vmm.Interop;

/// <summary>
/// Calls on other processes and on the process's own session: <c>setsid</c> (Tmds.LibC), and <c>pidfd_open</c> and
/// <c>pidfd_send_signal</c>, which have no wrapper there (raw <c>syscall()</c>). On -1 the errno is in
/// <see cref="LastErrno"/>.
/// </summary>
internal static partial class ProcessCalls
{
    public const long SYS_pidfd_send_signal = 424, SYS_pidfd_open = 434;
    public const int SIGKILL = 9, SIGSTOP = 19;

    [LibraryImport("libc", EntryPoint = "syscall", SetLastError = true)]
    private static partial long Syscall(long number, long a1, long a2, long a3, long a4);

    public static int LastErrno => Marshal.GetLastPInvokeError();

    /// <summary><c>setsid()</c>: a new session and process group led by this process; -1 when it already leads one.</summary>
    public static int NewSession() => setsid();

    /// <summary><c>pidfd_open(pid, 0)</c>: a descriptor that keeps naming this process, whatever later reuses its pid.</summary>
    public static int PidfdOpen(int pid) => (int)Syscall(SYS_pidfd_open, pid, 0, 0, 0);

    /// <summary><c>pidfd_send_signal(pidfd, signal, NULL, 0)</c>.</summary>
    public static int PidfdSendSignal(int pidfd, int signal) => (int)Syscall(SYS_pidfd_send_signal, pidfd, signal, 0, 0);
}
