using Iced.Intel;

namespace Vdi.Vmm.Execution.Software;

/// <summary>
/// String instructions (<c>stos</c>, <c>movsd</c>, with or without <c>rep</c>) and <c>imul</c> of <see cref="SoftCpu"/>.
/// The direction flag is always clear (nothing the guests use sets it), so strings run upwards. A <c>rep</c> runs in
/// bulk operations over physically contiguous runs of translated pages when the bus allows it (the identity-mapped
/// framebuffer is one run), which keeps framebuffer fills fast; a fault part-way leaves RCX, RSI and RDI at the element
/// that faulted, so the instruction restarts there after the handler.
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
        ulong done = 0;
        try
        {
            while (done < count)
            {
                var at = destination + (done * (ulong)size);
                var elements = ContiguousElements(at, count - done, size, Access.Write, out var physical);
                if (elements == 0)
                {
                    WriteMem(at, size, value); // the element crosses a page
                    done++;
                    continue;
                }
                if (!_bus.TryFill(physical, size, value, elements))
                {
                    for (ulong n = 0; n < elements; n++)
                        WriteMem(at + (n * (ulong)size), size, value);
                }
                done += elements;
            }
        }
        catch (Exception e) when (e is GuestFault or SoftwareSliceExit)
        {
            CommitString(i, done, size, moved: false); // restarts at the element that faulted, as on hardware
            throw;
        }
        CommitString(i, count, size, moved: false);
        NoteBulkStore();
    }

    private void ExecuteMove(in Instruction i)
    {
        RequireRdiAddressing(i);
        const int size = 4;
        var count = i.HasRepPrefix ? Registers[(int)Gpr.Rcx] : 1;
        var destination = Registers[(int)Gpr.Rdi];
        var source = Registers[(int)Gpr.Rsi];
        ulong done = 0;
        try
        {
            while (done < count)
            {
                var from = source + (done * size);
                var to = destination + (done * size);
                var elements = ContiguousElements(from, count - done, size, Access.Read, out var physicalFrom);
                if (elements > 0)
                {
                    elements = ContiguousElements(to, elements, size, Access.Write, out var physicalTo);
                    if (elements > 0 && !CopyRun(to, from, physicalTo, physicalFrom, elements))
                        elements = 0;
                }
                if (elements == 0)
                {
                    WriteMem(to, size, ReadMem(from, size)); // crosses a page, or overlaps forwards
                    elements = 1;
                }
                done += elements;
            }
        }
        catch (Exception e) when (e is GuestFault or SoftwareSliceExit)
        {
            CommitString(i, done, size, moved: true);
            throw;
        }
        CommitString(i, count, size, moved: true);
        NoteBulkStore();
    }

    /// <summary>Copies a run both ends of which are physically contiguous; false when it must go an element at a time.</summary>
    private bool CopyRun(ulong to, ulong from, ulong physicalTo, ulong physicalFrom, ulong elements)
    {
        var bytes = elements * 4;
        if (physicalTo > physicalFrom && physicalTo < physicalFrom + bytes)
            return false; // overlapping forwards: element order matters
        if (_bus.TryCopy(physicalTo, physicalFrom, bytes))
            return true;
        for (ulong n = 0; n < elements; n++)
            WriteMem(to + (n * 4), 4, ReadMem(from + (n * 4), 4));
        return true;
    }

    /// <summary>RDI (and RSI) past <paramref name="done"/> elements; RCX counts down the rest under rep.</summary>
    private void CommitString(in Instruction i, ulong done, int size, bool moved)
    {
        Registers[(int)Gpr.Rdi] += done * (ulong)size;
        if (moved)
            Registers[(int)Gpr.Rsi] += done * (ulong)size;
        if (i.HasRepPrefix)
            Registers[(int)Gpr.Rcx] -= done;
    }

    /// <summary>
    /// How many of <paramref name="limit"/> elements from linear <paramref name="at"/> lie in translated, physically
    /// contiguous memory (its start in <paramref name="physical"/>): the first page must translate (or the fault is
    /// thrown); the run stops before a page that does not, or is not contiguous. 0 when the first element crosses a page.
    /// </summary>
    private ulong ContiguousElements(ulong at, ulong limit, int size, Access access, out ulong physical)
    {
        ref var e = ref Translate(at, access);
        physical = e.Physical | (at & 0xFFF);
        var pageSize = 1UL << e.PageShift; // a large page is contiguous to its end
        var bytes = pageSize - (at & (pageSize - 1));
        if (bytes < (ulong)size)
            return 0;
        var wanted = limit > (1UL << 40) ? ulong.MaxValue : limit * (ulong)size;
        while (bytes < wanted && bytes % (ulong)size == 0)
        {
            var nextAt = at + bytes;
            if (TryTranslate(nextAt, access, out var next) is not null || next != physical + bytes)
                break;
            var nextSize = 1UL << TlbEntry(nextAt).PageShift;
            bytes += nextSize - (nextAt & (nextSize - 1));
        }
        return Math.Min(limit, bytes / (ulong)size);
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
