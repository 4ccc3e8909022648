using Vdi.Guest;
using Vdi.Vmm.Boot;
using Vdi.Vmm.Devices;
using Vdi.Vmm.Execution.Switching;
using Vdi.Vmm.Images;
using Vdi.Vmm.Machine;
using Vdi.Vmm.Tests.Guests;
using Vdi.Vmm.Tests.Machine;
using Vdi.Vmm.Vcpu;
using static Iced.Intel.AssemblerRegisters;

namespace Vdi.Vmm.Tests.Execution.Switching;

/// <summary>Pause-all, stop and guest exceptions while a KVM vCPU runs software slices.</summary>
[Trait("Requires", KvmMachines.Trait)]
public sealed class ExitStormLifeCycleTests
{
    private const int Iterations = 400_000; // long enough to be caught mid-storm

    [Fact]
    public async Task Pause_all_parks_a_vcpu_between_slices_and_the_storm_finishes_exactly_after_resume()
    {
        using var machine = KvmMachines.Build(ExitStormLoop.Build(Iterations), memoryMiB: 16);
        machine.Start();
        await WaitForSlices(machine);

        Assert.True(machine.PauseAll(TimeSpan.FromSeconds(5)), "the vCPU did not park");
        Assert.All(machine.VcpuStates, s => Assert.Equal(VcpuState.Paused, s));
        var reads = machine.Devices.Sequence.Reads;
        await Task.Delay(100);
        Assert.Equal(reads, machine.Devices.Sequence.Reads);
        Assert.True(reads < Iterations, "the storm ended before the pause; raise the iterations");
        var stats = machine.EngineSwitches[0];
        Assert.Equal(stats.ToSoftware, stats.ToKvm); // parked in KVM, never inside a slice

        machine.ResumeAll();

        // A kick lands in a slice or in KVM_RUN, whichever runs; pause again until one has ended a slice.
        for (var n = 0; n < 20 && machine.EngineSwitches[0].SlicesEndedBy[SliceEnd.Kicked] == 0 && machine.State == MachineState.Running; n++)
        {
            await Task.Delay(2);
            if (!TryPause(machine))
                break; // the guest finished meanwhile
            Assert.Equal(machine.EngineSwitches[0].ToSoftware, machine.EngineSwitches[0].ToKvm);
            machine.ResumeAll();
        }

        var exit = await machine.WaitForExitAsync(TimeSpan.FromSeconds(120));
        Assert.Equal(MachineExitKind.PoweredOff, exit.Kind);
        Assert.Equal(unchecked((int)ExitStormLoop.Checksum(Iterations)), exit.ExitCode);
        Assert.True(machine.EngineSwitches[0].SlicesEndedBy[SliceEnd.Kicked] >= 1, machine.EngineSwitches[0].ToString());
    }

    [Fact]
    public async Task Pause_all_parks_a_vcpu_in_slices_and_one_in_kvm_run_together()
    {
        using var machine = KvmMachines.Build(TestGuests.ExitStormBesideCompute(Iterations), vcpus: 2, memoryMiB: 16);
        var counter = TestGuests.ExitStormBesideCompute(Iterations).Symbol("counter");
        machine.Start();
        await WaitForSlices(machine);
        Assert.True(machine.Memory.Read<ulong>(counter) > 0, "vCPU 1 should be counting in KVM meanwhile");

        Assert.True(machine.PauseAll(TimeSpan.FromSeconds(5)), "not every vCPU parked");
        Assert.All(machine.VcpuStates, s => Assert.Equal(VcpuState.Paused, s));
        var count = machine.Memory.Read<ulong>(counter);
        var reads = machine.Devices.Sequence.Reads;
        await Task.Delay(100);
        Assert.Equal(count, machine.Memory.Read<ulong>(counter));
        Assert.Equal(reads, machine.Devices.Sequence.Reads);

        machine.ResumeAll();
        var exit = await machine.WaitForExitAsync(TimeSpan.FromSeconds(120));
        Assert.Equal(MachineExitKind.PoweredOff, exit.Kind);
        Assert.Equal(unchecked((int)ExitStormLoop.Checksum(Iterations)), exit.ExitCode);
        Assert.True(machine.Memory.Read<ulong>(counter) > count, "vCPU 1 should have gone on counting after the resume");
        var switches = machine.EngineSwitches;
        Assert.Equal(2, switches.Count);
        Assert.True(switches[0].ToSoftware > 0, switches[0].ToString());
        Assert.Equal(0, switches[1].ToSoftware);
    }

    [Fact]
    public async Task Stop_ends_a_vcpu_that_runs_software_slices()
    {
        using var machine = KvmMachines.Build(ExitStormLoop.Build(Iterations), memoryMiB: 16);
        machine.Start();
        await WaitForSlices(machine);

        machine.Stop();
        var exit = await machine.WaitForExitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(MachineExitKind.Stopped, exit.Kind);
        Assert.True(machine.Devices.Sequence.Reads < Iterations);
    }

    [Fact]
    public async Task An_exception_in_a_slice_is_delivered_by_kvm_as_without_switching()
    {
        var image = DivideByZeroStorm(iterations: 200);
        using var switching = KvmMachines.Build(image, memoryMiB: 16);
        using var kvmOnly = KvmMachines.Build(image, memoryMiB: 16, exitStormSwitching: false);
        var on = await KvmMachines.RunToExitAsync(switching);
        var off = await KvmMachines.RunToExitAsync(kvmOnly);

        Assert.Equal(MachineExitKind.PoweredOff, off.Kind);
        Assert.Equal(0x80, off.ExitCode); // #DE, reported by the guest's handler
        Assert.Equal(off, on);
        Assert.Equal("exception 0\n", switching.Serial.Text);
        var stats = switching.EngineSwitches[0];
        Assert.True(stats.SlicesEndedBy[SliceEnd.KvmOnly] >= 1, stats.ToString());
        Assert.Equal(200, switching.Devices.Sequence.Reads);
    }

    private static bool TryPause(Vmm.Machine.Machine machine)
    {
        try
        {
            return machine.PauseAll(TimeSpan.FromSeconds(5)) && machine.State == MachineState.Paused;
        }
        catch (InvalidOperationException)
        {
            return false; // it powered off between the check and the pause
        }
    }

    private static async Task WaitForSlices(Vmm.Machine.Machine machine)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (machine.EngineSwitches[0].ToSoftware < 3)
        {
            Assert.True(DateTime.UtcNow < deadline, "no software slices");
            await Task.Delay(5);
        }
    }

    /// <summary>A port-read loop dividing by a counter that reaches zero in the middle of the storm.</summary>
    private static GuestImage DivideByZeroStorm(int iterations) =>
        GuestAssembly.Build("divide-by-zero-storm", GuestLayout.ImageBase, g =>
        {
            var runtime = new GuestRuntime(g);
            var a = g.Asm;
            var loop = a.CreateLabel("storm");
            runtime.EmitCpuSetup();
            a.mov(ecx, iterations - 1);
            a.Label(ref loop);
            a.mov(dx, PortMap.Sequence);
            a.@in(eax, dx);
            a.xor(edx, edx);
            a.div(ecx); // #DE once ecx is 0
            a.dec(ecx);
            a.jmp(loop);
            runtime.EmitRoutines();
        });
}
