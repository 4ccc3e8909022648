namespace Vdi.Vmm.Interop;

/// <summary>
/// Constants from <c>linux/seccomp.h</c>, <c>linux/filter.h</c>, <c>linux/audit.h</c>, <c>linux/prctl.h</c>,
/// <c>linux/mount.h</c>, <c>linux/sched.h</c> and <c>asm/unistd_64.h</c> that the sandbox uses, with their C names.
/// </summary>
internal static class SandboxConstants
{
    // x86-64 system call numbers the sandbox itself makes.
    public const int SYS_rt_sigaction = 13;
    public const int SYS_setpriority = 141;
    public const int SYS_pivot_root = 155;
    public const int SYS_prctl = 157;
    public const int SYS_mount = 165;
    public const int SYS_umount2 = 166;
    public const int SYS_prlimit64 = 302;
    public const int SYS_seccomp = 317;

    // prctl options.
    public const int PR_SET_NO_NEW_PRIVS = 38;
    public const int PR_GET_NO_NEW_PRIVS = 39;
    public const int PR_SET_NAME = 15;
    public const int PR_GET_NAME = 16;
    public const int PR_SET_VMA = 0x53564d41;

    // seccomp(2).
    public const int SECCOMP_SET_MODE_FILTER = 1;
    public const uint SECCOMP_FILTER_FLAG_TSYNC = 1u << 0;
    public const uint SECCOMP_RET_KILL_PROCESS = 0x80000000u;
    public const uint SECCOMP_RET_TRAP = 0x00030000u;
    public const uint SECCOMP_RET_ERRNO = 0x00050000u;
    public const uint SECCOMP_RET_ALLOW = 0x7fff0000u;
    public const uint AUDIT_ARCH_X86_64 = 0xC000003Eu;
    /// <summary>System call numbers with this bit set are the x32 ABI's, which the filter refuses.</summary>
    public const uint __X32_SYSCALL_BIT = 0x40000000u;

    // struct seccomp_data { int nr; __u32 arch; __u64 instruction_pointer; __u64 args[6]; }
    public const int SeccompDataNr = 0;
    public const int SeccompDataArch = 4;
    public const int SeccompDataArgs = 16;

    // Classic BPF opcodes (linux/filter.h).
    public const ushort BPF_LD = 0x00, BPF_JMP = 0x05, BPF_RET = 0x06, BPF_ALU = 0x04;
    public const ushort BPF_W = 0x00, BPF_ABS = 0x20, BPF_K = 0x00;
    public const ushort BPF_JEQ = 0x10, BPF_JGE = 0x30, BPF_AND = 0x50;

    // siginfo_t for SIGSYS (SYS_SECCOMP): si_call_addr at 16, si_syscall at 24, si_arch at 28.
    public const int SIGSYS = 31;
    public const int SiginfoSyscall = 24;
    public const ulong SA_SIGINFO = 0x4;
    public const ulong SA_RESTORER = 0x04000000;
    public const int ENOSYS = 38;

    // clone flags.
    public const ulong CLONE_THREAD = 0x10000;

    // mount(2) flags.
    public const ulong MS_RDONLY = 1, MS_NOSUID = 2, MS_NODEV = 4, MS_REMOUNT = 32, MS_BIND = 4096;
    public const ulong MS_REC = 16384, MS_PRIVATE = 1 << 18;
    public const int MNT_DETACH = 2;

    // Resource limits.
    public const int RLIMIT_DATA = 2, RLIMIT_CORE = 4;
    public const int PRIO_PROCESS = 0;
}
