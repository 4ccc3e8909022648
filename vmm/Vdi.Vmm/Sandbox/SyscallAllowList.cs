using static Vdi.Vmm.Interop.SandboxConstants;

namespace Vdi.Vmm.Sandbox;

/// <summary>A check on one argument of an allowed call (only its low 32 bits, or the whole 64 with <see cref="Whole64"/>).</summary>
/// <param name="Arg">Argument index, 0–5.</param>
/// <param name="Mask">ANDed with the argument before comparing.</param>
/// <param name="Values">The values compared against.</param>
/// <param name="AllowIfMatch">True: the call is allowed only with one of the values; false: one of the values is refused.</param>
/// <param name="Refusal">The filter's answer to a refused argument.</param>
/// <param name="Whole64">Compare the high 32 bits too (only with value 0: "a NULL pointer").</param>
public sealed record ArgumentRule(int Arg, uint Mask, uint[] Values, bool AllowIfMatch, uint Refusal, bool Whole64 = false);

/// <summary>One allowed system call: its name and x86-64 number, why the VMM process makes it, an optional argument rule.</summary>
public sealed record AllowedSyscall(string Name, int Number, string Why, ArgumentRule? Rule = null);

/// <summary>
/// The system calls a desktop's VMM process makes once running, found with <c>strace -f</c> of
/// <c>vdi-vmm run --display 1280x720@96 --type hello --screenshot</c> (and <c>--motion</c>) on both engines, counting
/// only the calls after the display was shown, then proven by running the desktops under the filter (docs/sandbox.md).
/// Everything else is answered with SECCOMP_RET_TRAP, which the <see cref="SigsysReporter"/> turns into one line and
/// a death by SIGSYS.
/// </summary>
public static class SyscallAllowList
{
    /// <summary>clone3 takes its flags in a struct the filter cannot read: it fails with ENOSYS, and glibc falls back to clone.</summary>
    public const int Clone3 = 435;

    /// <summary>The table; <paramref name="processId"/> narrows tgkill to this process's threads.</summary>
    public static IReadOnlyList<AllowedSyscall> For(int processId) =>
    [
        // The hottest calls first: the filter compares numbers one after another (strace -c of a running desktop).
        new("ioctl", 16, "KVM (KVM_RUN and friends on the VM and vCPU fds), terminal queries of stdout"),
        new("futex", 202, "every lock and wait"),
        new("sched_yield", 24, "spin waits"),
        new("mprotect", 10, "JIT (W^X flips), GC commit"),
        new("mmap", 9, "GC heaps, JIT code, guest RAM, the kvm_run pages, shared memory"),
        new("munmap", 11, "GC decommit, guest RAM release"),
        new("madvise", 28, "GC decommit (MADV_DONTNEED), MADV_DONTDUMP of guest RAM"),
        // I/O on descriptors the process already holds (stdout, its socket, KVM fds, eventfds, files in its area).
        new("read", 0, "stdin, eventfds, the runtime's own pipes"),
        new("write", 1, "stdout/stderr, eventfds"),
        new("close", 3, "closing descriptors"),
        new("stat", 4, "file lookups inside the jail (Skia's font scan, the runtime's probes)"),
        new("fstat", 5, "FileStream, runtime"),
        new("poll", 7, "the runtime's waits"),
        new("lseek", 8, "FileStream"),
        new("pread64", 17, "lazily loaded assemblies (read-only bind of the runtime and app folders)"),
        new("pwrite64", 18, "FileStream writes (a screenshot in the process's own folder)"),
        new("readv", 19, "socket and file reads"),
        new("writev", 20, "socket and file writes; the SIGSYS reporter's line"),
        new("fcntl", 72, "FileStream, sockets (O_NONBLOCK, FD_CLOEXEC)"),
        new("flock", 73, "FileStream's advisory lock"),
        new("ftruncate", 77, "FileStream.SetLength; sizing a memfd"),
        new("getdents64", 217, "directory enumeration inside the jail"),
        new("readlink", 89, "path resolution by the runtime"),
        new("fstatfs", 138, "FileStream"),
        new("newfstatat", 262, "file lookups (glibc's fstat/stat)"),
        new("openat", 257, "lazy loads and the process's own files; what it can reach is bounded by the mount jail"),
        new("statx", 332, "file lookups"),
        new("sendmsg", 46, "the control socket"),
        new("recvmsg", 47, "the control socket"),
        new("shutdown", 48, "closing the control socket"),
        new("accept4", 288, "a broker reconnecting to `serve --reconnect-seconds`; socket, bind and listen are refused, so only a listener made before the sandbox can accept"),
        // Memory.
        new("brk", 12, "malloc"),
        new("mremap", 25, "realloc of large native blocks"),
        new("membarrier", 324, "the runtime's FlushProcessWriteBuffers"),
        new("memfd_create", 319, "the scanout shared with the broker"),
        new("get_mempolicy", 239, "the GC's NUMA probe"),
        // Threads, signals, scheduling.
        new("clone", 56, "new threads (thread pool, vCPUs); only with CLONE_THREAD, so no new processes",
            new ArgumentRule(0, (uint)CLONE_THREAD, [(uint)CLONE_THREAD], AllowIfMatch: true, SECCOMP_RET_TRAP)),
        new("set_robust_list", 273, "new threads (glibc)"),
        new("rseq", 334, "new threads (glibc)"),
        new("set_tid_address", 218, "new threads"),
        new("sigaltstack", 131, "the runtime's alternate signal stack per thread"),
        new("rt_sigaction", 13, "the runtime's handlers; never SIGSYS, which belongs to the sandbox's reporter",
            new ArgumentRule(0, uint.MaxValue, [SIGSYS], AllowIfMatch: false, SECCOMP_RET_KILL_PROCESS)),
        new("rt_sigprocmask", 14, "thread signal masks, the vCPU kick signal"),
        new("rt_sigreturn", 15, "returning from signal handlers"),
        new("rt_sigtimedwait", 128, "draining pending vCPU kicks"),
        new("restart_syscall", 219, "a wait interrupted by a signal"),
        new("tgkill", 234, "vCPU kicks and the runtime's thread activation; only this process's threads",
            new ArgumentRule(0, uint.MaxValue, [(uint)processId], AllowIfMatch: true, SECCOMP_RET_TRAP)),
        new("gettid", 186, "thread ids"),
        new("getpid", 39, "the runtime"),
        new("sched_getaffinity", 204, "Environment.ProcessorCount"),
        new("sched_setaffinity", 203, "the runtime's thread placement"),
        new("sched_getparam", 143, "thread priorities"),
        new("sched_setscheduler", 144, "thread priorities"),
        new("sched_getscheduler", 145, "thread priorities"),
        new("sched_get_priority_max", 146, "thread priorities"),
        new("sched_get_priority_min", 147, "thread priorities"),
        new("prctl", 157, "thread names (PR_SET_NAME/PR_GET_NAME) and anonymous-mapping names (PR_SET_VMA) only",
            new ArgumentRule(0, uint.MaxValue, [PR_SET_NAME, PR_GET_NAME, PR_SET_VMA], AllowIfMatch: true, SECCOMP_RET_TRAP)),
        new("exit", 60, "a thread ends"),
        new("exit_group", 231, "the process ends"),
        // Time and waiting.
        new("nanosleep", 35, "Thread.Sleep"),
        new("clock_gettime", 228, "clocks (usually the vDSO, the syscall as fallback)"),
        new("clock_getres", 229, "Stopwatch"),
        new("clock_nanosleep", 230, "sleeps"),
        new("epoll_create1", 291, "the socket engine (the control socket)"),
        new("epoll_ctl", 233, "the socket engine"),
        new("epoll_wait", 232, "the socket engine"),
        new("epoll_pwait", 281, "the socket engine"),
        new("eventfd2", 290, "KVM irqfds, wake-ups"),
        new("pipe2", 293, "the runtime's internal pipes"),
        new("ppoll", 271, "waits"),
        // Queries.
        new("getrandom", 318, "HashCode seeds, Random"),
        new("getrusage", 98, "process CPU time"),
        new("sysinfo", 99, "the GC's memory load"),
        new("prlimit64", 302, "the GC reads RLIMIT_AS; reading only (new limit must be NULL)",
            new ArgumentRule(2, uint.MaxValue, [0], AllowIfMatch: true, SECCOMP_RET_TRAP, Whole64: true)),
    ];
}
