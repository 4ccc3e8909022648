namespace Vdi.Vmm.Devices;

/// <summary>One guest access as a device sees it.</summary>
/// <param name="Offset">Offset from the start of the device's registered range.</param>
/// <param name="Address">Absolute port number or guest-physical address.</param>
/// <param name="VcpuId">The vCPU that made the access.</param>
public readonly record struct BusAccess(ulong Offset, ulong Address, int VcpuId);

/// <summary>A device on the PIO or MMIO bus. Runs on the accessing vCPU's thread.</summary>
public interface IBusDevice
{
    /// <summary>Fills <paramref name="data"/> (1–8 bytes); false when the device refuses the access (the guest then reads all ones).</summary>
    bool Read(in BusAccess access, Span<byte> data);

    /// <summary>Takes <paramref name="data"/> (1–8 bytes); false when the device refuses the access (the write is dropped).</summary>
    bool Write(in BusAccess access, ReadOnlySpan<byte> data);
}

/// <summary>A device's way to drive its interrupt line on the irqchip.</summary>
public interface IInterruptLine
{
    void SetLevel(bool level);
}
