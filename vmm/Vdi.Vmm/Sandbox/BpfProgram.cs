using System.Runtime.InteropServices;
using static Vdi.Vmm.Interop.SandboxConstants;

namespace Vdi.Vmm.Sandbox;

/// <summary>One classic BPF instruction, <c>struct sock_filter</c> (8 bytes).</summary>
[StructLayout(LayoutKind.Sequential)]
public readonly record struct SockFilter(ushort Code, byte Jt, byte Jf, uint K);

/// <summary>
/// Builds the seccomp filter as a classic BPF program: the architecture must be x86-64 (else the process is killed),
/// x32 numbers are refused (killed), each allowed call returns ALLOW (after its argument rule, if any), clone3 fails
/// with ENOSYS, and anything else returns <see cref="DefaultAction"/>. A plain function of the table, tested without
/// installing it.
/// </summary>
public static class BpfProgram
{
    /// <summary>What a call outside the list gets: a trap, which the reporter turns into a line and a death by SIGSYS.</summary>
    public const uint DefaultAction = SECCOMP_RET_TRAP;

    public static SockFilter[] Build(IReadOnlyList<AllowedSyscall> allowed)
    {
        var p = new List<SockFilter>
        {
            Load(SeccompDataArch),
            Jump(BPF_JEQ, AUDIT_ARCH_X86_64, 1, 0),
            Return(SECCOMP_RET_KILL_PROCESS),
            Load(SeccompDataNr),
            Jump(BPF_JGE, __X32_SYSCALL_BIT, 0, 1),
            Return(SECCOMP_RET_KILL_PROCESS),
            Jump(BPF_JEQ, SyscallAllowList.Clone3, 0, 1),
            Return(SECCOMP_RET_ERRNO | ENOSYS),
        };
        foreach (var call in allowed)
        {
            var body = Body(call.Rule);
            p.Add(Jump(BPF_JEQ, (uint)call.Number, 0, checked((byte)body.Count)));
            p.AddRange(body);
        }
        p.Add(Return(DefaultAction));
        return [.. p];
    }

    /// <summary>Instructions run when the number matched; every path returns, so the accumulator may be clobbered.</summary>
    private static List<SockFilter> Body(ArgumentRule? rule)
    {
        if (rule is null)
            return [Return(SECCOMP_RET_ALLOW)];
        var (onMatch, onMiss) = rule.AllowIfMatch ? (SECCOMP_RET_ALLOW, rule.Refusal) : (rule.Refusal, SECCOMP_RET_ALLOW);
        var low = (uint)(SeccompDataArgs + 8 * rule.Arg);
        if (rule.Whole64)
        {
            // Both halves must be zero (a NULL pointer).
            return [Load(low), Jump(BPF_JEQ, 0, 0, 2), Load(low + 4), Jump(BPF_JEQ, 0, 1, 0), Return(onMiss), Return(onMatch)];
        }
        var body = new List<SockFilter> { Load(low) };
        if (rule.Mask != uint.MaxValue)
            body.Add(new SockFilter((ushort)(BPF_ALU | BPF_AND | BPF_K), 0, 0, rule.Mask));
        var n = rule.Values.Length;
        for (var j = 0; j < n; j++)
            body.Add(Jump(BPF_JEQ, rule.Values[j], checked((byte)(n - j)), 0));
        body.Add(Return(onMiss));
        body.Add(Return(onMatch));
        return body;
    }

    private static SockFilter Load(uint offset) => new((ushort)(BPF_LD | BPF_W | BPF_ABS), 0, 0, offset);

    private static SockFilter Jump(ushort op, uint k, byte jt, byte jf) => new((ushort)(BPF_JMP | op | BPF_K), jt, jf, k);

    private static SockFilter Return(uint action) => new((ushort)(BPF_RET | BPF_K), 0, 0, action);
}
