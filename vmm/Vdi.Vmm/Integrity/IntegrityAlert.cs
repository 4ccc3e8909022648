namespace Vdi.Vmm.Integrity;

/// <summary>What an integrity alert is about.</summary>
public enum IntegrityAlertKind
{
    /// <summary>A write to a protected page.</summary>
    ProtectedPage,

    /// <summary>A write to a page-table entry on the path to a protected page that would remap it, unmap it, or widen its rights.</summary>
    PageTable,

    /// <summary>A write to a node of the driver's protected-page tree outside integrity mode.</summary>
    Tree,

    /// <summary>An integrity-mode hypercall not issued from the registered entry point (or with another CR3).</summary>
    EntryPoint,

    /// <summary>A hypercall the driver's state does not allow (a second registration, leaving a mode never entered, a malformed tree).</summary>
    Protocol,
}

/// <summary>
/// One integrity alert: when, who (a vCPU with its RIP, or a device), what was written where — guest-physical and,
/// where the protection knows it, guest-virtual address — the bytes before and after, the action the protection asks
/// for and what was done (<see cref="Applied"/>: the write landed).
/// </summary>
public sealed record IntegrityAlert(
    long Sequence,
    DateTimeOffset Time,
    IntegrityAlertKind Kind,
    int Vcpu,
    string? Device,
    ulong? Rip,
    ulong Physical,
    ulong? Virtual,
    byte[] Before,
    byte[] After,
    ProtectionAction Action,
    bool Applied,
    string Detail)
{
    public override string ToString() =>
        $"#{Sequence} {Kind}: {(Device ?? $"vcpu {Vcpu}")}{(Rip is { } r ? $" at rip 0x{r:X}" : "")} " +
        $"{(Virtual is { } v ? $"0x{v:X} " : "")}(phys 0x{Physical:X}) {Convert.ToHexString(Before)} -> {Convert.ToHexString(After)}: " +
        $"{Action}, {(Applied ? "applied" : "refused")} — {Detail}";
}
