using Iced.Intel;
using Vdi.Vmm.Execution;
using Vdi.Vmm.Machine;
using Vdi.Vmm.Tests.Machine;
using Xunit.Abstractions;
using static Iced.Intel.AssemblerRegisters;

namespace Vdi.Vmm.Tests.Execution.Switching;

/// <summary>
/// The concurrency guard with vCPUs on both engines at once: on a KVM machine, vCPU 0 reads a port between its
/// increments, so exit-storm switching runs it in software slices, while vCPUs 1 and 2 add to the same counter in
/// KVM_RUN. The software engine's locked instructions are host atomics on the memory KVM maps, and a locked add that
/// straddles a cache line stalls the vCPUs in KVM too: the total is exact either way.
/// </summary>
[Trait("Requires", KvmMachines.Trait)]
public sealed class MixedEngineGuardTests(ITestOutputHelper output)
{
    private const int Vcpus = 3;

    [Fact]
    public async Task Lock_xadd_from_a_software_slice_and_from_kvm_adds_up_exactly()
    {
        // About a second of KVM's time per vCPU on this host (1 M on hardware, where KVM runs billions a second).
        var iterations = Iterations(instructionsPerIteration: 8, floor: 20_000);
        using var machine = Build(iterations, offset: 0, (a, counter) =>
        {
            a.mov(eax, 1);
            a.@lock.xadd(__qword_ptr[counter], rax);
        });
        machine.Start();
        var exit = await machine.WaitForExitAsync(TimeSpan.FromMinutes(3));

        Assert.Equal(new MachineExit(MachineExitKind.PoweredOff, Vcpus * iterations, null), exit);
        var switches = machine.EngineSwitches.Single(s => s.VcpuId == 0);
        Assert.True(switches.ToSoftware > 0 && switches.ToKvm > 0, switches.ToString());
        Assert.True(machine.Guard.AtomicOperations > 0, "no locked instruction ran in a software slice");
        Assert.Equal(0, machine.Guard.GuardedSegments);
        output.WriteLine($"{iterations} iterations a vCPU; {machine.Guard.AtomicOperations} host atomics in slices; {switches}");
    }

    [Fact]
    public async Task Lock_add_straddling_a_cache_line_stalls_the_vcpus_in_kvm_and_adds_up_exactly()
    {
        // Every guarded add stalls two vCPUs in KVM_RUN (a kick and an exit each): fewer iterations where exits are dear.
        var iterations = Iterations(instructionsPerIteration: 64, floor: 5_000);
        using var machine = Build(iterations, offset: 62, (a, counter) => a.@lock.add(__dword_ptr[counter], 1));
        machine.Start();
        var exit = await machine.WaitForExitAsync(TimeSpan.FromMinutes(3));

        Assert.Equal(new MachineExit(MachineExitKind.PoweredOff, Vcpus * iterations, null), exit);
        var switches = machine.EngineSwitches.Single(s => s.VcpuId == 0);
        Assert.True(switches.ToSoftware > 0, switches.ToString());
        output.WriteLine($"{iterations} iterations a vCPU; {machine.Guard.GuardedSegments} guarded segments; {switches}");
        Assert.True(machine.Guard.GuardedSegments > 0, "no straddling add was guarded");
        Assert.All(machine.Guard.RecentSegments, e =>
        {
            Assert.Equal(0, e.Vcpu); // only the software vCPU needs the guard; KVM's are atomic in hardware
            Assert.Equal(Mnemonic.Add, e.Mnemonic);
            Assert.Equal(62UL, e.Address % 64);
        });
    }

    private static int Iterations(int instructionsPerIteration, int floor)
    {
        var kvm = EngineCalibration.Measure(EngineChoice.Kvm);
        return (int)Math.Clamp(kvm.AluInstructionsPerSecond / instructionsPerIteration, floor, 1_000_000);
    }

    private static Vmm.Machine.Machine Build(int iterations, int offset, Action<Assembler, AssemblerRegister64> increment) =>
        KvmMachines.Build(SharedCounterGuest.Build(iterations, offset, increment, portReadOnVcpu0: true), Vcpus, memoryMiB: 8);
}
