using Vdi.Vmm.Memory;

namespace Vdi.Vmm.Tests.Memory;

internal enum SlotEventKind
{
    Set,
    Remove,
}

/// <summary>One sink call, with the slot's state copied at the moment of the call (flags change later).</summary>
internal readonly record struct SlotEvent(SlotEventKind Kind, uint Id, ulong GuestAddress, ulong Size, MemorySlotFlags Flags, nint HostAddress)
{
    public static SlotEvent Set(MemorySlot slot) => Of(SlotEventKind.Set, slot);

    public static SlotEvent Remove(MemorySlot slot) => Of(SlotEventKind.Remove, slot);

    public static SlotEvent Of(SlotEventKind kind, MemorySlot slot) =>
        new(kind, slot.Id, slot.GuestAddress, slot.Size, slot.Flags, slot.HostAddress);
}

/// <summary>
/// Stands in for KVM's memory map: records every slot change, and plays KVM's dirty log — pages
/// "the guest wrote" are reported once by <see cref="GetDirtyLog"/>, which then resets them.
/// </summary>
internal sealed class RecordingSlotSink : IMemorySlotSink
{
    private readonly Lock _gate = new();
    private readonly List<SlotEvent> _events = [];
    private readonly Dictionary<uint, SortedSet<ulong>> _guestWrites = [];
    private int _dirtyLogCalls;

    public Func<MemorySlot, Exception?> FailSetSlot { get; set; } = _ => null;

    public IReadOnlyList<SlotEvent> Events
    {
        get
        {
            lock (_gate)
                return [.. _events];
        }
    }

    public int DirtyLogCalls => Volatile.Read(ref _dirtyLogCalls);

    public void ClearEvents()
    {
        lock (_gate)
            _events.Clear();
    }

    /// <summary>Pretends the guest wrote page <paramref name="pageIndex"/> of the slot.</summary>
    public void GuestWrote(MemorySlot slot, ulong pageIndex)
    {
        lock (_gate)
        {
            if (!_guestWrites.TryGetValue(slot.Id, out var pages))
                _guestWrites[slot.Id] = pages = [];
            pages.Add(pageIndex);
        }
    }

    public void SetSlot(MemorySlot slot)
    {
        if (FailSetSlot(slot) is { } failure)
            throw failure;
        lock (_gate)
            _events.Add(SlotEvent.Set(slot));
    }

    public void RemoveSlot(MemorySlot slot)
    {
        lock (_gate)
            _events.Add(SlotEvent.Remove(slot));
    }

    public void GetDirtyLog(MemorySlot slot, Span<ulong> bitmap)
    {
        Interlocked.Increment(ref _dirtyLogCalls);
        bitmap.Clear(); // KVM_GET_DIRTY_LOG overwrites the caller's buffer
        lock (_gate)
        {
            if (!_guestWrites.Remove(slot.Id, out var pages))
                return;
            foreach (var page in pages)
                bitmap[(int)(page >> 6)] |= 1UL << (int)(page & 63);
        }
    }
}
