using Vdi.Vmm.Integrity;

namespace Vdi.Guest.Integrity;

/// <summary>
/// What the desktop's integrity driver protects: one node of its protected-page tree per region, each with a tag that
/// alerts echo (<see cref="ProtectedRange.Tag"/>). Every region asks for <see cref="Action"/>, refuse: nothing writes
/// any of them once the desktop has booted, so any write is an attack — refusing it keeps the desktop intact (the IDT
/// included: alerting only would let a hooked gate land), and stopping the machine would hand an attacker a way to
/// take the desktop down.
/// </summary>
public static class ProtectedRegions
{
    /// <summary>The image's code, from its load address to its data: the kernel, its interrupt handlers and the driver's code.</summary>
    public const uint KernelCodeTag = 1;

    /// <summary>The driver's own data page: its protected-page tree.</summary>
    public const uint DriverTag = 2;

    /// <summary>The IDT's page.</summary>
    public const uint IdtTag = 3;

    /// <summary>The GDT and the TSS the VMM set up (two pages).</summary>
    public const uint GdtTag = 4;

    public const ProtectionAction Action = ProtectionAction.Refuse;
}
