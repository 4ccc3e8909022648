namespace Vdi.Vmm.Devices.Input;

/// <summary>The ID_DEVIDS values of Vdi's input devices (bus type BUS_VIRTUAL).</summary>
public static class VirtioInputIds
{
    /// <summary>"VD"; there is no registered USB vendor behind a virtual bus.</summary>
    public const ushort Vendor = 0x5644;
    public const ushort KeyboardProduct = 0x0001;
    public const ushort TabletProduct = 0x0002;
}
