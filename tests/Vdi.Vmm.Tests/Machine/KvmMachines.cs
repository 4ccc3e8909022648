using Vdi.Vmm.Guest;
using Vdi.Vmm.Kvm;
using Vdi.Vmm.Machine;

namespace Vdi.Vmm.Tests.Machine;

/// <summary>
/// Builds machines for tests that need real KVM. Without a usable /dev/kvm these tests fail with a
/// message naming the device and the fix; they never skip.
/// </summary>
internal static class KvmMachines
{
    public const string Trait = "kvm";

    public static Vmm.Machine.Machine Build(GuestImage image, int vcpus = 1, int memoryMiB = 64)
    {
        try
        {
            return MachineBuilder.Build(new MachineConfig { Vcpus = vcpus, MemoryMiB = memoryMiB, Image = image });
        }
        catch (KvmException e) when (e.DeviceUnavailable)
        {
            throw new InvalidOperationException($"this test runs a real VM and needs KVM: {e.Message}", e);
        }
    }

    public static async Task<MachineExit> RunToExitAsync(Vmm.Machine.Machine machine, int timeoutSeconds = 60)
    {
        machine.Start();
        return await machine.WaitForExitAsync(TimeSpan.FromSeconds(timeoutSeconds));
    }
}
