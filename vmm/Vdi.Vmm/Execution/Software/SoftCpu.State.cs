using Iced.Intel;
using Vdi.Vmm.Vcpu;

namespace Vdi.Vmm.Execution.Software;

/// <summary>
/// Hybrid slices (<see cref="Switching.SoftwareSlice"/>): a KVM vCPU's state comes in, runs a hot code region here, and
/// goes back to KVM. Only what the engine models moves: the general registers, RIP, RFLAGS, the IDT register and the
/// control registers with EFER (so the slice translates through the guest's own page tables); the rest (segments,
/// other MSRs, FPU/SSE, the local APIC) stays in KVM and must be what the engine assumes, which the caller checks
/// before importing. A slice cannot change a control register (<c>mov cr</c>, <c>invlpg</c> and <c>wrmsr</c> end it,
/// and so does any exception), so nothing of them needs to go back.
/// </summary>
internal sealed partial class SoftCpu
{
    public const ulong CarryFlag = 1UL << 0;
    public const ulong ParityFlag = 1UL << 2;
    public const ulong AuxiliaryCarryFlag = 1UL << 4;
    public const ulong ZeroFlag = 1UL << 6;
    public const ulong SignFlag = 1UL << 7;
    public const ulong OverflowFlag = 1UL << 11;

    /// <summary>RFLAGS bits the engine computes or holds: CF, ZF, SF, IF, OF and the always-set bit 1.</summary>
    public const ulong ModelledFlags = 0x2 | CarryFlag | ZeroFlag | SignFlag | InterruptFlag | OverflowFlag;

    /// <summary>
    /// PF and AF: not computed by the engine, so a slice hands back the values it received. Nothing the engine runs reads
    /// them (jp/jnp/cmovp, pushf and lahf end a slice), so only code run later in KVM could see the stale bits.
    /// </summary>
    public const ulong CarriedFlags = ParityFlag | AuxiliaryCarryFlag;

    private ulong _carriedFlags;

    /// <summary>
    /// Hybrid mode: KVM's in-kernel local APIC owns this vCPU's interrupts (it keeps them pending during a slice), so
    /// <see cref="Step"/> never delivers one.
    /// </summary>
    public bool HybridMode { get; set; }

    /// <summary>
    /// Takes a vCPU's registers, RIP, RFLAGS, IDT register and control registers. RFLAGS must hold only
    /// <see cref="ModelledFlags"/> and <see cref="CarriedFlags"/> (no DF, TF, AC, ...); the control registers must be
    /// what <see cref="Models"/> accepts. Decoded instructions and the TLB are dropped: code and page tables may have
    /// changed while another engine ran the guest.
    /// </summary>
    public void ImportState(in VcpuRegisters r, ulong idtBase, ushort idtLimit, in SoftControlRegisters control)
    {
        if ((r.Rflags & ~(ModelledFlags | CarriedFlags)) != 0)
            throw new ArgumentException($"RFLAGS 0x{r.Rflags:X} has bits the software engine does not model", nameof(r));
        SetControlRegisters(control);
        var g = Registers;
        g[(int)Gpr.Rax] = r.Rax;
        g[(int)Gpr.Rcx] = r.Rcx;
        g[(int)Gpr.Rdx] = r.Rdx;
        g[(int)Gpr.Rbx] = r.Rbx;
        g[(int)Gpr.Rsp] = r.Rsp;
        g[(int)Gpr.Rbp] = r.Rbp;
        g[(int)Gpr.Rsi] = r.Rsi;
        g[(int)Gpr.Rdi] = r.Rdi;
        g[8] = r.R8;
        g[9] = r.R9;
        g[10] = r.R10;
        g[11] = r.R11;
        g[12] = r.R12;
        g[13] = r.R13;
        g[14] = r.R14;
        g[15] = r.R15;
        Rip = r.Rip;
        Rflags = r.Rflags;
        _carriedFlags = r.Rflags & CarriedFlags;
        IdtBase = idtBase;
        IdtLimit = idtLimit;
        Halted = false;
        _interruptShadow = false;
        InvalidateDecodedCode();
    }

    /// <summary>The state to hand back: registers, RIP and RFLAGS with the carried PF/AF bits.</summary>
    public VcpuRegisters ExportState() => GetRegisters() with { Rflags = Rflags | _carriedFlags };

    /// <summary>
    /// True when a hybrid slice may run <paramref name="i"/> here: the engine models it in this form (keep in step with
    /// <see cref="ExecuteOne"/>), it touches only general registers and flat memory, and it needs nothing that only
    /// KVM provides — <c>hlt</c>, <c>sti</c>, <c>iretq</c>, <c>lidt</c> and exceptions (<c>ud2</c>, <c>int3</c>) end a
    /// slice before them. <c>lock</c>ed read-modify-writes run: they are host atomics or guarded segments.
    /// </summary>
    public static bool RunsInSlice(in Instruction i)
    {
        if (i.HasRepnePrefix)
            return false;
        // Locked read-modify-writes of memory are host atomics (or guarded segments that stall every other vCPU, the
        // ones in KVM_RUN too), so they keep x86 semantics against vCPUs running on hardware.
        if (i.HasLockPrefix && !(i.Op0Kind == OpKind.Memory && i.Mnemonic is Mnemonic.Add or Mnemonic.Sub or Mnemonic.And
                or Mnemonic.Or or Mnemonic.Xor or Mnemonic.Inc or Mnemonic.Dec or Mnemonic.Xadd or Mnemonic.Cmpxchg or Mnemonic.Xchg))
            return false;
        for (var n = 0; n < i.OpCount; n++)
        {
            switch (i.GetOpKind(n))
            {
                case OpKind.Register when !i.GetOpRegister(n).IsGPR():
                    return false;
                case OpKind.Memory when i.MemorySegment is Register.FS or Register.GS: // the engine has no segment bases
                    return false;
                default:
                    break;
            }
        }
        if (i.ConditionCode is ConditionCode.p or ConditionCode.np)
            return false;
        return i.Mnemonic switch
        {
            Mnemonic.Mov or Mnemonic.Movzx or Mnemonic.Lea => true,
            Mnemonic.Push or Mnemonic.Pop => OperandSize(i, 0) == 8, // the engine's stack moves in qwords only
            Mnemonic.Add or Mnemonic.Sub or Mnemonic.Cmp or Mnemonic.And or Mnemonic.Or or Mnemonic.Xor or Mnemonic.Test => true,
            Mnemonic.Inc or Mnemonic.Dec or Mnemonic.Shl or Mnemonic.Shr or Mnemonic.Xadd => true,
            Mnemonic.Cmpxchg or Mnemonic.Xchg => i.Op0Kind == OpKind.Memory, // the engine models their memory forms
            Mnemonic.In or Mnemonic.Out or Mnemonic.Pause or Mnemonic.Nop or Mnemonic.Cli => true,
            Mnemonic.Call or Mnemonic.Jmp => i.Op0Kind == OpKind.NearBranch64,
            Mnemonic.Ret => i.OpCount == 0,
            Mnemonic.Div => OperandSize(i, 0) >= 4,
            Mnemonic.Imul => i.OpCount >= 2,
            Mnemonic.Stosb or Mnemonic.Stosd or Mnemonic.Stosq => i.Op0Kind == OpKind.MemoryESRDI,
            Mnemonic.Movsd => i.Code == Code.Movsd_m32_m32 && i.Op0Kind == OpKind.MemoryESRDI,
            _ when i.FlowControl == FlowControl.ConditionalBranch => i.ConditionCode != ConditionCode.None && i.Op0Kind == OpKind.NearBranch64,
            _ => i.Mnemonic is >= Mnemonic.Cmova and <= Mnemonic.Cmovs && i.ConditionCode != ConditionCode.None,
        };
    }
}
