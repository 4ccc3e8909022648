using Vdi.Vmm.Devices;
using Vdi.Vmm.Devices.Virtio;
using Vdi.Vmm.Iommu;
using Vdi.Vmm.Memory;

namespace Vdi.Vmm.Tests.Devices.Virtio;

/// <summary>
/// Failures that must end in DEVICE_NEEDS_RESET rather than reach the vCPU or a host thread:
/// a device's VirtioException from configuration access, DRIVER_OK after a setup error, and ring
/// memory that disappears under a live queue. (Regressions for transport fixes.)
/// </summary>
public sealed class TransportRobustnessTests
{
    [Fact]
    public void AVirtioExceptionFromAConfigWriteNeedsResetInsteadOfReachingTheVcpu()
    {
        using var bed = EchoTestBed.Create();
        bed.Driver.Initialize();
        bed.Device.ConfigThrows = true;

        var error = Record.Exception(() => bed.Transport.Write(new BusAccess(VirtioMmio.RegConfig + 4, 0, 0), new byte[4]));

        Assert.Null(error);
        Assert.True(bed.Driver.NeedsReset);
    }

    [Fact]
    public void AVirtioExceptionFromAConfigReadNeedsResetInsteadOfReachingTheVcpu()
    {
        using var bed = EchoTestBed.Create();
        bed.Driver.Initialize();
        bed.Device.ConfigThrows = true;

        var error = Record.Exception(() => bed.Transport.Read(new BusAccess(VirtioMmio.RegConfig, 0, 0), new byte[4]));

        Assert.Null(error);
        Assert.True(bed.Driver.NeedsReset);
    }

    [Fact]
    public void DriverOkAfterASetupErrorDoesNotActivateTheDevice()
    {
        using var bed = EchoTestBed.Create();
        var driver = bed.Driver;
        driver.Negotiate(1UL << 32);
        driver.SetUpQueue(0, 16);
        driver.WriteReg(VirtioMmio.RegQueueSel, 1);
        driver.WriteAddress(VirtioMmio.RegQueueDescLow, 0x2008); // misaligned: needs reset
        driver.WriteReg(VirtioMmio.RegQueueReady, 1);
        Assert.True(driver.NeedsReset);

        driver.AddStatus(VirtioMmio.StatusDriverOk); // a driver that does not check

        Assert.Equal(0, bed.Device.Activations);
        Assert.Null(bed.Device.Host.Active); // host threads would otherwise keep using queue 0
    }

    [Fact]
    public void RingMemoryRemovedUnderALiveQueueNeedsReset()
    {
        using var memory = new GuestMemory();
        memory.AddRam(0, 0x1_0000);
        var high = memory.AddRam(0x1_0000, 0x1_0000);
        var device = new EchoDevice();
        var transport = new VirtioMmioTransport(device, new VirtualIommu(memory, 0x2_0000).CreateIdentityDomain(nameof(EchoDevice)), null);
        var driver = new VirtioTestDriver(transport, memory, 0x1_0000, 0x1_0000);
        driver.Initialize();
        memory.Remove(high);

        var error = Record.Exception(() => driver.Notify(0));

        Assert.Null(error);
        Assert.True(driver.NeedsReset);
    }
}
