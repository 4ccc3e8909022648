using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Vdi.Vmm.Execution.Software;

/// <summary>
/// The hot path of <see cref="SoftCpu"/>: one case per specialised <see cref="OpHandler"/>, reading the pre-decoded
/// fields of a <see cref="SoftOp"/>; everything else falls to the generic per-mnemonic path. Every handler makes its
/// memory and port accesses before it commits registers, flags or RIP, so a <see cref="SoftwareSliceExit"/> from the
/// bus leaves the vCPU as it was.
/// </summary>
internal sealed partial class SoftCpu
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void Execute(ref SoftOp op)
    {
        switch (op.Handler)
        {
            case OpHandler.MovRR:
                SetReg(op.Dst, op.Size, Reg(op.Src));
                break;
            case OpHandler.MovRI:
                SetReg(op.Dst, op.Size, op.Immediate);
                break;
            case OpHandler.MovRM:
                SetReg(op.Dst, op.Size, ReadMem(Address(ref op), op.LoadSize));
                break;
            case OpHandler.MovMR:
                WriteMem(Address(ref op), op.Size, Reg(op.Src) & op.Mask);
                break;
            case OpHandler.MovMI:
                WriteMem(Address(ref op), op.Size, op.Immediate);
                break;
            case OpHandler.Lea:
                SetReg(op.Dst, op.Size, Address(ref op) & op.Mask);
                break;
            case OpHandler.AluRR:
                AluRegister(ref op, Reg(op.Src) & op.Mask);
                break;
            case OpHandler.AluRI:
            case OpHandler.IncDecR:
                AluRegister(ref op, op.Immediate);
                break;
            case OpHandler.AluRM:
                AluRegister(ref op, ReadMem(Address(ref op), op.Size));
                break;
            case OpHandler.AluMR:
                AluMemory(ref op, Reg(op.Src) & op.Mask);
                break;
            case OpHandler.AluMI:
            case OpHandler.IncDecM:
                AluMemory(ref op, op.Immediate);
                break;
            case OpHandler.Jcc:
                if (ConditionHolds(op.Condition))
                    Rip = op.Target;
                break;
            case OpHandler.Jz:
                if (Zero)
                    Rip = op.Target;
                break;
            case OpHandler.Jnz:
                if (!Zero)
                    Rip = op.Target;
                break;
            case OpHandler.Jmp:
                Rip = op.Target;
                break;
            case OpHandler.Call:
            {
                var rsp = Reg((int)Gpr.Rsp) - 8;
                WriteMem(rsp, 8, Rip);
                Reg((int)Gpr.Rsp) = rsp;
                Rip = op.Target;
                break;
            }
            case OpHandler.Ret:
            {
                var target = ReadMem(Reg((int)Gpr.Rsp), 8);
                Reg((int)Gpr.Rsp) += 8;
                Rip = target;
                break;
            }
            case OpHandler.PushR:
            {
                var rsp = Reg((int)Gpr.Rsp) - 8;
                WriteMem(rsp, 8, Reg(op.Src));
                Reg((int)Gpr.Rsp) = rsp;
                break;
            }
            case OpHandler.PopR:
            {
                var value = ReadMem(Reg((int)Gpr.Rsp), 8);
                Reg((int)Gpr.Rsp) += 8;
                Reg(op.Dst) = value; // pop rsp: the popped value wins
                break;
            }
            case OpHandler.Nop:
                break;
            case OpHandler.Invalid:
                RaiseException(6);
                break;
            case OpHandler.Xadd:
            case OpHandler.Cmpxchg:
            case OpHandler.XchgM:
                ExecuteExchange(ref op);
                break;
            default:
                ExecuteGeneric(op.Instruction);
                break;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void AluRegister(ref SoftOp op, ulong right)
    {
        var left = Reg(op.Dst) & op.Mask;
        var result = AluResult(op.Alu, left, right, op.Mask);
        if (op.Alu is not (AluOp.Cmp or AluOp.Test))
            SetReg(op.Dst, op.Size, result);
        SetAluFlags(op.Alu, left, right, result, op.Size);
    }

    private void AluMemory(ref SoftOp op, ulong right)
    {
        var address = Address(ref op);
        if (op.Locked && op.Alu is not (AluOp.Cmp or AluOp.Test))
        {
            LockedAlu(ref op, address, right);
            return;
        }
        var left = ReadMem(address, op.Size);
        var result = AluResult(op.Alu, left, right, op.Mask);
        if (op.Alu is not (AluOp.Cmp or AluOp.Test))
            WriteMem(address, op.Size, result);
        SetAluFlags(op.Alu, left, right, result, op.Size);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ref ulong Reg(int index) => ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(_regs), index);

    /// <summary>A write of <paramref name="size"/> bytes to a register: 4 zero-extends, 2 and 1 merge.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void SetReg(int index, int size, ulong value)
    {
        ref var r = ref Reg(index);
        r = size switch
        {
            8 => value,
            4 => (uint)value,
            2 => (r & ~0xFFFFUL) | (ushort)value,
            _ => (r & ~0xFFUL) | (byte)value,
        };
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ulong Address(ref SoftOp op)
    {
        var address = op.Displacement;
        if (op.Base != SoftOp.NoRegister)
            address += Reg(op.Base);
        if (op.Index != SoftOp.NoRegister)
            address += Reg(op.Index) << op.ScaleShift;
        return address;
    }
}
