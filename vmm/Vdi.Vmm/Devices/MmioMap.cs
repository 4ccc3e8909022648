namespace Vdi.Vmm.Devices;

/// <summary>
/// Where the standard machine's virtio-mmio devices sit and which interrupt each uses. Guests find
/// them by probing each window for the virtio magic value. Their GSIs are I/O APIC pins above the
/// ISA range, so only the I/O APIC sees them; guests program them level-triggered, active high.
/// </summary>
public static class MmioMap
{
    public const ulong VirtioBase = 0xD000_0000;
    public const ulong VirtioWindow = 0x1000;

    public const int GpuSlot = 0;
    public const int KeyboardSlot = 1;
    public const int TabletSlot = 2;
    public const int VirtioSlots = 3;

    /// <summary>GSI of virtio slot n.</summary>
    public const int VirtioFirstGsi = 16;

    public static ulong VirtioAddress(int slot) => VirtioBase + ((ulong)slot * VirtioWindow);

    public static int VirtioGsi(int slot) => VirtioFirstGsi + slot;
}
