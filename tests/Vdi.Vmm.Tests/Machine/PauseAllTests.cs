using Vdi.Guest;
using Vdi.Vmm.Execution;
using Vdi.Vmm.Images;
using Vdi.Vmm.Machine;
using Vdi.Vmm.Vcpu;

namespace Vdi.Vmm.Tests.Machine;

[Trait("Requires", KvmMachines.Trait)]
public sealed class PauseAllTests() : PauseAllTestsBase(EngineChoice.Kvm);

/// <summary>Pause-all parks every vCPU mid-work and the guest finishes correctly after resume. On the software engine.</summary>
public sealed class SoftwarePauseAllTests() : PauseAllTestsBase(EngineChoice.Software);

public abstract class PauseAllTestsBase(EngineChoice engine)
{
    private protected EngineChoice Engine => engine;

    private protected Vmm.Machine.Machine Build(Vmm.Images.GuestImage image, int vcpus = 1, int memoryMiB = 64) =>
        KvmMachines.Build(image, vcpus, memoryMiB, engine);

    [Fact]
    public async Task Pause_all_parks_every_vcpu_mid_count_and_the_guest_finishes_correctly_after_resume()
    {
        const int vcpus = 4;
        // About a second of counting per vCPU on this host's engine, so the pause lands mid-count: KVM on hardware runs
        // billions of instructions a second, an emulating KVM about a million.
        var figures = EngineCalibration.Measure(Engine);
        var iterations = (int)Math.Clamp(figures.AluInstructionsPerSecond / 8, 200_000, 50_000_000);
        var image = BuiltInGuest.Build(iterations);
        using var machine = Build(image, vcpus);
        machine.Start();
        Assert.True(await machine.Serial.WaitForTextAsync($"cpu {vcpus - 1} online", TimeSpan.FromSeconds(30)), machine.Serial.Text);

        Assert.True(machine.PauseAll(TimeSpan.FromSeconds(5)), "not every vCPU parked");
        Assert.Equal(MachineState.Paused, machine.State);
        Assert.All(machine.VcpuStates, s => Assert.Equal(VcpuState.Paused, s));
        var counter = image.Symbol("counter");
        var before = machine.Memory.Read<ulong>(counter);
        await Task.Delay(200);
        Assert.Equal(before, machine.Memory.Read<ulong>(counter));
        Assert.True(before < (ulong)(vcpus * iterations), "the guest finished before the pause; raise the iterations");

        machine.ResumeAll();
        Assert.True(await machine.Serial.WaitForTextAsync($"counter {(long)vcpus * iterations}\n", TimeSpan.FromSeconds(120)), machine.Serial.Text);
        machine.RequestPowerOff();
        var exit = await machine.WaitForExitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(MachineExitKind.PoweredOff, exit.Kind);
    }
}
