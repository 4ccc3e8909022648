using Iced.Intel;
using Vdi.Vmm.Execution.Software;
using Vdi.Vmm.Memory;
using static Iced.Intel.AssemblerRegisters;

namespace Vdi.Vmm.Tests.Execution.Software;

/// <summary>
/// The RAM fast path keeps what the bus did: host-write bitmap marks, stores to read-only slots through the bus (as
/// KVM exits), slot changes seen at once, code rewritten in the running block run as rewritten; and lazy flags
/// materialise through <c>Rflags</c>.
/// </summary>
public class SoftCpuRamTests
{
    private const ulong Data = 0x20_0000;
    private const ulong ReadOnlyStart = 0x30_0000;

    [Fact]
    public void A_store_marks_its_page_in_the_slots_host_write_bitmap()
    {
        using var bus = new RamBus();
        var cpu = bus.Load(a =>
        {
            a.mov(rbx, Data + 0x1FFC);
            a.mov(__qword_ptr[rbx], rax); // crosses into the next page
        });
        var slot = bus.Memory.Slots[0];
        bus.Memory.HarvestDirty(slot); // forget the code load
        RunToHalt(cpu);
        Assert.Equal([Data + 0x1000, Data + 0x2000], bus.Memory.HarvestDirty(slot));
        Assert.Empty(bus.BusAccesses);
    }

    [Fact]
    public void A_store_to_a_read_only_slot_goes_to_the_bus_and_a_load_from_it_does_not()
    {
        using var bus = new RamBus();
        var (_, high) = bus.Memory.Split(bus.Memory.Slots[0], ReadOnlyStart);
        bus.Memory.Write<ulong>(ReadOnlyStart + 8, 0xABCD);
        bus.Memory.SetFlags(high, MemorySlotFlags.ReadOnly);
        var cpu = bus.Load(a =>
        {
            a.mov(rbx, ReadOnlyStart);
            a.mov(rcx, __qword_ptr[rbx + 8]);
            a.mov(eax, 0x77);
            a.mov(__dword_ptr[rbx], eax);
        });
        RunToHalt(cpu);
        Assert.Equal(0xABCDUL, cpu.Registers[1]);
        Assert.Equal([(ReadOnlyStart, 4, true, 0x77UL)], bus.BusAccesses);
        Assert.Equal(0UL, bus.Memory.Read<ulong>(ReadOnlyStart));
    }

    [Fact]
    public void A_slot_made_read_only_while_the_vcpu_runs_takes_its_next_store_to_the_bus()
    {
        using var bus = new RamBus();
        var (_, high) = bus.Memory.Split(bus.Memory.Slots[0], ReadOnlyStart);
        var cpu = bus.Load(a =>
        {
            a.mov(rbx, ReadOnlyStart);
            a.mov(__qword_ptr[rbx], rbx);
            a.nop();
            a.mov(__qword_ptr[rbx + 8], rbx);
        });
        for (var n = 0; n < 3; n++)
            cpu.Step();
        Assert.Empty(bus.BusAccesses);
        bus.Memory.SetFlags(high, MemorySlotFlags.ReadOnly);
        RunToHalt(cpu);
        Assert.Equal([(ReadOnlyStart + 8, 8, true, ReadOnlyStart)], bus.BusAccesses);
    }

    [Fact]
    public void Code_rewritten_by_the_block_that_runs_it_runs_as_rewritten()
    {
        using var bus = new RamBus();
        var cpu = bus.Load(a =>
        {
            var patch = a.CreateLabel("patch");
            a.lea(rbx, __[patch]);
            a.mov(__dword_ptr[rbx + 1], 42u); // the immediate of the next instruction, in the same block
            a.Label(ref patch);
            a.mov(eax, 1u);
        });
        Assert.Equal(4, cpu.Run(100)); // and the hlt
        Assert.Equal(42UL, cpu.Registers[0]);
    }

    [Theory]
    [InlineData(0x8C3UL)]  // CF, ZF, SF, OF
    [InlineData(0x202UL)]  // IF only
    [InlineData(0x0C2UL)]  // ZF, SF
    public void Rflags_set_reads_back_and_conditions_follow_it(ulong rflags)
    {
        using var bus = new RamBus();
        var cpu = bus.Load(a =>
        {
            var below = a.CreateLabel("below");
            a.mov(eax, 0);
            a.jae(below);
            a.mov(eax, 1); // CF was set
            a.Label(ref below);
        });
        cpu.Rflags = rflags;
        Assert.Equal(rflags, cpu.Rflags);
        RunToHalt(cpu);
        Assert.Equal(rflags & 1, cpu.Registers[0]);
        Assert.Equal(rflags, cpu.Rflags); // mov and jcc leave flags alone
    }

    [Theory]
    [InlineData(0xFFFF_FFFFUL, 1UL, 0x43UL)]            // 32-bit add wraps: CF ZF (+ reserved bit 1; PF is not modelled)
    [InlineData(0x7FFF_FFFFUL, 1UL, 0x882UL)]           // OF SF
    [InlineData(5UL, 3UL, 0x2UL)]
    public void Lazy_flags_of_an_add_materialise_in_rflags(ulong left, ulong right, ulong expected)
    {
        using var bus = new RamBus();
        var cpu = bus.Load(a =>
        {
            a.mov(eax, (uint)left);
            a.mov(ecx, (uint)right);
            a.add(eax, ecx);
        });
        RunToHalt(cpu);
        Assert.Equal(expected, cpu.Rflags & 0x8C7);
    }

    private static void RunToHalt(SoftCpu cpu)
    {
        for (var n = 0; n < 100 && !cpu.Halted; n++)
            cpu.Step();
        Assert.True(cpu.Halted);
    }
}
