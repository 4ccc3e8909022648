using Vdi.Vmm.Devices.Virtio;
using Vdi.Vmm.Iommu;
using Vdi.Vmm.Memory;

namespace Vdi.Vmm.Tests.Devices.Virtio;

/// <summary>
/// 1 MiB of guest RAM, a device behind a virtio-mmio transport with a recording interrupt line, its DMA through an identity
/// IOMMU domain named after the device (as the machine makes them), and a driver using RAM above 4 KiB as scratch.
/// </summary>
internal sealed class VirtioTestBed<TDevice> : IDisposable
    where TDevice : IVirtioDevice
{
    public const ulong RamSize = 0x10_0000;
    public const ulong ScratchBase = 0x1000;

    public VirtioTestBed(TDevice device)
    {
        Device = device;
        Memory = new GuestMemory();
        Memory.AddRam(0, RamSize);
        Iommu = new VirtualIommu(Memory, RamSize);
        Dma = Iommu.CreateIdentityDomain(device.GetType().Name);
        Transport = new VirtioMmioTransport(device, Dma, Irq);
        Driver = new VirtioTestDriver(Transport, Memory, ScratchBase, RamSize - ScratchBase);
    }

    public TDevice Device { get; }

    public GuestMemory Memory { get; }

    public VirtualIommu Iommu { get; }

    /// <summary>The device's IOMMU domain.</summary>
    public IommuDomain Dma { get; }

    public RecordingInterruptLine Irq { get; } = new();

    public VirtioMmioTransport Transport { get; }

    public VirtioTestDriver Driver { get; }

    /// <summary>A copy of all guest RAM, to show a hostile request changed nothing.</summary>
    public byte[] SnapshotRam()
    {
        var ram = new byte[RamSize];
        Memory.Read(0, ram);
        return ram;
    }

    public void Dispose() => Memory.Dispose();
}

internal static class EchoTestBed
{
    public static VirtioTestBed<EchoDevice> Create(int queueCount = 2, ushort maxQueueSize = 16) =>
        new(new EchoDevice(queueCount, maxQueueSize));
}
