namespace Vdi.Server.Desktops;

/// <summary>How the pool runs desktops. Bound from "Vdi:Desktops".</summary>
public sealed class DesktopOptions
{
    /// <summary>Start the desktops marked to run when the server starts.</summary>
    public bool AutoStart { get; set; } = true;

    /// <summary>The KVM device; null means /dev/kvm (or VDI_KVM_DEVICE).</summary>
    public string? KvmDevicePath { get; set; }
}
