using Vdi.Vmm.Execution;

namespace Vdi.Server.Desktops;

/// <summary>How the pool runs desktops. Bound from "Vdi:Desktops".</summary>
public sealed class DesktopOptions
{
    /// <summary>Start the desktops marked to run when the server starts.</summary>
    public bool AutoStart { get; set; } = true;

    /// <summary>
    /// What runs the desktops' guest code: <c>Auto</c> (KVM where <c>/dev/kvm</c> works, else the VMM's software
    /// engine), <c>Kvm</c> (KVM or fail) or <c>Software</c>.
    /// </summary>
    public EngineChoice Engine { get; set; } = EngineChoice.Auto;

    /// <summary>The KVM device; null means /dev/kvm (or VDI_KVM_DEVICE).</summary>
    public string? KvmDevicePath { get; set; }
}
