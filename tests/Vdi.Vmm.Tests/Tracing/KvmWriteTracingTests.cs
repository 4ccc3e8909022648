using Vdi.Vmm.Execution;
using Vdi.Vmm.Memory;
using Vdi.Vmm.Tests.Machine;
using Vdi.Vmm.Tracing;
using static Iced.Intel.AssemblerRegisters;
using static Vdi.Vmm.Tests.Tracing.TracingGuest;

namespace Vdi.Vmm.Tests.Tracing;

/// <summary>
/// Write tracing on KVM: a traced run is a read-only slot of its own, a guest store to it exits as MMIO and the
/// decision applies or drops it (the same cases as the software engine's), and untracing merges the slots back.
/// </summary>
[Trait("Requires", KvmMachines.Trait)]
public sealed class KvmWriteTracingTests
{
    [Theory]
    [InlineData(TraceDecision.Apply)]
    [InlineData(TraceDecision.Refuse)]
    [InlineData(TraceDecision.Stop)]
    public async Task A_store_to_a_traced_page_is_decided_and_the_decision_holds(TraceDecision decision) =>
        await WriteTracingCases.PlainStoreAsync(EngineChoice.Kvm, decision);

    [Fact]
    public async Task Stores_to_the_neighbouring_pages_are_not_traced() =>
        await WriteTracingCases.NeighboursAsync(EngineChoice.Kvm);

    [Fact]
    public async Task Exit_storm_slices_honour_the_traced_pages()
    {
        // A port-read loop that also stores to the traced page: KVM runs it in software slices, whose stores must
        // reach the decision as the read-only slot's exits do.
        const int iterations = 3000;
        using var machine = KvmMachines.Build(Build(a =>
        {
            var loop = a.CreateLabel();
            a.mov(dx, Vdi.Vmm.Devices.PortMap.NullDevice);
            a.mov(ecx, iterations);
            a.Label(ref loop);
            a.@in(al, dx);
            a.mov(__qword_ptr[rbx], rcx);
            a.dec(ecx);
            a.jnz(loop);
            a.mov(eax, __dword_ptr[rbx]);
        }), memoryMiB: MemoryMiB, engine: EngineChoice.Kvm, exitStormSwitching: true);
        machine.Memory.Write(Traced, 77UL);
        var seen = TraceWith(machine, TraceDecision.Refuse);

        var exit = await RunAsync(machine);

        Assert.Equal(new Vmm.Machine.MachineExit(Vmm.Machine.MachineExitKind.PoweredOff, 77, null), exit); // every store refused
        Assert.Equal(iterations, seen.Count);
        Assert.True(machine.EngineSwitches.Sum(s => s.ToSoftware) > 0, "the loop never ran in a software slice");
        Assert.Contains(seen, w => w.Origin == WriteOrigin.SoftwareSlice);
    }

    [Fact]
    public void A_traced_run_is_one_read_only_slot_and_untrace_merges_it_back()
    {
        using var machine = TracingGuest.Machine(EngineChoice.Kvm, _ => { });
        Assert.Single(machine.Memory.Slots);

        machine.Tracer.Trace(Traced, 0x1000, _ => TraceDecision.Apply);
        machine.Tracer.Trace(Above, 0x1000, _ => TraceDecision.Apply); // adjacent: shares the slot

        Assert.Equal(3, machine.Memory.Slots.Count);
        var traced = machine.Memory.FindSlot(Traced)!;
        Assert.True(traced.IsReadOnly);
        Assert.Equal((Traced, Above + 0x1000), (traced.GuestAddress, traced.End));
        Assert.False(machine.Memory.FindSlot(Below)!.IsReadOnly);

        machine.Tracer.Untrace(Traced, 0x1000);
        Assert.Equal(3, machine.Memory.Slots.Count);
        Assert.False(machine.Memory.FindSlot(Traced)!.IsReadOnly);
        Assert.True(machine.Memory.FindSlot(Above)!.IsReadOnly);

        machine.Tracer.Untrace(Above, 0x1000);
        var slot = Assert.Single(machine.Memory.Slots);
        Assert.Equal(MemorySlotFlags.None, slot.Flags);
    }
}
