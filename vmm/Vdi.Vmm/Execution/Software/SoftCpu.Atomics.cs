using System.Runtime.CompilerServices;
using Iced.Intel;

namespace Vdi.Vmm.Execution.Software;

/// <summary>
/// <c>lock</c>ed read-modify-writes of <see cref="SoftCpu"/> (add, sub, and, or, xor, inc, dec, xadd, cmpxchg, and xchg
/// with memory, which is always locked). On RAM, an operand inside one aligned 8-byte word is changed by a single host
/// atomic on the mapped guest memory (Interlocked Add/And/Or/Exchange/CompareExchange for aligned 4 and 8 bytes, a
/// CompareExchange loop on the containing word otherwise), so vCPUs on either engine see x86 semantics. Where no host
/// atomic fits — an operand straddling a cache line or an 8-byte word, a target that is not writable RAM, or a
/// locked instruction the specialised path does not cover — the instruction is a concurrency-vulnerable segment: it
/// runs with every other vCPU stalled (<see cref="ConcurrencyGuard"/>).
/// </summary>
internal sealed unsafe partial class SoftCpu
{
    /// <summary>Locked operations this vCPU made as single host atomics.</summary>
    public long AtomicOperations { get; private set; }

    /// <summary>Host pointer for a locked access that one host atomic can make: writable RAM within an aligned 8-byte word.</summary>
    private byte* AtomicPointer(ulong address, int size) =>
        (address & 7) + (ulong)size > 8 ? null : RamPointer(address, size, write: true);

    private void LockedAlu(ref SoftOp op, ulong address, ulong right)
    {
        var p = AtomicPointer(address, op.Size);
        if (p == null)
        {
            RunGuarded(ref op, address);
            return;
        }
        var old = AtomicUpdate(p, op.Size, op.Mask, op.Alu, right);
        AtomicOperations++;
        NoteRamStore(address, op.Size);
        SetAluFlags(op.Alu, old, right, AluResult(op.Alu, old, right, op.Mask), op.Size);
    }

    private void ExecuteExchange(ref SoftOp op)
    {
        var address = Address(ref op);
        if (!op.Locked)
        {
            PlainExchange(ref op, address);
            return;
        }
        var p = AtomicPointer(address, op.Size);
        if (p == null)
        {
            RunGuarded(ref op, address);
            return;
        }
        var source = Reg(op.Src) & op.Mask;
        ulong old;
        switch (op.Handler)
        {
            case OpHandler.Xadd:
                old = AtomicUpdate(p, op.Size, op.Mask, AluOp.Add, source);
                SetReg(op.Src, op.Size, old);
                SetAluFlags(AluOp.Add, old, source, (old + source) & op.Mask, op.Size);
                break;
            case OpHandler.XchgM:
                old = AtomicExchange(p, op.Size, op.Mask, source);
                SetReg(op.Src, op.Size, old);
                break;
            default:
                var expected = Reg((int)Gpr.Rax) & op.Mask;
                old = AtomicCompareExchange(p, op.Size, op.Mask, source, expected);
                if (old != expected)
                    SetReg((int)Gpr.Rax, op.Size, old);
                SetAluFlags(AluOp.Cmp, expected, old, (expected - old) & op.Mask, op.Size);
                break;
        }
        AtomicOperations++;
        NoteRamStore(address, op.Size);
    }

    /// <summary>xadd, xchg or cmpxchg with memory as plain accesses (unlocked, or with the other vCPUs stalled).</summary>
    private void PlainExchange(ref SoftOp op, ulong address)
    {
        var source = Reg(op.Src) & op.Mask;
        var old = ReadMem(address, op.Size);
        switch (op.Handler)
        {
            case OpHandler.Xadd:
                var sum = (old + source) & op.Mask;
                WriteMem(address, op.Size, sum);
                SetReg(op.Src, op.Size, old);
                SetAluFlags(AluOp.Add, old, source, sum, op.Size);
                break;
            case OpHandler.XchgM:
                WriteMem(address, op.Size, source);
                SetReg(op.Src, op.Size, old);
                break;
            default:
                var expected = Reg((int)Gpr.Rax) & op.Mask;
                WriteMem(address, op.Size, old == expected ? source : old); // the destination is always written
                if (old != expected)
                    SetReg((int)Gpr.Rax, op.Size, old);
                SetAluFlags(AluOp.Cmp, expected, old, (expected - old) & op.Mask, op.Size);
                break;
        }
    }

    private void RunPlain(ref SoftOp op, ulong address)
    {
        switch (op.Handler)
        {
            case OpHandler.AluMR or OpHandler.AluMI or OpHandler.IncDecM:
                var right = op.Handler == OpHandler.AluMR ? Reg(op.Src) & op.Mask : op.Immediate;
                var left = ReadMem(address, op.Size);
                var result = AluResult(op.Alu, left, right, op.Mask);
                WriteMem(address, op.Size, result);
                SetAluFlags(op.Alu, left, right, result, op.Size);
                break;
            case OpHandler.Xadd or OpHandler.XchgM or OpHandler.Cmpxchg:
                PlainExchange(ref op, address);
                break;
            default:
                ExecuteOne(op.Instruction);
                break;
        }
    }

    /// <summary>Applies <paramref name="op"/> with <paramref name="right"/> atomically; returns the old value.</summary>
    private static ulong AtomicUpdate(byte* p, int size, ulong mask, AluOp op, ulong right)
    {
        // SAFETY: p points into writable mapped guest RAM and [p, p + size) lies within one aligned 8-byte word
        // (AtomicPointer); 4- and 8-byte forms are used only when p is aligned to their size.
        if (size == 8 && ((nuint)p & 7) == 0)
        {
            ref var word = ref Unsafe.AsRef<ulong>(p);
            switch (op)
            {
                case AluOp.Add or AluOp.Inc: return (ulong)(Interlocked.Add(ref Unsafe.As<ulong, long>(ref word), (long)right) - (long)right);
                case AluOp.Sub or AluOp.Dec: return (ulong)(Interlocked.Add(ref Unsafe.As<ulong, long>(ref word), -(long)right) + (long)right);
                case AluOp.And: return Interlocked.And(ref word, right);
                case AluOp.Or: return Interlocked.Or(ref word, right);
            }
        }
        else if (size == 4 && ((nuint)p & 3) == 0)
        {
            ref var word = ref Unsafe.AsRef<uint>(p);
            switch (op)
            {
                case AluOp.Add or AluOp.Inc: return (uint)(Interlocked.Add(ref Unsafe.As<uint, int>(ref word), (int)right) - (int)right);
                case AluOp.Sub or AluOp.Dec: return (uint)(Interlocked.Add(ref Unsafe.As<uint, int>(ref word), -(int)right) + (int)right);
                case AluOp.And: return Interlocked.And(ref word, (uint)right);
                case AluOp.Or: return Interlocked.Or(ref word, (uint)right);
            }
        }
        return CompareExchangeLoop(p, size, mask, op, right, 0, UpdateKind.Alu);
    }

    private static ulong AtomicExchange(byte* p, int size, ulong mask, ulong value)
    {
        // SAFETY: as in AtomicUpdate.
        if (size == 8 && ((nuint)p & 7) == 0)
            return Interlocked.Exchange(ref Unsafe.AsRef<ulong>(p), value);
        if (size == 4 && ((nuint)p & 3) == 0)
            return Interlocked.Exchange(ref Unsafe.AsRef<uint>(p), (uint)value);
        return CompareExchangeLoop(p, size, mask, AluOp.Add, value, 0, UpdateKind.Exchange);
    }

    private static ulong AtomicCompareExchange(byte* p, int size, ulong mask, ulong value, ulong expected)
    {
        // SAFETY: as in AtomicUpdate.
        if (size == 8 && ((nuint)p & 7) == 0)
            return Interlocked.CompareExchange(ref Unsafe.AsRef<ulong>(p), value, expected);
        if (size == 4 && ((nuint)p & 3) == 0)
            return Interlocked.CompareExchange(ref Unsafe.AsRef<uint>(p), (uint)value, (uint)expected);
        return CompareExchangeLoop(p, size, mask, AluOp.Add, value, expected, UpdateKind.CompareExchange);
    }

    private enum UpdateKind { Alu, Exchange, CompareExchange }

    /// <summary>Any update of 1–8 bytes inside one aligned 8-byte word: a CompareExchange loop on that word.</summary>
    private static ulong CompareExchangeLoop(byte* p, int size, ulong mask, AluOp op, ulong right, ulong expected, UpdateKind kind)
    {
        // SAFETY: the aligned 8-byte word holding [p, p + size) lies inside the same mapped page as p (AtomicPointer
        // checked the operand does not leave the word, and slots are page-aligned).
        ref var word = ref Unsafe.AsRef<ulong>((void*)((nuint)p & ~(nuint)7));
        var shift = (int)((nuint)p & 7) * 8;
        var fieldMask = mask << shift;
        while (true)
        {
            var current = Volatile.Read(ref word);
            var old = (current & fieldMask) >> shift;
            var updated = kind switch
            {
                UpdateKind.Alu => AluResult(op, old, right, mask),
                UpdateKind.Exchange => right,
                _ => old == expected ? right : old,
            };
            var replacement = (current & ~fieldMask) | ((updated & mask) << shift);
            if (Interlocked.CompareExchange(ref word, replacement, current) == current)
                return old;
        }
    }
}
