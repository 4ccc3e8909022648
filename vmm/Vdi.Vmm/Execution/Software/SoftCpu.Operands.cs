using Iced.Intel;

namespace Vdi.Vmm.Execution.Software;

/// <summary>
/// Operand access, the stack, and the arithmetic of the generic path of <see cref="SoftCpu"/>. As on the hot path,
/// flags and registers are committed only after the instruction's last memory access.
/// </summary>
internal sealed partial class SoftCpu
{
    public ulong GetRegister(Register register)
    {
        var value = Registers[FullIndex(register)];
        if (register is Register.AH or Register.CH or Register.DH or Register.BH)
            return (value >> 8) & 0xFF;
        return value & Mask(register.GetSize());
    }

    private static int FullIndex(Register register) => register.GetFullRegister() - Register.RAX;

    private static ulong Mask(int size) => size >= 8 ? ulong.MaxValue : (1UL << (size * 8)) - 1;

    private void SetRegister(Register register, ulong value)
    {
        var index = FullIndex(register);
        var size = register.GetSize();
        if (register is Register.AH or Register.CH or Register.DH or Register.BH)
            Registers[index] = (Registers[index] & ~0xFF00UL) | ((value & 0xFF) << 8);
        else if (size >= 4)
            Registers[index] = value & Mask(size); // 32-bit writes zero-extend
        else
            Registers[index] = (Registers[index] & ~Mask(size)) | (value & Mask(size));
    }

    private static int OperandSize(in Instruction i, int operand) => i.GetOpKind(operand) switch
    {
        OpKind.Register => i.GetOpRegister(operand).GetSize(),
        OpKind.Memory => i.MemorySize.GetSize(),
        _ => operand > 0 ? OperandSize(i, 0) : 8,
    };

    private ulong EffectiveAddress(in Instruction i)
    {
        if (i.IsIPRelativeMemoryOperand)
            return i.IPRelativeMemoryAddress;
        var address = i.MemoryDisplacement64;
        if (i.MemoryBase != Register.None)
            address += GetRegister(i.MemoryBase);
        if (i.MemoryIndex != Register.None)
            address += GetRegister(i.MemoryIndex) * (ulong)i.MemoryIndexScale;
        return address;
    }

    private ulong Read(in Instruction i, int operand) => i.GetOpKind(operand) switch
    {
        OpKind.Register => GetRegister(i.GetOpRegister(operand)),
        OpKind.Memory => ReadMem(EffectiveAddress(i), i.MemorySize.GetSize()),
        _ => i.GetImmediate(operand) & Mask(OperandSize(i, operand)),
    };

    private void Write(in Instruction i, int operand, ulong value)
    {
        switch (i.GetOpKind(operand))
        {
            case OpKind.Register:
                SetRegister(i.GetOpRegister(operand), value);
                break;
            case OpKind.Memory:
                var size = i.MemorySize.GetSize();
                WriteMem(EffectiveAddress(i), size, value & Mask(size));
                break;
            default:
                throw new SoftwareEngineException($"Cannot write operand {operand} of '{i}'.");
        }
    }

    private void Push(ulong value)
    {
        var rsp = Registers[(int)Gpr.Rsp] - 8;
        WriteMem(rsp, 8, value);
        Registers[(int)Gpr.Rsp] = rsp;
    }

    private ulong Pop()
    {
        var value = ReadMem(Registers[(int)Gpr.Rsp], 8);
        Registers[(int)Gpr.Rsp] += 8;
        return value;
    }

    /// <summary><c>pop</c> to any operand: the destination address uses the incremented RSP, as on hardware.</summary>
    private void PopTo(in Instruction i)
    {
        var rsp = Registers[(int)Gpr.Rsp];
        var value = ReadMem(rsp, 8);
        Registers[(int)Gpr.Rsp] = rsp + 8;
        try
        {
            Write(i, 0, value);
        }
        catch (Exception e) when (e is SoftwareSliceExit or GuestFault)
        {
            Registers[(int)Gpr.Rsp] = rsp;
            throw;
        }
    }

    private void ExecuteArithmetic(in Instruction i)
    {
        var size = OperandSize(i, 0);
        var op = i.Mnemonic switch
        {
            Mnemonic.Add => AluOp.Add,
            Mnemonic.Sub => AluOp.Sub,
            Mnemonic.Cmp => AluOp.Cmp,
            Mnemonic.And => AluOp.And,
            Mnemonic.Or => AluOp.Or,
            Mnemonic.Test => AluOp.Test,
            _ => AluOp.Xor,
        };
        var left = Read(i, 0) & Mask(size);
        var right = Read(i, 1) & Mask(size);
        var result = AluResult(op, left, right, Mask(size));
        if (op is not (AluOp.Cmp or AluOp.Test))
            Write(i, 0, result);
        SetAluFlags(op, left, right, result, size);
    }

    private void ExecuteIncDec(in Instruction i)
    {
        var size = OperandSize(i, 0);
        var op = i.Mnemonic == Mnemonic.Inc ? AluOp.Inc : AluOp.Dec;
        var left = Read(i, 0) & Mask(size);
        var result = AluResult(op, left, 1, Mask(size));
        Write(i, 0, result);
        SetAluFlags(op, left, 1, result, size);
    }

    /// <summary>xadd with a register destination, or one the specialised handler does not cover.</summary>
    private void ExecuteXaddGeneric(in Instruction i)
    {
        var size = OperandSize(i, 0);
        var destination = Read(i, 0) & Mask(size);
        var source = Read(i, 1) & Mask(size);
        var sum = AluResult(AluOp.Add, destination, source, Mask(size));
        Write(i, 0, sum);
        Write(i, 1, destination); // a register: cannot exit the slice
        SetAluFlags(AluOp.Add, destination, source, sum, size);
    }

    private void ExecuteShift(in Instruction i)
    {
        var size = OperandSize(i, 0);
        var count = (int)(Read(i, 1) & (size == 8 ? 63UL : 31UL));
        if (count == 0)
            return;
        var value = Read(i, 0);
        var bits = size * 8;
        ulong result;
        bool carry;
        if (i.Mnemonic == Mnemonic.Shl)
        {
            carry = count <= bits && ((value >> (bits - count)) & 1) != 0;
            result = count >= 64 ? 0 : (value << count) & Mask(size);
        }
        else
        {
            carry = ((value >> (count - 1)) & 1) != 0;
            result = value >> count;
        }

        Write(i, 0, result);
        SetFlags(carry, result == 0, (result & SignBit(size)) != 0, Overflow);
    }

    private void ExecuteDivide(in Instruction i)
    {
        var size = OperandSize(i, 0);
        var divisor = Read(i, 0);
        if (size is not (4 or 8))
            throw new SoftwareEngineException($"the software engine models only 32- and 64-bit div ('{i}').");
        if (divisor == 0)
        {
            RaiseException(0);
            return;
        }

        var shift = size * 8;
        var dividend = ((UInt128)(Registers[(int)Gpr.Rdx] & Mask(size)) << shift) | (Registers[(int)Gpr.Rax] & Mask(size));
        var quotient = dividend / divisor;
        if (quotient > Mask(size))
        {
            RaiseException(0);
            return;
        }

        SetRegister(size == 8 ? Register.RAX : Register.EAX, (ulong)quotient);
        SetRegister(size == 8 ? Register.RDX : Register.EDX, (ulong)(dividend % divisor));
    }
}
