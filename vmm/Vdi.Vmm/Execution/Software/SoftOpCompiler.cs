using Iced.Intel;

namespace Vdi.Vmm.Execution.Software;

/// <summary>
/// Turns an Iced instruction into a <see cref="SoftOp"/>: picks a specialised handler for the common forms (register,
/// immediate and plain 64-bit-addressed memory operands of mov/alu/inc/dec/push/pop/branches) and the generic one for
/// everything else, and marks what must end a block.
/// </summary>
internal static class SoftOpCompiler
{
    public static SoftOp Compile(in Instruction i)
    {
        var op = new SoftOp
        {
            Instruction = i,
            Ip = i.IP,
            Next = i.NextIP,
            Handler = OpHandler.Generic,
            Base = SoftOp.NoRegister,
            Index = SoftOp.NoRegister,
            Locked = i.HasLockPrefix,
            EndsBlock = EndsBlock(i),
        };
        if (i.Code == Code.INVALID)
        {
            op.Handler = OpHandler.Invalid;
            op.EndsBlock = true;
            return op;
        }
        if (i.FlowControl is FlowControl.UnconditionalBranch or FlowControl.ConditionalBranch or FlowControl.Call)
            op.Target = i.NearBranchTarget;
        op.Handler = Choose(i, ref op);
        return op;
    }

    private static bool EndsBlock(in Instruction i) =>
        i.FlowControl != FlowControl.Next
        || i.Mnemonic is Mnemonic.Sti or Mnemonic.Cli or Mnemonic.Hlt or Mnemonic.Lidt or Mnemonic.Popfq or Mnemonic.Popf
            or Mnemonic.In or Mnemonic.Out or Mnemonic.Div or Mnemonic.Invlpg or Mnemonic.Wrmsr
        || (i.Mnemonic == Mnemonic.Mov && i.Op0Kind == OpKind.Register && i.Op0Register.IsCR()); // the translation may change

    private static OpHandler Choose(in Instruction i, ref SoftOp op)
    {
        if (i.HasRepPrefix || i.HasRepnePrefix)
            return OpHandler.Generic;
        switch (i.Mnemonic)
        {
            case Mnemonic.Nop or Mnemonic.Pause:
                return OpHandler.Nop;
            case Mnemonic.Jmp when i.Op0Kind is OpKind.NearBranch64:
                return OpHandler.Jmp;
            case Mnemonic.Call when i.Op0Kind is OpKind.NearBranch64:
                return OpHandler.Call;
            case Mnemonic.Ret when i.OpCount == 0:
                return OpHandler.Ret;
            case Mnemonic.Push when i.OpCount == 1 && Gpr(i, 0, ref op.Src) && i.Op0Register.GetSize() == 8:
                return OpHandler.PushR;
            case Mnemonic.Pop when i.OpCount == 1 && Gpr(i, 0, ref op.Dst) && i.Op0Register.GetSize() == 8:
                return OpHandler.PopR;
            case Mnemonic.Lea when Gpr(i, 0, ref op.Dst) && i.Op0Register.GetSize() >= 4 && Memory(i, ref op, anySize: true):
                op.Size = (byte)i.Op0Register.GetSize();
                op.Mask = MaskOf(op.Size);
                return OpHandler.Lea;
            case Mnemonic.Mov or Mnemonic.Movzx:
                return Mov(i, ref op);
            case Mnemonic.Add or Mnemonic.Sub or Mnemonic.Cmp or Mnemonic.And or Mnemonic.Or or Mnemonic.Xor or Mnemonic.Test:
                op.Alu = i.Mnemonic switch
                {
                    Mnemonic.Add => AluOp.Add,
                    Mnemonic.Sub => AluOp.Sub,
                    Mnemonic.Cmp => AluOp.Cmp,
                    Mnemonic.And => AluOp.And,
                    Mnemonic.Or => AluOp.Or,
                    Mnemonic.Xor => AluOp.Xor,
                    _ => AluOp.Test,
                };
                return Alu(i, ref op);
            case Mnemonic.Inc or Mnemonic.Dec:
                op.Alu = i.Mnemonic == Mnemonic.Inc ? AluOp.Inc : AluOp.Dec;
                op.Immediate = 1;
                if (Gpr(i, 0, ref op.Dst))
                    return Sized(ref op, i.Op0Register.GetSize(), OpHandler.IncDecR);
                return Memory(i, ref op) ? OpHandler.IncDecM : OpHandler.Generic;
            case Mnemonic.Jo or Mnemonic.Jno or Mnemonic.Jb or Mnemonic.Jae or Mnemonic.Je or Mnemonic.Jne or Mnemonic.Jbe
                or Mnemonic.Ja or Mnemonic.Js or Mnemonic.Jns or Mnemonic.Jl or Mnemonic.Jge or Mnemonic.Jle or Mnemonic.Jg
                when i.Op0Kind is OpKind.NearBranch64:
                op.Condition = i.ConditionCode;
                return op.Condition switch
                {
                    ConditionCode.e => OpHandler.Jz,
                    ConditionCode.ne => OpHandler.Jnz,
                    _ => OpHandler.Jcc,
                };
            case Mnemonic.Xadd or Mnemonic.Cmpxchg or Mnemonic.Xchg:
                return Exchange(i, ref op);
            default:
                return OpHandler.Generic;
        }
    }

    private static OpHandler Mov(in Instruction i, ref SoftOp op)
    {
        var k0 = i.Op0Kind;
        var k1 = i.Op1Kind;
        if (k0 == OpKind.Register && Gpr(i, 0, ref op.Dst))
        {
            var size = i.Op0Register.GetSize();
            if (k1 == OpKind.Register && Gpr(i, 1, ref op.Src))
                return i.Mnemonic == Mnemonic.Mov ? Sized(ref op, size, OpHandler.MovRR) : OpHandler.Generic;
            if (k1 == OpKind.Memory && Memory(i, ref op))
            {
                op.LoadSize = op.Size;
                return Sized(ref op, size, OpHandler.MovRM);
            }
            if (k1 is OpKind.Immediate8 or OpKind.Immediate16 or OpKind.Immediate32 or OpKind.Immediate64 or OpKind.Immediate32to64)
            {
                Sized(ref op, size, OpHandler.MovRI);
                op.Immediate = i.GetImmediate(1) & op.Mask;
                return OpHandler.MovRI;
            }
            return OpHandler.Generic;
        }
        if (k0 == OpKind.Memory && i.Mnemonic == Mnemonic.Mov && Memory(i, ref op))
        {
            if (k1 == OpKind.Register && Gpr(i, 1, ref op.Src))
                return OpHandler.MovMR;
            if (k1 is OpKind.Immediate8 or OpKind.Immediate16 or OpKind.Immediate32 or OpKind.Immediate32to64)
            {
                op.Immediate = i.GetImmediate(1) & op.Mask;
                return OpHandler.MovMI;
            }
        }
        return OpHandler.Generic;
    }

    private static OpHandler Alu(in Instruction i, ref SoftOp op)
    {
        var k1 = i.Op1Kind;
        var immediate = k1 is OpKind.Immediate8 or OpKind.Immediate8to16 or OpKind.Immediate8to32 or OpKind.Immediate8to64
            or OpKind.Immediate16 or OpKind.Immediate32 or OpKind.Immediate32to64;
        if (i.Op0Kind == OpKind.Register && Gpr(i, 0, ref op.Dst))
        {
            Sized(ref op, i.Op0Register.GetSize(), OpHandler.AluRR);
            if (k1 == OpKind.Register && Gpr(i, 1, ref op.Src))
                return OpHandler.AluRR;
            if (immediate)
            {
                op.Immediate = i.GetImmediate(1) & op.Mask;
                return OpHandler.AluRI;
            }
            if (k1 == OpKind.Memory && Memory(i, ref op))
                return OpHandler.AluRM;
            return OpHandler.Generic;
        }
        if (i.Op0Kind == OpKind.Memory && Memory(i, ref op))
        {
            if (k1 == OpKind.Register && Gpr(i, 1, ref op.Src))
                return OpHandler.AluMR;
            if (immediate)
            {
                op.Immediate = i.GetImmediate(1) & op.Mask;
                return OpHandler.AluMI;
            }
        }
        return OpHandler.Generic;
    }

    /// <summary>xadd, cmpxchg and xchg with a memory destination and a register source (register forms stay generic).</summary>
    private static OpHandler Exchange(in Instruction i, ref SoftOp op)
    {
        var memoryFirst = i.Op0Kind == OpKind.Memory;
        if (i.OpCount != 2 || !Gpr(i, memoryFirst ? 1 : 0, ref op.Src) || !Memory(i, ref op))
            return OpHandler.Generic;
        if (!memoryFirst && i.Mnemonic != Mnemonic.Xchg)
            return OpHandler.Generic;
        switch (i.Mnemonic)
        {
            case Mnemonic.Xadd:
                return OpHandler.Xadd;
            case Mnemonic.Cmpxchg:
                return OpHandler.Cmpxchg;
            default:
                op.Locked = true; // xchg with memory is locked whether or not it says so
                return OpHandler.XchgM;
        }
    }

    private static OpHandler Sized(ref SoftOp op, int size, OpHandler handler)
    {
        op.Size = (byte)size;
        op.Mask = MaskOf(size);
        return handler;
    }

    /// <summary>A general-purpose register other than AH/CH/DH/BH; its full-register index goes to <paramref name="index"/>.</summary>
    private static bool Gpr(in Instruction i, int operand, ref byte index)
    {
        if (i.GetOpKind(operand) != OpKind.Register)
            return false;
        var register = i.GetOpRegister(operand);
        if (!register.IsGPR() || register is Register.AH or Register.CH or Register.DH or Register.BH)
            return false;
        index = (byte)(register.GetFullRegister() - Register.RAX);
        return true;
    }

    /// <summary>A flat 64-bit-addressed memory operand (ds/ss/es segments, no fs/gs); sets the size and addressing fields.</summary>
    private static bool Memory(in Instruction i, ref SoftOp op, bool anySize = false)
    {
        var size = i.MemorySize.GetSize();
        if ((!anySize && size is not (1 or 2 or 4 or 8)) || i.MemorySegment is Register.FS or Register.GS)
            return false;
        if (i.IsIPRelativeMemoryOperand)
        {
            op.Displacement = i.IPRelativeMemoryAddress;
        }
        else
        {
            if ((i.MemoryBase != Register.None && !i.MemoryBase.IsGPR64()) || (i.MemoryIndex != Register.None && !i.MemoryIndex.IsGPR64()))
                return false;
            op.Displacement = i.MemoryDisplacement64;
            op.Base = i.MemoryBase == Register.None ? SoftOp.NoRegister : (byte)(i.MemoryBase - Register.RAX);
            op.Index = i.MemoryIndex == Register.None ? SoftOp.NoRegister : (byte)(i.MemoryIndex - Register.RAX);
            op.ScaleShift = (byte)System.Numerics.BitOperations.Log2((uint)i.MemoryIndexScale);
        }
        op.Size = (byte)size;
        op.LoadSize = (byte)size;
        op.Mask = MaskOf(size);
        return true;
    }

    public static ulong MaskOf(int size) => size >= 8 ? ulong.MaxValue : (1UL << (size * 8)) - 1;
}
