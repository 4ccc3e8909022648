using Vdi.Vmm.Interop;

namespace Vdi.Vmm.Vcpu;

/// <summary>A vCPU's general-purpose registers, RIP and RFLAGS.</summary>
public readonly record struct VcpuRegisters(
    ulong Rax, ulong Rbx, ulong Rcx, ulong Rdx, ulong Rsi, ulong Rdi, ulong Rsp, ulong Rbp,
    ulong R8, ulong R9, ulong R10, ulong R11, ulong R12, ulong R13, ulong R14, ulong R15,
    ulong Rip, ulong Rflags)
{
    internal static VcpuRegisters From(in kvm_regs r) => new(
        r.rax, r.rbx, r.rcx, r.rdx, r.rsi, r.rdi, r.rsp, r.rbp,
        r.r8, r.r9, r.r10, r.r11, r.r12, r.r13, r.r14, r.r15, r.rip, r.rflags);

    internal kvm_regs ToKvm() => new()
    {
        rax = Rax, rbx = Rbx, rcx = Rcx, rdx = Rdx, rsi = Rsi, rdi = Rdi, rsp = Rsp, rbp = Rbp,
        r8 = R8, r9 = R9, r10 = R10, r11 = R11, r12 = R12, r13 = R13, r14 = R14, r15 = R15,
        rip = Rip, rflags = Rflags,
    };

    public override string ToString() =>
        $"rip={Rip:X16} rflags={Rflags:X8} rsp={Rsp:X16} rbp={Rbp:X16}\n" +
        $"rax={Rax:X16} rbx={Rbx:X16} rcx={Rcx:X16} rdx={Rdx:X16}\n" +
        $"rsi={Rsi:X16} rdi={Rdi:X16} r8={R8:X16} r9={R9:X16}\n" +
        $"r10={R10:X16} r11={R11:X16} r12={R12:X16} r13={R13:X16} r14={R14:X16} r15={R15:X16}";
}

/// <summary>Control registers and EFER, for crash reports.</summary>
public readonly record struct VcpuSpecialRegisters(ulong Cr0, ulong Cr2, ulong Cr3, ulong Cr4, ulong Efer, ushort Cs, ulong IdtBase, ushort IdtLimit)
{
    internal static VcpuSpecialRegisters From(in kvm_sregs s) =>
        new(s.cr0, s.cr2, s.cr3, s.cr4, s.efer, s.cs.selector, s.idt.@base, s.idt.limit);

    public override string ToString() =>
        $"cr0={Cr0:X} cr2={Cr2:X} cr3={Cr3:X} cr4={Cr4:X} efer={Efer:X} cs={Cs:X} idt={IdtBase:X}/{IdtLimit:X}";
}

/// <summary>Register access for the vCPU that is handling an exit (on its own thread).</summary>
public interface IVcpuRegisterAccess
{
    VcpuRegisters GetRegisters();

    void SetRegisters(in VcpuRegisters registers);
}
