namespace Vdi.Vmm.Memory;

/// <summary>Where slot changes go: the hypervisor's memory map (KVM memory slots), or nowhere for host-only memory.</summary>
public interface IMemorySlotSink
{
    /// <summary>Creates or updates the slot with this id.</summary>
    void SetSlot(MemorySlot slot);

    void RemoveSlot(MemorySlot slot);

    /// <summary>Fills one bit per page of the slot with the pages the guest wrote since the last call, and resets that log.</summary>
    void GetDirtyLog(MemorySlot slot, Span<ulong> bitmap);
}
