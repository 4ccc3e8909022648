using Iced.Intel;

namespace Vdi.Vmm.Execution.Software;

/// <summary>
/// String instructions (<c>stos</c>, <c>movsd</c>, with or without <c>rep</c>) and <c>imul</c> of <see cref="SoftCpu"/>.
/// The direction flag is always clear (nothing the guests use sets it), so strings run upwards. A <c>rep</c> over plain
/// RAM is done in one bulk operation when the bus allows it, which keeps framebuffer fills fast.
/// </summary>
internal sealed partial class SoftCpu
{
    private void ExecuteStore(in Instruction i)
    {
        RequireRdiAddressing(i);
        var size = i.Mnemonic switch
        {
            Mnemonic.Stosb => 1,
            Mnemonic.Stosd => 4,
            _ => 8,
        };
        var count = i.HasRepPrefix ? Registers[(int)Gpr.Rcx] : 1;
        var destination = Registers[(int)Gpr.Rdi];
        var value = Registers[(int)Gpr.Rax] & Mask(size);
        if (count > 0 && !_bus.TryFill(destination, size, value, count))
        {
            for (ulong n = 0; n < count; n++)
                WriteMem(destination + (n * (ulong)size), size, value);
        }

        Registers[(int)Gpr.Rdi] = destination + (count * (ulong)size);
        if (i.HasRepPrefix)
            Registers[(int)Gpr.Rcx] = 0;
        NoteBulkStore();
    }

    private void ExecuteMove(in Instruction i)
    {
        RequireRdiAddressing(i);
        const int size = 4;
        var count = i.HasRepPrefix ? Registers[(int)Gpr.Rcx] : 1;
        var destination = Registers[(int)Gpr.Rdi];
        var source = Registers[(int)Gpr.Rsi];
        var bytes = count * size;
        var overlapsForward = destination > source && destination < source + bytes;
        if (count > 0 && (overlapsForward || !_bus.TryCopy(destination, source, bytes)))
        {
            for (ulong n = 0; n < count; n++)
                WriteMem(destination + (n * size), size, ReadMem(source + (n * size), size));
        }

        Registers[(int)Gpr.Rdi] = destination + bytes;
        Registers[(int)Gpr.Rsi] = source + bytes;
        if (i.HasRepPrefix)
            Registers[(int)Gpr.Rcx] = 0;
        NoteBulkStore();
    }

    /// <summary>A bulk store through the bus may have rewritten code: the block ends if the code version moved.</summary>
    private void NoteBulkStore()
    {
        if (CurrentCodeVersion != _codeVersion)
            _leaveBlock = true;
    }

    /// <summary>Two- and three-operand <c>imul</c>: truncated signed product; CF = OF = the product did not fit.</summary>
    private void ExecuteMultiply(in Instruction i)
    {
        if (i.OpCount < 2)
            throw new SoftwareEngineException($"the software engine models only two- and three-operand imul ('{i}').");
        var size = OperandSize(i, 0);
        var left = SignExtend(Read(i, i.OpCount == 3 ? 1 : 0), size);
        var right = SignExtend(Read(i, i.OpCount == 3 ? 2 : 1), size);
        var product = (Int128)left * right;
        var result = (ulong)(long)product & Mask(size);
        var fits = product == SignExtend(result, size);
        Write(i, 0, result);
        SetFlags(!fits, result == 0, (result & SignBit(size)) != 0, !fits);
    }

    /// <summary>Only 64-bit addressing (rdi/rsi) and plain or <c>rep</c> forms are modelled.</summary>
    private static void RequireRdiAddressing(in Instruction i)
    {
        if (i.Op0Kind != OpKind.MemoryESRDI || i.HasRepnePrefix)
            throw new SoftwareEngineException($"the software engine models only 64-bit-addressed, rep or unprefixed string instructions ('{i}').");
    }

    private static long SignExtend(ulong value, int size) => size switch
    {
        1 => (sbyte)value,
        2 => (short)value,
        4 => (int)value,
        _ => (long)value,
    };
}
