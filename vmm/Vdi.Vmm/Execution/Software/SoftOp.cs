using Iced.Intel;

namespace Vdi.Vmm.Execution.Software;

/// <summary>How a pre-decoded instruction runs: a specialised form, or the generic path over Iced's instruction.</summary>
internal enum OpHandler : byte
{
    Generic,
    Invalid,
    Nop,
    MovRR,
    MovRI,
    MovRM,
    MovMR,
    MovMI,
    Lea,
    AluRR,
    AluRI,
    AluRM,
    AluMR,
    AluMI,
    IncDecR,
    IncDecM,
    Jcc,
    Jz,
    Jnz,
    Jmp,
    Call,
    Ret,
    PushR,
    PopR,
    Xadd,
    Cmpxchg,
    XchgM,
}

/// <summary>Two-operand ALU operations (and inc/dec, which reuse Add and Sub without touching CF).</summary>
internal enum AluOp : byte { Add, Sub, Cmp, And, Or, Xor, Test, Inc, Dec }

/// <summary>
/// One pre-decoded instruction: its handler, operand size, register indices, immediate and addressing parts, so the
/// hot path reads plain fields instead of asking Iced per operand. <see cref="Instruction"/> stays for the generic path
/// and for reports.
/// </summary>
internal struct SoftOp
{
    public const byte NoRegister = 0xFF;

    public Instruction Instruction;
    public ulong Ip;
    public ulong Next;
    public ulong Target;      // branch target
    public ulong Immediate;   // masked to the operand size
    public ulong Mask;        // of the operand size
    public ulong Displacement;
    public OpHandler Handler;
    public AluOp Alu;
    public byte Size;         // operand size in bytes
    public byte LoadSize;     // memory read size (movzx: smaller than Size)
    public byte Dst;          // register index (0–15)
    public byte Src;
    public byte Base;         // NoRegister when absent
    public byte Index;        // NoRegister when absent
    public byte ScaleShift;
    public ConditionCode Condition;

    /// <summary>lock prefix, or xchg with memory (implicitly locked).</summary>
    public bool Locked;

    /// <summary>Nothing after this instruction in its block may run before the CPU looks again (branch, sti, hlt, ...).</summary>
    public bool EndsBlock;
}

/// <summary>A run of pre-decoded instructions ending at a branch, an instruction with global effects, or a page end.</summary>
internal sealed class SoftBlock(ulong start, long version, SoftOp[] ops)
{
    public readonly ulong Start = start;
    public readonly long Version = version;
    public readonly SoftOp[] Ops = ops;

    /// <summary>Holds a locked instruction: a guarded run may go on through this block.</summary>
    public readonly bool HasLocked = Array.Exists(ops, o => o.Locked);

    /// <summary>The blocks that last followed this one (taken and fall-through), so a loop needs no lookup.</summary>
    public SoftBlock? Link0;
    public SoftBlock? Link1;
}
