using Iced.Intel;
using Vdi.Vmm.Execution.Software;
using static Iced.Intel.AssemblerRegisters;

namespace Vdi.Vmm.Tests.Execution.Software;

/// <summary>
/// Each locked read-modify-write form on RAM: the value left in memory and in the register, and CF/ZF/SF/OF exactly —
/// known answers, the same as the unlocked form gives, made as one host atomic where one fits, and as plain accesses
/// (here under the bus's gate, no guard attached) where the operand straddles a cache line.
/// </summary>
public class SoftCpuAtomicTests
{
    private const ulong Data = 0x20_0000;
    private const ulong CF = 1, ZF = 1 << 6, SF = 1 << 7, OF = 1 << 11;

    private static readonly Dictionary<string, Case> Cases = new()
    {
        // name: (memory before, rcx before, rax before, instruction, memory after, rcx after, rax after, flags)
        ["add dword wraps"] = new(0xFFFF_FFFF, 1, 0, (a, l, m) => l(a).add(__dword_ptr[m], ecx), 0, 1, 0, CF | ZF),
        ["add byte overflows"] = new(0x7F, 1, 0, (a, l, m) => l(a).add(__byte_ptr[m], cl), 0x80, 1, 0, SF | OF),
        ["add qword imm"] = new(5, 0, 0, (a, l, m) => l(a).add(__qword_ptr[m], 3), 8, 0, 0, 0),
        ["sub word borrows"] = new(1, 2, 0, (a, l, m) => l(a).sub(__word_ptr[m], cx), 0xFFFF, 2, 0, CF | SF),
        ["sub byte overflows"] = new(0x80, 1, 0, (a, l, m) => l(a).sub(__byte_ptr[m], cl), 0x7F, 1, 0, OF),
        ["and qword"] = new(0xF0F0, 0x0FF0, 0, (a, l, m) => l(a).and(__qword_ptr[m], rcx), 0x00F0, 0x0FF0, 0, 0),
        ["and dword to zero"] = new(0xF0, 0x0F, 0, (a, l, m) => l(a).and(__dword_ptr[m], ecx), 0, 0x0F, 0, ZF),
        ["or dword sign"] = new(0x8000_0000, 1, 0, (a, l, m) => l(a).or(__dword_ptr[m], ecx), 0x8000_0001, 1, 0, SF),
        ["xor qword"] = new(0xFF, 0x0F, 0, (a, l, m) => l(a).xor(__qword_ptr[m], rcx), 0xF0, 0x0F, 0, 0),
        ["xor byte imm"] = new(0x5A, 0, 0, (a, l, m) => l(a).xor(__byte_ptr[m], 0x5A), 0, 0, 0, ZF),
        ["inc word overflows, keeps CF"] = new(0x7FFF, 0, 0, (a, l, m) => l(a).inc(__word_ptr[m]), 0x8000, 0, 0, SF | OF | CF),
        ["dec qword to zero"] = new(1, 0, 0, (a, l, m) => l(a).dec(__qword_ptr[m]), 0, 0, 0, ZF | CF),
        ["xadd qword"] = new(5, 7, 0, (a, l, m) => l(a).xadd(__qword_ptr[m], rcx), 12, 5, 0, 0),
        ["xadd dword wraps"] = new(0xFFFF_FFFF, 2, 0, (a, l, m) => l(a).xadd(__dword_ptr[m], ecx), 1, 0xFFFF_FFFF, 0, CF),
        ["xadd byte"] = new(0x40, 0x40, 0, (a, l, m) => l(a).xadd(__byte_ptr[m], cl), 0x80, 0x40, 0, SF | OF),
        ["cmpxchg qword succeeds"] = new(3, 9, 3, (a, l, m) => l(a).cmpxchg(__qword_ptr[m], rcx), 9, 9, 3, ZF),
        ["cmpxchg dword fails"] = new(4, 9, 3, (a, l, m) => l(a).cmpxchg(__dword_ptr[m], ecx), 4, 9, 4, CF | SF),
        ["cmpxchg word succeeds"] = new(0x1234, 0x5678, 0x1234, (a, l, m) => l(a).cmpxchg(__word_ptr[m], cx), 0x5678, 0x5678, 0x1234, ZF),
        ["xchg qword"] = new(0x1111, 0x2222, 0, (a, l, m) => l(a).xchg(__qword_ptr[m], rcx), 0x2222, 0x1111, 0, CF | SF),
        ["xchg byte"] = new(0x11, 0x22, 0, (a, l, m) => l(a).xchg(__byte_ptr[m], cl), 0x22, 0x11, 0, CF | SF),
    };

    /// <summary>Operand offsets: aligned, inside an aligned 8-byte word but not aligned to its size, straddling a cache line.</summary>
    public static TheoryData<string, int> FormsAndOffsets()
    {
        var data = new TheoryData<string, int>();
        foreach (var form in Cases.Keys)
        {
            foreach (var offset in new[] { 0, 1, 62 })
                data.Add(form, offset);
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(FormsAndOffsets))]
    public void Locked_form_leaves_the_known_result_and_flags(string form, int offset)
    {
        var c = Cases[form];
        var address = Data + (ulong)offset;
        var (locked, lockedCpu) = Execute(c, address, lockPrefix: true);
        var (unlocked, _) = Execute(c, address, lockPrefix: false);

        Assert.Equal(c.MemoryAfter, locked.Memory);
        Assert.Equal(c.RcxAfter, locked.Rcx);
        Assert.Equal(c.RaxAfter, locked.Rax);
        Assert.Equal(c.Flags, locked.Flags & (CF | ZF | SF | OF));
        Assert.Equal(unlocked, locked);
        var size = SizeOf(c);
        var oneHostAtomic = (offset & 7) + size <= 8;
        Assert.Equal(oneHostAtomic ? 1 : 0, lockedCpu.AtomicOperations);
    }

    [Fact]
    public void Locked_operations_on_neighbouring_bytes_of_one_word_do_not_disturb_each_other()
    {
        using var bus = new RamBus();
        bus.Memory.Write<ulong>(Data, 0x1122_3344_5566_7788);
        var cpu = bus.Load(a =>
        {
            a.mov(rbx, Data);
            a.mov(ecx, 1);
            a.@lock.add(__byte_ptr[rbx + 3], cl);
            a.@lock.xadd(__word_ptr[rbx + 4], cx);
        });
        Run(cpu);
        Assert.Equal(0x1122_3345_5666_7788UL, bus.Read64(Data));
    }

    private static int SizeOf(Case c)
    {
        var a = new Assembler(64);
        c.Emit(a, x => x, rbx);
        var i = a.Instructions[0];
        return i.MemorySize.GetSize();
    }

    private static (State, SoftCpu) Execute(Case c, ulong address, bool lockPrefix)
    {
        using var bus = new RamBus();
        bus.Memory.Write(address, BitConverter.GetBytes(c.MemoryBefore).AsSpan(0, 8));
        var cpu = bus.Load(a =>
        {
            a.mov(rbx, address);
            a.mov(rcx, c.RcxBefore);
            a.mov(rax, c.RaxBefore);
            a.xor(edx, edx);
            a.cmp(edx, 1); // CF = SF = 1 beforehand: inc/dec keep CF, xchg keeps both, the rest set their own
            c.Emit(a, x => lockPrefix ? x.@lock : x, rbx);
        });
        Run(cpu);
        var size = SizeOf(c);
        var mask = size == 8 ? ulong.MaxValue : (1UL << (size * 8)) - 1;
        return (new State(bus.Read64(address) & mask, cpu.Registers[1], cpu.Registers[0], cpu.Rflags & (CF | ZF | SF | OF)), cpu);
    }

    private static void Run(SoftCpu cpu)
    {
        for (var n = 0; n < 64 && !cpu.Halted; n++)
            cpu.Step();
        Assert.True(cpu.Halted);
    }

    private sealed record Case(
        ulong MemoryBefore, ulong RcxBefore, ulong RaxBefore, Action<Assembler, Func<Assembler, Assembler>, AssemblerRegister64> Emit,
        ulong MemoryAfter, ulong RcxAfter, ulong RaxAfter, ulong Flags);

    private sealed record State(ulong Memory, ulong Rcx, ulong Rax, ulong Flags);
}
