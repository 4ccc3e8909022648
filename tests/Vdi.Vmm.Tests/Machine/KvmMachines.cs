using Vdi.Vmm.Execution;
using Vdi.Vmm.Images;
using Vdi.Vmm.Kvm;
using Vdi.Vmm.Machine;

namespace Vdi.Vmm.Tests.Machine;

/// <summary>
/// Builds machines for the machine tests, on KVM or on the software engine. Without a usable /dev/kvm the KVM
/// tests fail with a message naming the device and the fix; they never skip.
/// </summary>
internal static class KvmMachines
{
    public const string Trait = "kvm";

    public static Vmm.Machine.Machine Build(GuestImage image, int vcpus = 1, int memoryMiB = 64, EngineChoice engine = EngineChoice.Kvm, bool exitStormSwitching = true) =>
        Build(new MachineConfig { Vcpus = vcpus, MemoryMiB = memoryMiB, Image = image, Engine = engine, ExitStormSwitching = exitStormSwitching });

    public static Vmm.Machine.Machine Build(MachineConfig config)
    {
        try
        {
            return MachineBuilder.Build(config);
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

    /// <summary>Waits (up to 30 s) until the guest has reported boot marker <paramref name="marker"/>.</summary>
    public static async Task WaitForMarkerAsync(Vmm.Machine.Machine machine, byte marker)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!machine.Devices.Power.Markers.Any(m => m.Value == marker))
        {
            Assert.True(DateTime.UtcNow < deadline, $"marker {marker} never came; serial: {machine.Serial.Text}");
            await Task.Delay(10);
        }
    }
}
