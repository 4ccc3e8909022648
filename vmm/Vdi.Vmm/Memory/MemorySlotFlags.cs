namespace Vdi.Vmm.Memory;

[Flags]
public enum MemorySlotFlags
{
    None = 0,

    /// <summary>Guest writes do not reach memory; they exit as MMIO writes carrying address and data.</summary>
    ReadOnly = 1,

    /// <summary>KVM logs the pages the guest writes; <see cref="GuestMemory.HarvestDirty"/> collects them.</summary>
    LogDirty = 2,
}
