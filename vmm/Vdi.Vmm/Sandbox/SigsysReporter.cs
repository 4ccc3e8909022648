using Iced.Intel;
using Vdi.Vmm.Interop;
using static Iced.Intel.AssemblerRegisters;
using static Vdi.Vmm.Interop.SandboxConstants;

namespace Vdi.Vmm.Sandbox;

/// <summary>
/// Tells the parent which system call the filter refused. A forbidden call gets SECCOMP_RET_TRAP: the kernel skips
/// it and raises SIGSYS in the calling thread with the call's number in <c>siginfo.si_syscall</c>. This class
/// installs a native SIGSYS handler — a few dozen instructions assembled here with Iced, in a page of its own, since
/// a managed handler cannot run on an arbitrary thread at an arbitrary point — that writes
/// <c>vdi-vmm: sandbox: forbidden system call N</c> to stderr in one <c>writev</c>, then calls
/// <c>rt_sigaction(SIGSYS, …)</c>, which the filter answers with SECCOMP_RET_KILL_PROCESS: the process dies by
/// SIGSYS, so the parent sees both the line and the signal (<see cref="SandboxExit"/>). Since the filter kills any
/// attempt to change the SIGSYS handler, code that takes over the process cannot silence the reporter that way;
/// and whatever happens to the report, a refused call is never executed.
/// </summary>
public static unsafe class SigsysReporter
{
    /// <summary>The line's fixed start; the decimal number and a newline follow.</summary>
    public const string Prefix = "vdi-vmm: sandbox: forbidden system call ";

    private const int SYS_writev = 20, SYS_exit_group = 231, SYS_rt_sigreturn = 15;

    /// <summary>The handler's page (code, restorer, prefix), made once and never unmapped.</summary>
    private static nint s_page;
    private static int s_restorerOffset;

    /// <summary>Installs the handler for SIGSYS, writing to <paramref name="reportFd"/>; returns null, or why not.</summary>
    public static string? Install(int reportFd = 2)
    {
        if (s_page == 0)
        {
            if (!Assemble(reportFd, out var page))
                return "no executable page for the SIGSYS handler";
            s_page = page;
        }
        var action = stackalloc ulong[4];
        action[0] = (ulong)s_page;                              // sa_handler (sa_sigaction)
        action[1] = SA_SIGINFO | SA_RESTORER;                   // sa_flags; x86-64 requires a restorer
        action[2] = (ulong)s_page + (ulong)s_restorerOffset;    // sa_restorer
        action[3] = ulong.MaxValue;                             // sa_mask: block everything while reporting
        // SAFETY: action is a local struct kernel_sigaction (handler, flags, restorer, 64-bit mask) the kernel copies.
        var result = SandboxCalls.Call(SYS_rt_sigaction, SIGSYS, (long)action, 0, 8);
        return result == 0 ? null : $"rt_sigaction(SIGSYS) failed: {LibcCalls.Describe(SandboxCalls.LastErrno)}";
    }

    private static bool Assemble(int reportFd, out nint page)
    {
        page = LibcCalls.MapAnonymous(4096);
        if (page == 0)
            return false;
        var a = new Assembler(64);
        var digits = a.CreateLabel();
        var prefix = a.CreateLabel();
        var restorer = a.CreateLabel();
        // rdi = signal, rsi = siginfo_t*, rdx = ucontext_t*; the handler never returns.
        a.sub(rsp, 256);
        a.and(rsp, -16);
        a.mov(eax, __dword_ptr[rsi + SiginfoSyscall]);
        a.lea(r8, __[rsp + 64]);              // the newline; digits are written backwards before it
        a.mov(__byte_ptr[r8], 10);
        a.mov(r9, r8);
        a.mov(ecx, 10);
        a.Label(ref digits);
        a.xor(edx, edx);
        a.div(ecx);
        a.add(dl, (byte)'0');
        a.dec(r9);
        a.mov(__byte_ptr[r9], dl);
        a.test(eax, eax);
        a.jnz(digits);
        // struct iovec[2] at rsp+96: { prefix, length }, { digits, count + newline }.
        a.lea(rax, __[prefix]);
        a.mov(__qword_ptr[rsp + 96], rax);
        a.mov(__qword_ptr[rsp + 104], Prefix.Length);
        a.mov(__qword_ptr[rsp + 112], r9);
        a.lea(rax, __[r8 + 1]);
        a.sub(rax, r9);
        a.mov(__qword_ptr[rsp + 120], rax);
        a.mov(eax, SYS_writev);
        a.mov(edi, reportFd);
        a.lea(rsi, __[rsp + 96]);
        a.mov(edx, 2);
        a.syscall();
        // rt_sigaction(SIGSYS, NULL, NULL, 8): the filter kills the process with SIGSYS.
        a.mov(eax, SYS_rt_sigaction);
        a.mov(edi, SIGSYS);
        a.xor(esi, esi);
        a.xor(edx, edx);
        a.mov(r10d, 8);
        a.syscall();
        // Only reached without the filter: end the process anyway.
        a.mov(eax, SYS_exit_group);
        a.mov(edi, 128 + SIGSYS);
        a.syscall();
        a.hlt();
        a.Label(ref restorer);
        a.mov(eax, SYS_rt_sigreturn);
        a.syscall();
        a.Label(ref prefix);
        a.db(System.Text.Encoding.ASCII.GetBytes(Prefix));

        using var stream = new MemoryStream();
        var result = a.Assemble(new StreamCodeWriter(stream), (ulong)page, BlockEncoderOptions.ReturnNewInstructionOffsets);
        var bytes = stream.ToArray();
        s_restorerOffset = (int)(result.GetLabelRIP(restorer) - (ulong)page);
        // SAFETY: page is a fresh 4 KiB read-write mapping and the code is far smaller.
        bytes.CopyTo(new Span<byte>((void*)page, 4096));
        // SAFETY: page is the mapping made above; from here on it is read-only and executable.
        return Tmds.Linux.LibC.mprotect((void*)page, 4096, Tmds.Linux.LibC.PROT_READ | Tmds.Linux.LibC.PROT_EXEC) == 0;
    }
}
