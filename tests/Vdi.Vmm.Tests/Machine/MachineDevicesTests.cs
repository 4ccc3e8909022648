using Vdi.Vmm.Devices;
using Vdi.Vmm.Devices.Virtio;
using Vdi.Vmm.Machine;
using Vdi.Vmm.Memory;
using Vdi.Vmm.Tests.Devices;
using Vdi.Vmm.Tests.Devices.Virtio;
using Vdi.Vmm.Tests.Guests;

namespace Vdi.Vmm.Tests.Machine;

/// <summary>The standard device set, assembled without KVM: placement, interrupts and wiring.</summary>
public sealed class MachineDevicesTests
{
    private static (MachineDevices Devices, GuestMemory Memory, Dictionary<int, RecordingInterruptLine> Lines) Create()
    {
        var memory = new GuestMemory();
        memory.AddRam(0, 64UL << 20);
        var lines = new Dictionary<int, RecordingInterruptLine>();
        var config = new MachineConfig { Image = TestGuests.PowerOff(0) };
        var devices = MachineDevices.Create(config, memory, gsi => lines[gsi] = new RecordingInterruptLine(), 0, _ => { });
        return (devices, memory, lines);
    }

    [Theory]
    [InlineData(MmioMap.GpuSlot, VirtioDeviceIds.Gpu)]
    [InlineData(MmioMap.KeyboardSlot, VirtioDeviceIds.Input)]
    [InlineData(MmioMap.TabletSlot, VirtioDeviceIds.Input)]
    public void Each_virtio_window_answers_with_the_magic_and_its_device_id(int slot, uint deviceId)
    {
        var (devices, memory, _) = Create();
        using var _memory = memory;
        Span<byte> word = stackalloc byte[4];
        Assert.True(devices.Mmio.Read(MmioMap.VirtioAddress(slot), 0, word));
        Assert.Equal(VirtioMmio.MagicValue, BitConverter.ToUInt32(word));
        Assert.True(devices.Mmio.Read(MmioMap.VirtioAddress(slot) + VirtioMmio.RegDeviceId, 0, word));
        Assert.Equal(deviceId, BitConverter.ToUInt32(word));
        Assert.False(devices.Mmio.Read(MmioMap.VirtioAddress(MmioMap.VirtioSlots), 0, word));
    }

    [Fact]
    public void Interrupt_lines_are_the_documented_gsis()
    {
        var (_, memory, lines) = Create();
        using var _memory = memory;
        Assert.Equal(
            [PortMap.Com1Irq, PortMap.HostRequestIrq, MmioMap.VirtioGsi(0), MmioMap.VirtioGsi(1), MmioMap.VirtioGsi(2)],
            lines.Keys.Order());
    }

    [Fact]
    public void The_tablet_extent_follows_the_scanout_the_guest_sets()
    {
        var (devices, memory, lines) = Create();
        using var _memory = memory;
        var transport = (VirtioMmioTransport)devices.Mmio.DeviceAt(MmioMap.VirtioAddress(MmioMap.GpuSlot))!;
        var driver = new VirtioTestDriver(transport, memory, 0x10_0000, 0xF0_0000);
        driver.Initialize(queueSize: 16);
        Assert.Equal((1280, 720), devices.Tablet.Extent);

        var create = new byte[40];
        BitConverter.GetBytes(0x0101u).CopyTo(create, 0);
        BitConverter.GetBytes(1u).CopyTo(create, 24);
        BitConverter.GetBytes(2u).CopyTo(create, 28);
        BitConverter.GetBytes(1000u).CopyTo(create, 32);
        BitConverter.GetBytes(500u).CopyTo(create, 36);
        driver.Request(0, create, 24);
        var scanout = new byte[48];
        BitConverter.GetBytes(0x0103u).CopyTo(scanout, 0);
        BitConverter.GetBytes(1000u).CopyTo(scanout, 32);
        BitConverter.GetBytes(500u).CopyTo(scanout, 36);
        BitConverter.GetBytes(1u).CopyTo(scanout, 44);
        driver.Request(0, scanout, 24);

        Assert.Equal((1000, 500), devices.Tablet.Extent);
        Assert.Contains(true, lines[MmioMap.VirtioGsi(MmioMap.TabletSlot)].Levels);
    }
}
