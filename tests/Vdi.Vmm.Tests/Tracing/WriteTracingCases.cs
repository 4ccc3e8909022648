using Vdi.Vmm.Execution;
using Vdi.Vmm.Machine;
using Vdi.Vmm.Tests.Machine;
using Vdi.Vmm.Tracing;
using static Iced.Intel.AssemblerRegisters;
using static Vdi.Vmm.Tests.Tracing.TracingGuest;

namespace Vdi.Vmm.Tests.Tracing;

/// <summary>The cases both engines run, so the software engine and KVM are held to the same answers.</summary>
internal static class WriteTracingCases
{
    private const ulong Old = 0x0BAD_F00D_0BAD_F00D;
    private const ulong Value = 0x1122_3344_5566_7788;

    public static async Task PlainStoreAsync(EngineChoice engine, TraceDecision decision)
    {
        var image = Build(StoreAndReadBack);
        using var machine = KvmMachines.Build(image, memoryMiB: MemoryMiB, engine: engine, exitStormSwitching: false);
        machine.Memory.Write(Traced, Old);
        var seen = TraceWith(machine, decision);

        var exit = await RunAsync(machine);

        var write = Assert.Single(seen);
        Assert.Equal(Traced, write.Address);
        Assert.Equal(8, write.Size);
        Assert.Equal(BitConverter.GetBytes(Old), write.Before);
        Assert.Equal(BitConverter.GetBytes(Value), write.After);
        Assert.Equal(0, write.Vcpu);
        Assert.Null(write.Device);
        Assert.Equal(AfterFirstStore(image), write.Rip);
        Assert.Equal(engine == EngineChoice.Kvm ? WriteOrigin.Kvm : WriteOrigin.Software, write.Origin);
        var entry = Assert.Single(machine.Trace.Snapshot().Entries, e => e.Kind == TraceEntryKind.TracedWrite);
        Assert.Equal(decision, entry.Decision);
        switch (decision)
        {
            case TraceDecision.Apply:
                Assert.Equal(new MachineExit(MachineExitKind.PoweredOff, unchecked((int)(uint)Value), null), exit);
                Assert.Equal(Value, machine.Memory.Read<ulong>(Traced));
                break;
            case TraceDecision.Refuse:
                Assert.Equal(new MachineExit(MachineExitKind.PoweredOff, unchecked((int)(uint)Old), null), exit); // it went on
                Assert.Equal(Old, machine.Memory.Read<ulong>(Traced));
                break;
            default:
                Assert.Equal(MachineExitKind.Crashed, exit.Kind);
                Assert.Contains("traced write stopped the machine", exit.Crash!.Reason, StringComparison.Ordinal);
                Assert.Contains($"0x{Traced:X}", exit.Crash.Reason, StringComparison.Ordinal);
                Assert.Equal(Old, machine.Memory.Read<ulong>(Traced));
                break;
        }
    }

    public static async Task NeighboursAsync(EngineChoice engine)
    {
        using var machine = KvmMachines.Build(Build(a =>
        {
            a.mov(rax, Value);
            a.mov(__qword_ptr[rbx - 8], rax);
            a.mov(__qword_ptr[rbx + 0x1000], rax);
            a.mov(eax, __dword_ptr[rbx + 0x1000]);
        }), memoryMiB: MemoryMiB, engine: engine, exitStormSwitching: false);
        var seen = TraceWith(machine, TraceDecision.Refuse);

        var exit = await RunAsync(machine);

        Assert.Equal(new MachineExit(MachineExitKind.PoweredOff, unchecked((int)(uint)Value), null), exit);
        Assert.Empty(seen);
        Assert.Equal(0, machine.Tracer.Hits);
        Assert.DoesNotContain(machine.Trace.Snapshot().Entries, e => e.Kind != TraceEntryKind.Hypercall);
        Assert.Equal(Value, machine.Memory.Read<ulong>(Traced - 8));
    }

    private static void StoreAndReadBack(Iced.Intel.Assembler a)
    {
        a.mov(rax, Value);
        a.mov(__qword_ptr[rbx], rax);
        a.mov(eax, __dword_ptr[rbx]);
    }
}
