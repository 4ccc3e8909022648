using Vdi.Vmm.Execution;
using Vdi.Vmm.Introspection;
using Vdi.Vmm.Machine;
using Vdi.Vmm.Tests.Execution.Software;
using Vdi.Vmm.Tests.Machine;
using static Iced.Intel.AssemblerRegisters;
using static Vdi.Vmm.Tests.Execution.Software.PagingGuest;

namespace Vdi.Vmm.Tests.Introspection;

/// <summary>
/// A read of an unmapped guest-virtual page with the fault forwarded: the vCPU takes the #PF the guest would have taken
/// (CR2 and error code), the guest's own handler maps the page and returns, and the read then succeeds — on either engine.
/// </summary>
public sealed class ForwardedFaultTests
{
    [Fact]
    public Task On_the_software_engine_a_forwarded_fault_is_handled_by_the_guest_and_the_read_succeeds() => ForwardAsync(EngineChoice.Software);

    [Fact]
    [Trait("Requires", KvmMachines.Trait)]
    public Task On_KVM_a_forwarded_fault_is_handled_by_the_guest_and_the_read_succeeds() => ForwardAsync(EngineChoice.Kvm);

    [Fact]
    public async Task A_fault_the_guest_cannot_fix_is_an_error_at_once()
    {
        using var machine = await StartSpinningAsync(EngineChoice.Software);
        var read = await machine.ReadVirtualForwardingAsync(0, 0x8000_0000_0000, new byte[8], TimeSpan.FromSeconds(5));
        Assert.Equal((false, false, WalkFault.NonCanonical), (read.Succeeded, read.Forwarded, read.Fault!.Value.Fault));
        Assert.Equal(0UL, machine.Memory.Read<ulong>(Results + (Faults * 8)));
        machine.Stop();
    }

    private static async Task ForwardAsync(EngineChoice engine)
    {
        using var machine = await StartSpinningAsync(engine);
        Assert.False(machine.ReadVirtual(machine.ReadCr3(0), Unmapped, new byte[8]).Succeeded); // an error result without forwarding

        var bytes = new byte[8];
        var read = await machine.ReadVirtualForwardingAsync(0, Unmapped, bytes, TimeSpan.FromSeconds(30));

        Assert.True(read.Succeeded, read.ToString());
        Assert.True(read.Forwarded);
        Assert.Equal(Marker, BitConverter.ToUInt64(bytes));
        Assert.Equal(1UL, machine.Memory.Read<ulong>(Results + (Faults * 8)));
        Assert.Equal(Unmapped, machine.Memory.Read<ulong>(Results + (Cr2 * 8)));
        Assert.Equal(0UL, machine.Memory.Read<ulong>(Results + (ErrorCode * 8))); // a supervisor read of a missing page
        Assert.Equal(MachineState.Running, machine.State); // the guest went back to its loop
        machine.Stop();
    }

    /// <summary>A paging guest whose #PF handler maps the faulting page to its data page, spinning in a loop after its setup.</summary>
    private static async Task<Vmm.Machine.Machine> StartSpinningAsync(EngineChoice engine)
    {
        var scenario = new PagingScenario("spin", a =>
        {
            var spin = a.CreateLabel();
            a.mov(rbx, Out(0));
            a.mov(__qword_ptr[rbx], 1);
            a.Label(ref spin);
            a.pause();
            a.jmp(spin);
        }) { Fix = FaultFix.MapFixed, FixPhysical = DataPhysical };
        var machine = KvmMachines.Build(Build(scenario), memoryMiB: 16, engine: engine, exitStormSwitching: false);
        machine.Start();
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (machine.Memory.Read<ulong>(Out(0)) != 1)
        {
            Assert.True(DateTime.UtcNow < deadline, "the guest never reached its loop");
            await Task.Delay(5);
        }
        return machine;
    }
}
