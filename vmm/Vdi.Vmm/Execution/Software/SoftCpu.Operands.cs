using Iced.Intel;

namespace Vdi.Vmm.Execution.Software;

/// <summary>Operand access, the stack, and the arithmetic flags (ZF, CF, SF, OF) of <see cref="SoftCpu"/>.</summary>
internal sealed partial class SoftCpu
{
    private bool _zero;
    private bool _carry;
    private bool _sign;
    private bool _overflow;

    private ulong Rflags
    {
        get => 0x2
            | (_carry ? 1UL : 0)
            | (_zero ? 1UL << 6 : 0)
            | (_sign ? 1UL << 7 : 0)
            | (InterruptsEnabled ? InterruptFlag : 0)
            | (_overflow ? 1UL << 11 : 0);
        set
        {
            _carry = (value & 1) != 0;
            _zero = (value & (1UL << 6)) != 0;
            _sign = (value & (1UL << 7)) != 0;
            InterruptsEnabled = (value & InterruptFlag) != 0;
            _overflow = (value & (1UL << 11)) != 0;
        }
    }

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
        OpKind.Memory => _bus.ReadMemory(this, EffectiveAddress(i), i.MemorySize.GetSize()),
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
                _bus.WriteMemory(this, EffectiveAddress(i), size, value & Mask(size));
                break;
            default:
                throw new SoftwareEngineException($"Cannot write operand {operand} of '{i}'.");
        }
    }

    private void Push(ulong value)
    {
        Registers[(int)Gpr.Rsp] -= 8;
        _bus.WriteMemory(this, Registers[(int)Gpr.Rsp], 8, value);
    }

    private ulong Pop()
    {
        var value = _bus.ReadMemory(this, Registers[(int)Gpr.Rsp], 8);
        Registers[(int)Gpr.Rsp] += 8;
        return value;
    }

    private void ExecuteArithmetic(in Instruction i)
    {
        var size = OperandSize(i, 0);
        var left = Read(i, 0);
        var right = Read(i, 1) & Mask(size);
        var result = i.Mnemonic switch
        {
            Mnemonic.Add => Add(left, right, size),
            Mnemonic.Sub or Mnemonic.Cmp => Subtract(left, right, size),
            Mnemonic.And or Mnemonic.Test => Logic(left & right, size),
            Mnemonic.Or => Logic(left | right, size),
            _ => Logic(left ^ right, size),
        };
        if (i.Mnemonic is not (Mnemonic.Cmp or Mnemonic.Test))
            Write(i, 0, result);
    }

    private void ExecuteIncDec(in Instruction i)
    {
        var size = OperandSize(i, 0);
        var carry = _carry; // inc and dec leave CF alone
        var result = i.Mnemonic == Mnemonic.Inc ? Add(Read(i, 0), 1, size) : Subtract(Read(i, 0), 1, size);
        _carry = carry;
        Write(i, 0, result);
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
        if (i.Mnemonic == Mnemonic.Shl)
        {
            _carry = count <= bits && ((value >> (bits - count)) & 1) != 0;
            result = count >= 64 ? 0 : (value << count) & Mask(size);
        }
        else
        {
            _carry = ((value >> (count - 1)) & 1) != 0;
            result = value >> count;
        }

        SetResultFlags(result, size);
        Write(i, 0, result);
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

    private ulong Add(ulong left, ulong right, int size)
    {
        var mask = Mask(size);
        var result = (left + right) & mask;
        _carry = result < (left & mask) || (result == (left & mask) && right != 0);
        _overflow = (~(left ^ right) & (left ^ result) & SignBit(size)) != 0;
        SetResultFlags(result, size);
        return result;
    }

    private ulong Subtract(ulong left, ulong right, int size)
    {
        var mask = Mask(size);
        var result = (left - right) & mask;
        _carry = (left & mask) < (right & mask);
        _overflow = ((left ^ right) & (left ^ result) & SignBit(size)) != 0;
        SetResultFlags(result, size);
        return result;
    }

    private ulong Logic(ulong result, int size)
    {
        _carry = false;
        _overflow = false;
        SetResultFlags(result & Mask(size), size);
        return result & Mask(size);
    }

    private void SetResultFlags(ulong result, int size)
    {
        _zero = result == 0;
        _sign = (result & SignBit(size)) != 0;
    }

    private static ulong SignBit(int size) => 1UL << ((size * 8) - 1);

    private bool ConditionHolds(ConditionCode condition) => condition switch
    {
        ConditionCode.e => _zero,
        ConditionCode.ne => !_zero,
        ConditionCode.b => _carry,
        ConditionCode.ae => !_carry,
        ConditionCode.a => !_carry && !_zero,
        ConditionCode.be => _carry || _zero,
        ConditionCode.s => _sign,
        ConditionCode.ns => !_sign,
        ConditionCode.l => _sign != _overflow,
        ConditionCode.ge => _sign == _overflow,
        ConditionCode.le => _zero || _sign != _overflow,
        ConditionCode.g => !_zero && _sign == _overflow,
        _ => throw new SoftwareEngineException($"Condition {condition} is not modelled."),
    };
}
