using Vdi.Guest;
using Vdi.Vmm.Devices;
using Vdi.Vmm.Images;
using Vdi.Vmm.Machine;
using Vdi.Vmm.Tests.Guests;
using Vdi.Vmm.Tests.Memory;

namespace Vdi.Vmm.Tests.Machine;

/// <remarks>
/// Not in parallel with other tests: the leak check counts the process's descriptors and mappings, which machines other
/// tests build meanwhile would change.
/// </remarks>
[Trait("Requires", KvmMachines.Trait)]
[Collection(nameof(AddressSpaceCollection))]
public sealed class IsolationTests
{
    [Fact]
    public async Task Triple_fault_is_a_crash_with_registers_and_another_running_vm_is_unaffected()
    {
        using var bystander = KvmMachines.Build(BuiltInGuest.Build(1000));
        bystander.Start();
        Assert.True(await bystander.Serial.WaitForTextAsync("counter 1000", TimeSpan.FromSeconds(30)), bystander.Serial.Text);

        var image = TestGuests.TripleFault();
        using var faulty = KvmMachines.Build(image);
        var exit = await KvmMachines.RunToExitAsync(faulty);

        Assert.Equal(MachineExitKind.Crashed, exit.Kind);
        Assert.Equal(MachineState.Crashed, faulty.State);
        var crash = Assert.IsType<MachineCrash>(exit.Crash);
        Assert.Contains("triple fault", crash.Reason, StringComparison.Ordinal);
        Assert.NotNull(crash.Registers);
        Assert.InRange(crash.Registers.Value.Rip, image.LoadAddress, image.EndAddress);

        Assert.Equal(MachineState.Running, bystander.State);
        bystander.RequestPowerOff();
        Assert.Equal(MachineExitKind.PoweredOff, (await bystander.WaitForExitAsync(TimeSpan.FromSeconds(30))).Kind);
    }

    [Fact]
    public async Task Hostile_guest_poking_random_ports_and_mmio_is_refused_and_the_vmm_survives()
    {
        const int memoryMiB = 64;
        using var machine = KvmMachines.Build(TestGuests.Hostile(seed: 0x5EED, iterations: 50_000, ramSize: (ulong)memoryMiB << 20), memoryMiB: memoryMiB);
        var exit = await KvmMachines.RunToExitAsync(machine, timeoutSeconds: 120);

        Assert.Equal(new MachineExit(MachineExitKind.PoweredOff, 0, null), exit);
        Assert.True(machine.Accesses.Count(AccessOutcome.Unmapped) > 10_000, $"refused: {machine.Accesses.Count(AccessOutcome.Unmapped)}");
        Assert.Contains(machine.Accesses.Recent(), a => a.Space == AccessSpace.Mmio);
        Assert.Contains(machine.Accesses.Recent(), a => a.Space == AccessSpace.Pio);

        using var next = KvmMachines.Build(TestGuests.PowerOff(3));
        Assert.Equal(3, (await KvmMachines.RunToExitAsync(next)).ExitCode);
    }

    [Fact]
    public async Task Creating_and_destroying_200_vms_leaks_no_descriptors_or_mappings()
    {
        var image = TestGuests.PowerOff(0);
        for (var i = 0; i < 5; i++)
            await CycleAsync(image); // warm up lazily created runtime state
        var fds = Directory.GetFiles("/proc/self/fd").Length;
        var maps = File.ReadAllLines("/proc/self/maps").Length;

        for (var i = 0; i < 200; i++)
            await CycleAsync(image);

        Assert.InRange(Directory.GetFiles("/proc/self/fd").Length, 0, fds + 2);
        Assert.InRange(File.ReadAllLines("/proc/self/maps").Length, 0, maps + 16);
    }

    [Fact]
    public void A_machine_built_and_disposed_without_starting_releases_everything()
    {
        var fds = Directory.GetFiles("/proc/self/fd").Length;
        for (var i = 0; i < 20; i++)
            KvmMachines.Build(TestGuests.PowerOff(0), vcpus: 2, memoryMiB: 8).Dispose();
        Assert.InRange(Directory.GetFiles("/proc/self/fd").Length, 0, fds + 2);
    }

    private static async Task CycleAsync(GuestImage image)
    {
        using var machine = KvmMachines.Build(image, memoryMiB: 8);
        Assert.Equal(MachineExitKind.PoweredOff, (await KvmMachines.RunToExitAsync(machine)).Kind);
    }
}
