namespace Vdi.Vmm.Devices.Virtio;

/// <summary>
/// The driver broke the virtio contract (bad ring address, descriptor loop, length overflow,
/// ring index out of range...). The transport answers by putting the device into
/// DEVICE_NEEDS_RESET; it never propagates further.
/// </summary>
public sealed class VirtioException : Exception
{
    public VirtioException(string message)
        : base(message)
    {
    }
}
