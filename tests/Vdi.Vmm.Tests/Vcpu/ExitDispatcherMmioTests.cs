using Vdi.Vmm.Devices;
using Vdi.Vmm.Memory;
using Vdi.Vmm.Tests.Devices;
using Vdi.Vmm.Vcpu;

namespace Vdi.Vmm.Tests.Vcpu;

public sealed class ExitDispatcherMmioTests : ExitDispatcherFixture
{
    private const ulong RomBase = 0xF_0000;
    private const ulong DeviceBase = 0xFEB0_0000;

    [Fact]
    public void WriteIntoReadOnlyMemoryIsLoggedWithItsDataAndLeavesMemoryAlone()
    {
        Memory.AddRam(RomBase, 4 * Page, MemorySlotFlags.ReadOnly);
        var device = new RecordingDevice();
        Mmio.Register(RomBase, 4 * Page, device); // must not be reached: the slot decides
        Run.SetMmio(RomBase + 0x10, isWrite: true, [0x78, 0x56, 0x34, 0x12]);

        Assert.Equal(ExitResult.Continue, Dispatch(vcpuId: 2));

        Assert.Equal(
            new GuestAccess(AccessSpace.Mmio, RomBase + 0x10, 4, 0x1234_5678, true, 2, AccessOutcome.ReadOnlyMemoryWrite),
            Assert.Single(Log.Recent()));
        Assert.Equal(0u, Memory.Read<uint>(RomBase + 0x10));
        Assert.Empty(device.Calls);
    }

    [Fact]
    public void EightByteWriteIntoReadOnlyMemoryKeepsAllItsData()
    {
        Memory.AddRam(RomBase, Page, MemorySlotFlags.ReadOnly);
        Run.SetMmio(RomBase, isWrite: true, [1, 2, 3, 4, 5, 6, 7, 8]);

        Dispatch();

        var entry = Assert.Single(Log.Recent());
        Assert.Equal((8, 0x0807_0605_0403_0201UL), (entry.Size, entry.Data));
    }

    [Fact]
    public void WriteOutsideReadOnlyMemoryGoesToTheMmioBus()
    {
        Memory.AddRam(0, Page); // writable RAM never exits; this one is only here to be ignored
        var device = new RecordingDevice();
        Mmio.Register(DeviceBase, 0x1000, device);
        Run.SetMmio(DeviceBase + 0x20, isWrite: true, [0xAA, 0xBB]);

        Assert.Equal(ExitResult.Continue, Dispatch(vcpuId: 1));

        var call = Assert.Single(device.Calls);
        Assert.Equal((true, new BusAccess(0x20, DeviceBase + 0x20, 1)), (call.IsWrite, call.Access));
        Assert.Equal(new byte[] { 0xAA, 0xBB }, call.Data);
        Assert.Equal(0, Log.Total);
    }

    [Fact]
    public void ReadFromADeviceFillsTheExitData()
    {
        Mmio.Register(DeviceBase, 0x1000, new RecordingDevice { ReadByte = 0x3C });
        Run.SetMmio(DeviceBase + 8, isWrite: false, new byte[4]);

        Assert.Equal(ExitResult.Continue, Dispatch());

        Assert.Equal(new byte[] { 0x3C, 0x3C, 0x3C, 0x3C, 0, 0, 0, 0 }, Run.MmioData.ToArray());
    }

    [Fact]
    public void UnmappedReadReturnsAllOnesAndIsLogged()
    {
        Run.SetMmio(0xC000_0000, isWrite: false, new byte[2]);

        Assert.Equal(ExitResult.Continue, Dispatch(vcpuId: 4));

        Assert.Equal(new byte[] { 0xFF, 0xFF, 0, 0, 0, 0, 0, 0 }, Run.MmioData.ToArray());
        Assert.Equal(new GuestAccess(AccessSpace.Mmio, 0xC000_0000, 2, 0, false, 4, AccessOutcome.Unmapped), Assert.Single(Log.Recent()));
    }

    [Fact]
    public void UnmappedWriteIsDroppedAndLogged()
    {
        Run.SetMmio(0xC000_0000, isWrite: true, [0x11]);

        Assert.Equal(ExitResult.Continue, Dispatch());

        Assert.Equal(new GuestAccess(AccessSpace.Mmio, 0xC000_0000, 1, 0x11, true, 0, AccessOutcome.Unmapped), Assert.Single(Log.Recent()));
    }

    [Fact]
    public void OversizedMmioLengthIsClampedToTheEightByteDataField()
    {
        Mmio.Register(DeviceBase, 0x1000, new RecordingDevice { ReadByte = 0x01 });
        Run.SetMmio(DeviceBase, isWrite: false, new byte[8]);
        Run.MmioLength = 4096; // a corrupt page must not make the dispatcher write past the field

        Dispatch();

        Assert.Equal(Enumerable.Repeat((byte)0x01, 8), Run.MmioData.ToArray());
        Assert.Equal(4096u, Run.MmioLength);
    }
}
