using Vdi.Vmm.Execution;
using Vdi.Vmm.Machine;
using Vdi.Vmm.Tracing;
using static Iced.Intel.AssemblerRegisters;
using static Vdi.Vmm.Tests.Tracing.TracingGuest;

namespace Vdi.Vmm.Tests.Tracing;

/// <summary>
/// Guest writes to a traced page on the software engine: every width, page-straddling stores, string fills and locked
/// read-modify-writes reach the decision with address, size, bytes before and after and RIP; the decision's answer
/// holds; untraced pages stay off the trace. The same plain-store cases run on KVM in <see cref="KvmWriteTracingTests"/>.
/// </summary>
public sealed class SoftwareWriteTracingTests
{
    private const ulong Old = 0x0BAD_F00D_0BAD_F00D;
    private const ulong Value = 0x1122_3344_5566_7788;

    [Theory]
    [InlineData(TraceDecision.Apply)]
    [InlineData(TraceDecision.Refuse)]
    [InlineData(TraceDecision.Stop)]
    public async Task A_store_to_a_traced_page_is_decided_and_the_decision_holds(TraceDecision decision) =>
        await WriteTracingCases.PlainStoreAsync(EngineChoice.Software, decision);

    [Fact]
    public async Task Stores_to_the_neighbouring_pages_are_not_traced() =>
        await WriteTracingCases.NeighboursAsync(EngineChoice.Software);

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(4)]
    [InlineData(8)]
    public async Task Each_store_width_is_seen_with_its_bytes(int size)
    {
        using var machine = TracingGuest.Machine(EngineChoice.Software, a =>
        {
            a.mov(rax, Value);
            switch (size)
            {
                case 1: a.mov(__byte_ptr[rbx + 8], al); break;
                case 2: a.mov(__word_ptr[rbx + 8], ax); break;
                case 4: a.mov(__dword_ptr[rbx + 8], eax); break;
                default: a.mov(__qword_ptr[rbx + 8], rax); break;
            }
            a.mov(eax, __dword_ptr[rbx + 8]);
        });
        machine.Memory.Write(Traced + 8, Old);
        var seen = TraceWith(machine, TraceDecision.Apply);

        var exit = await RunAsync(machine);

        var write = Assert.Single(seen);
        Assert.Equal(Traced + 8, write.Address);
        Assert.Equal(size, write.Size);
        Assert.Equal(BitConverter.GetBytes(Old)[..size], write.Before);
        Assert.Equal(BitConverter.GetBytes(Value)[..size], write.After);
        var expected = BitConverter.GetBytes(Old);
        BitConverter.GetBytes(Value)[..size].CopyTo(expected, 0);
        Assert.Equal(new MachineExit(MachineExitKind.PoweredOff, BitConverter.ToInt32(expected), null), exit);
    }

    [Fact]
    public async Task A_store_straddling_into_a_traced_page_is_decided_for_its_part_on_that_page()
    {
        using var machine = TracingGuest.Machine(EngineChoice.Software, a =>
        {
            a.mov(rax, Value);
            a.mov(__qword_ptr[rbx - 4], rax);
            a.mov(eax, __dword_ptr[rbx]);
        });
        machine.Memory.Write(Traced, Old);
        var seen = TraceWith(machine, TraceDecision.Refuse);

        var exit = await RunAsync(machine);

        var write = Assert.Single(seen);
        Assert.Equal(Traced, write.Address);
        Assert.Equal(BitConverter.GetBytes(Value)[4..], write.After);
        Assert.Equal(new MachineExit(MachineExitKind.PoweredOff, unchecked((int)(uint)Old), null), exit); // refused part
        Assert.Equal(unchecked((uint)Value), machine.Memory.Read<uint>(Traced - 4)); // the untraced part landed
    }

    [Fact]
    public async Task Rep_stosq_across_a_traced_page_is_decided_element_by_element()
    {
        using var machine = TracingGuest.Machine(EngineChoice.Software, a =>
        {
            a.mov(edi, (uint)Below);
            a.mov(ecx, 3 * 512);
            a.mov(rax, Value);
            a.rep.stosq();
            a.mov(eax, __dword_ptr[rbx + 0x800]);
        });
        machine.Memory.Write(Traced + 0x800, Old);
        var seen = TraceWith(machine, TraceDecision.Refuse);

        var exit = await RunAsync(machine);

        Assert.Equal(512, seen.Count);
        Assert.All(seen, w => Assert.Equal(8, w.Size));
        Assert.Equal(Enumerable.Range(0, 512).Select(n => Traced + (ulong)(n * 8)), seen.Select(w => w.Address));
        Assert.Equal(new MachineExit(MachineExitKind.PoweredOff, unchecked((int)(uint)Old), null), exit);
        Assert.Equal(Value, machine.Memory.Read<ulong>(Below));
        Assert.Equal(Value, machine.Memory.Read<ulong>(Above + 0xFF8));
    }

    [Theory]
    [InlineData(TraceDecision.Apply)]
    [InlineData(TraceDecision.Refuse)]
    public async Task A_lock_xadd_to_a_traced_page_is_decided(TraceDecision decision)
    {
        using var machine = TracingGuest.Machine(EngineChoice.Software, a =>
        {
            a.mov(eax, 5);
            a.@lock.xadd(__qword_ptr[rbx], rax);
            a.mov(eax, __dword_ptr[rbx]);
        });
        machine.Memory.Write(Traced, 100UL);
        var seen = TraceWith(machine, decision);

        var exit = await RunAsync(machine);

        var write = Assert.Single(seen);
        Assert.Equal(BitConverter.GetBytes(100UL), write.Before);
        Assert.Equal(BitConverter.GetBytes(105UL), write.After);
        Assert.Equal(new MachineExit(MachineExitKind.PoweredOff, decision == TraceDecision.Apply ? 105 : 100, null), exit);
    }

    [Fact]
    public async Task After_untrace_stores_land_without_a_decision()
    {
        using var machine = TracingGuest.Machine(EngineChoice.Software, a =>
        {
            a.mov(rax, Value);
            a.mov(__qword_ptr[rbx], rax);
            a.mov(eax, __dword_ptr[rbx]);
        });
        var seen = TraceWith(machine, TraceDecision.Refuse);
        machine.Tracer.Untrace(Traced, 0x1000);

        var exit = await RunAsync(machine);

        Assert.Empty(seen);
        Assert.Equal(0, machine.Tracer.TracedPageCount);
        Assert.Equal(new MachineExit(MachineExitKind.PoweredOff, unchecked((int)(uint)Value), null), exit);
        Assert.Equal(0, machine.Tracer.Hits);
    }

    [Fact]
    public async Task Tracing_a_page_the_running_guest_stores_to_catches_its_next_store()
    {
        // The guest stores a counter to the traced page in a loop until the host sets the page below to 1. Its TLB
        // holds a store tag for the page when tracing starts; the change (made under pause-all) must take it away.
        using var machine = TracingGuest.Machine(EngineChoice.Software, a =>
        {
            var loop = a.CreateLabel();
            a.xor(ecx, ecx);
            a.Label(ref loop);
            a.inc(rcx);
            a.mov(__qword_ptr[rbx], rcx);
            a.cmp(__qword_ptr[rbx - 0x1000], 1);
            a.jne(loop);
            a.mov(eax, __dword_ptr[rbx]);
        });
        machine.Start();
        while (machine.Memory.Read<ulong>(Traced) < 1000)
            await Task.Delay(1);
        var seen = TraceWith(machine, TraceDecision.Refuse);
        var frozen = machine.Memory.Read<ulong>(Traced);
        while (machine.Tracer.Hits < 10)
            await Task.Delay(1);
        machine.Memory.Write(Below, 1UL);

        var exit = await machine.WaitForExitAsync(TimeSpan.FromSeconds(60));

        Assert.Equal(new MachineExit(MachineExitKind.PoweredOff, (int)frozen, null), exit);
        lock (seen)
            Assert.All(seen, w => Assert.Equal(BitConverter.GetBytes(frozen), w.Before));
    }

    [Fact]
    public async Task Hypercalls_appear_in_the_trace_ring()
    {
        using var machine = TracingGuest.Machine(EngineChoice.Software, a =>
        {
            a.mov(eax, 1); // Echo
            a.mov(ebx, 0x1234);
            a.mov(dx, Vdi.Vmm.Devices.PortMap.Hypercall);
            a.@out(dx, eax);
        });

        var exit = await RunAsync(machine);

        Assert.Equal(new MachineExit(MachineExitKind.PoweredOff, 0x1234, null), exit);
        var call = Assert.Single(machine.Trace.Snapshot().Entries, e => e.Kind == TraceEntryKind.Hypercall);
        Assert.Equal(1u, call.HypercallNumber);
        Assert.Equal(0x1234UL, call.Arguments![0]);
        Assert.Equal(0x1234UL, call.Result);
        Assert.Equal(0, call.Vcpu);
        Assert.NotNull(call.Rip);
    }
}
