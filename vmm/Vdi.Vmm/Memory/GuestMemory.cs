using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Vdi.Vmm.Memory;

/// <summary>
/// Guest RAM: anonymous host mappings registered as memory slots. Host code reads and writes guest
/// memory only through this class, by guest-physical address; every access is bounds-checked and
/// every write through the public and untraced paths is recorded for the dirty harvest (<see cref="MemorySlot.HostWrites"/>).
/// While pages are write-traced, a write made for a device (every public write here; the <c>writer</c> names the
/// device) is first offered to <see cref="DeviceWriteCheck"/>, and a refused one writes nothing and fails as an access
/// outside RAM does; the VMM's own writes after a trace decision and the software engine's stores go through the
/// untraced internal writes. Device DMA comes through the IOMMU domains and the DMA path (<c>GuestMemory.Dma.cs</c>):
/// trace-checked the same way, but recorded by the domains' dirty bits instead of the host-write bitmap.
/// </summary>
/// <remarks>
/// Lookups read an immutable, sorted slot array (copy-on-write), so accesses from vCPU and device
/// threads take no lock. Slot changes serialise on <c>_gate</c>; callers pause the vCPUs around a
/// change that removes RAM the guest may be using.
/// </remarks>
public sealed unsafe partial class GuestMemory : IDisposable
{
    private readonly Lock _gate = new();
    private readonly IMemorySlotSink? _sink;
    private volatile MemorySlot[] _slots = []; // sorted by GuestAddress; replaced, never mutated
    private bool _disposed;
    private int _generation;
    private volatile IDeviceWriteCheck? _deviceWriteCheck;

    public GuestMemory(IMemorySlotSink? sink = null) => _sink = sink;

    public IReadOnlyList<MemorySlot> Slots => _slots;

    /// <summary>
    /// Bumped on every change to the slot map or a slot's flags, so a caller that cached a slot's host pointer
    /// (the software engine's RAM fast path) knows to look it up again.
    /// </summary>
    internal int Generation => Volatile.Read(ref _generation);

    /// <summary>The trace's check of device writes; null while nothing is traced.</summary>
    internal IDeviceWriteCheck? DeviceWriteCheck
    {
        get => _deviceWriteCheck;
        set => _deviceWriteCheck = value;
    }

    /// <summary>
    /// Tells the software vCPUs their cached translations are stale (the set of traced pages changed): they refill
    /// their TLBs at the next block, as after a slot change.
    /// </summary>
    internal void InvalidateCachedTranslations() => Interlocked.Increment(ref _generation);

    /// <summary>Guest-physical address just past the highest slot.</summary>
    public ulong Top => _slots is { Length: > 0 } slots ? slots[^1].End : 0;

    /// <summary>Total bytes of RAM across all slots.</summary>
    public ulong Size => _slots.Aggregate(0UL, (sum, s) => sum + s.Size);

    /// <summary>Maps fresh zeroed host memory and adds it as a slot at <paramref name="guestAddress"/>.</summary>
    public MemorySlot AddRam(ulong guestAddress, ulong size, MemorySlotFlags flags = MemorySlotFlags.None)
    {
        RequirePageAligned(guestAddress, size);
        var mapping = MemoryMapping.Create(size);
        lock (_gate)
        {
            try
            {
                return AddSlotLocked(guestAddress, size, mapping, 0, flags);
            }
            catch
            {
                mapping.AddReference();
                mapping.Release();
                throw;
            }
        }
    }

    public void Remove(MemorySlot slot)
    {
        lock (_gate)
        {
            if (slot.IsAlias)
                FoldAliasDirtyLocked(slot); // KVM forgets a removed slot's log: its writes become RAM's host writes
            RemoveSlotLocked(slot);
            slot.Mapping.Release();
        }
    }

    /// <summary>Splits a slot at a page-aligned guest address into two slots over the same host memory.</summary>
    public (MemorySlot Low, MemorySlot High) Split(MemorySlot slot, ulong at)
    {
        if (!slot.Contains(at) || at == slot.GuestAddress || (at & (DirtyBitmap.PageSize - 1)) != 0)
            throw new GuestMemoryException($"cannot split {slot} at 0x{at:X}: not a page boundary strictly inside the slot");
        lock (_gate)
        {
            // Pages written but not yet harvested must survive the split: KVM forgets a removed slot's log.
            var dirty = new ulong[DirtyBitmap.WordsFor(slot.PageCount)];
            if ((slot.Flags & MemorySlotFlags.LogDirty) != 0)
                _sink?.GetDirtyLog(slot, dirty);
            slot.HostWrites.TakeInto(dirty);
            RemoveSlotLocked(slot);
            var lowSize = at - slot.GuestAddress;
            MemorySlot? low = null;
            try
            {
                low = AddSlotLocked(slot.GuestAddress, lowSize, slot.Mapping, slot.MappingOffset, slot.Flags);
                var high = AddSlotLocked(at, slot.Size - lowSize, slot.Mapping, slot.MappingOffset + lowSize, slot.Flags);
                slot.Mapping.Release(); // the two halves hold their own references
                var lowPages = lowSize >> DirtyBitmap.PageShift;
                for (ulong page = 0; page < slot.PageCount; page++)
                {
                    if ((dirty[page >> 6] & (1UL << (int)(page & 63))) == 0)
                        continue;
                    if (page < lowPages)
                        low.HostWrites.MarkRange(page << DirtyBitmap.PageShift, 1);
                    else
                        high.HostWrites.MarkRange((page - lowPages) << DirtyBitmap.PageShift, 1);
                }
                return (low, high);
            }
            catch
            {
                // Put the original slot back as it was; the dirty pages go with it.
                if (low is not null)
                {
                    RemoveSlotLocked(low);
                    low.Mapping.Release();
                }
                var restored = AddSlotLocked(slot.GuestAddress, slot.Size, slot.Mapping, slot.MappingOffset, slot.Flags);
                slot.Mapping.Release();
                for (ulong page = 0; page < slot.PageCount; page++)
                {
                    if ((dirty[page >> 6] & (1UL << (int)(page & 63))) != 0)
                        restored.HostWrites.MarkRange(page << DirtyBitmap.PageShift, 1);
                }
                throw;
            }
        }
    }

    /// <summary>Changes a slot's flags. Dirty logging toggles in place; read-only needs the slot re-created, as KVM requires.</summary>
    public void SetFlags(MemorySlot slot, MemorySlotFlags flags)
    {
        lock (_gate)
        {
            if (Array.IndexOf(_slots, slot) < 0)
                throw new GuestMemoryException($"{slot} is not in this memory map");
            if (_dirtyLogging)
                flags |= MemorySlotFlags.LogDirty;
            var readOnlyChanges = ((slot.Flags ^ flags) & MemorySlotFlags.ReadOnly) != 0;
            ulong[]? pending = null;
            if (readOnlyChanges)
            {
                pending = TakeDirtyLocked(slot); // KVM forgets the log of a slot it re-creates
                _sink?.RemoveSlot(slot);
            }
            slot.Flags = flags;
            Interlocked.Increment(ref _generation);
            _sink?.SetSlot(slot);
            if (pending is not null)
                MarkDirty(slot, 0, pending, slot.PageCount);
        }
    }

    public MemorySlot? FindSlot(ulong guestAddress)
    {
        var slots = _slots;
        int lo = 0, hi = slots.Length - 1;
        while (lo <= hi)
        {
            var mid = (lo + hi) >>> 1;
            var s = slots[mid];
            if (guestAddress < s.GuestAddress)
                hi = mid - 1;
            else if (guestAddress >= s.End)
                lo = mid + 1;
            else
                return s;
        }
        return null;
    }

    /// <summary>True when [address, address + length) lies entirely in guest RAM.</summary>
    public bool IsRam(ulong address, ulong length)
    {
        while (length > 0)
        {
            var slot = FindSlot(address);
            if (slot is null)
                return false;
            var chunk = Math.Min(length, slot.End - address);
            address += chunk;
            length -= chunk;
        }
        return true;
    }

    public void Read(ulong address, Span<byte> destination)
    {
        if (!TryRead(address, destination))
            throw new GuestMemoryException(address, (ulong)destination.Length);
    }

    /// <summary>Writes guest memory for <paramref name="writer"/> (a device's name; "vmm" for the VMM itself).</summary>
    public void Write(ulong address, ReadOnlySpan<byte> source, string writer = VmmWriter)
    {
        if (!IsRam(address, (ulong)source.Length))
            throw new GuestMemoryException(address, (ulong)source.Length);
        if (!DeviceWriteAllowed(writer, address, source))
            throw RefusedWrite(writer, address, source.Length);
        WriteUntraced(address, source);
    }

    /// <summary>The writer named for the VMM's own writes (boot tables, the image).</summary>
    public const string VmmWriter = "vmm";

    /// <summary>Reads guest memory; false (and nothing read) when any byte is outside RAM.</summary>
    public bool TryRead(ulong address, Span<byte> destination)
    {
        if (!IsRam(address, (ulong)destination.Length))
            return false;
        while (!destination.IsEmpty)
        {
            var slot = FindSlot(address)!;
            var chunk = (int)Math.Min((ulong)destination.Length, slot.End - address);
            HostSpan(slot, address, chunk).CopyTo(destination);
            destination = destination[chunk..];
            address += (ulong)chunk;
        }
        return true;
    }

    /// <summary>
    /// Writes guest memory for <paramref name="writer"/> and records the pages as dirty; false (and nothing written)
    /// when any byte is outside RAM or the trace refused the write.
    /// </summary>
    public bool TryWrite(ulong address, ReadOnlySpan<byte> source, string writer = VmmWriter) =>
        IsRam(address, (ulong)source.Length) && DeviceWriteAllowed(writer, address, source) && TryWriteUntraced(address, source);

    /// <summary>A write the trace does not see: the VMM's own, after a trace decision, or a software vCPU's store.</summary>
    internal void WriteUntraced(ulong address, ReadOnlySpan<byte> source)
    {
        if (!TryWriteUntraced(address, source))
            throw new GuestMemoryException(address, (ulong)source.Length);
    }

    /// <summary>As <see cref="WriteUntraced"/>; false (and nothing written) when any byte is outside RAM.</summary>
    internal bool TryWriteUntraced(ulong address, ReadOnlySpan<byte> source)
    {
        if (!IsRam(address, (ulong)source.Length))
            return false;
        while (!source.IsEmpty)
        {
            var slot = FindSlot(address)!;
            var chunk = (int)Math.Min((ulong)source.Length, slot.End - address);
            source[..chunk].CopyTo(HostSpan(slot, address, chunk));
            slot.HostWrites.MarkRange(address - slot.GuestAddress, (ulong)chunk);
            source = source[chunk..];
            address += (ulong)chunk;
        }
        return true;
    }

    /// <summary>
    /// Reads a <typeparamref name="T"/>. A value inside one slot is one load of its size (for 1-, 2-, 4- and 8-byte
    /// types: atomic when naturally aligned, as virtio's ring indices and the guest's own accesses need); a byte copy
    /// could see half of a concurrent write.
    /// </summary>
    public T Read<T>(ulong address)
        where T : unmanaged
    {
        var size = Unsafe.SizeOf<T>();
        if (FindSlot(address) is { } slot && slot.End - address >= (ulong)size)
            return MemoryMarshal.Read<T>(HostSpan(slot, address, size));
        T value = default;
        Read(address, MemoryMarshal.AsBytes(new Span<T>(ref value)));
        return value;
    }

    /// <summary>
    /// Writes a <typeparamref name="T"/> for <paramref name="writer"/>; inside one slot, one store of its size (see
    /// <see cref="Read{T}"/>). Throws <see cref="GuestMemoryException"/> outside RAM or when the trace refused it.
    /// </summary>
    public void Write<T>(ulong address, T value, string writer = VmmWriter)
        where T : unmanaged
    {
        var size = Unsafe.SizeOf<T>();
        var bytes = MemoryMarshal.AsBytes(new ReadOnlySpan<T>(in value));
        var check = _deviceWriteCheck;
        if (check is not null)
        {
            if (!IsRam(address, (ulong)size))
                throw new GuestMemoryException(address, (ulong)size);
            if (!check.AllowDeviceWrite(writer, address, bytes))
                throw RefusedWrite(writer, address, size);
        }
        if (FindSlot(address) is { } slot && slot.End - address >= (ulong)size)
        {
            MemoryMarshal.Write(HostSpan(slot, address, size), in value);
            slot.HostWrites.MarkRange(address - slot.GuestAddress, (ulong)size);
            return;
        }
        if (check is null)
            Write(address, bytes, writer);
        else
            WriteUntraced(address, bytes); // decided above: once per write, even across slots
    }

    private bool DeviceWriteAllowed(string writer, ulong address, ReadOnlySpan<byte> data) =>
        _deviceWriteCheck is not { } check || check.AllowDeviceWrite(writer, address, data);

    private static GuestMemoryException RefusedWrite(string writer, ulong address, int length) =>
        new($"{writer}'s write of {length} byte(s) at 0x{address:X} was refused: the page is write-traced");

    /// <summary>
    /// Collects the pages of a slot written since the last harvest: KVM's dirty log (guest writes,
    /// when the slot logs them) merged with the host-side bitmap (writes made through this class).
    /// Returns the guest-physical addresses of those pages, ascending.
    /// </summary>
    public IReadOnlyList<ulong> HarvestDirty(MemorySlot slot)
    {
        var bitmap = new ulong[DirtyBitmap.WordsFor(slot.PageCount)];
        if ((slot.Flags & MemorySlotFlags.LogDirty) != 0)
            _sink?.GetDirtyLog(slot, bitmap);
        slot.HostWrites.TakeInto(bitmap);
        var pages = new List<ulong>();
        for (var w = 0; w < bitmap.Length; w++)
        {
            var word = bitmap[w];
            while (word != 0)
            {
                var bit = System.Numerics.BitOperations.TrailingZeroCount(word);
                pages.Add(slot.GuestAddress + (((ulong)w * 64 + (ulong)bit) << DirtyBitmap.PageShift));
                word &= word - 1;
            }
        }
        return pages;
    }

    private static Span<byte> HostSpan(MemorySlot slot, ulong address, int length)
    {
        // SAFETY: callers checked [address, address + length) lies inside the slot, whose host
        // memory stays mapped while the slot (and so this GuestMemory) is alive.
        return new Span<byte>((byte*)slot.HostAddress + (address - slot.GuestAddress), length);
    }

    private MemorySlot AddSlotLocked(ulong guestAddress, ulong size, MemoryMapping mapping, ulong mappingOffset, MemorySlotFlags flags, bool alias = false)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var slots = _slots;
        if (slots.Any(s => guestAddress < s.End && s.GuestAddress < guestAddress + size))
            throw new GuestMemoryException($"[0x{guestAddress:X}, 0x{guestAddress + size:X}) overlaps an existing slot");
        if (_dirtyLogging)
            flags |= MemorySlotFlags.LogDirty; // a slot made while migration logs writes logs them too
        var slot = new MemorySlot(NextFreeId(slots), guestAddress, size, mapping, mappingOffset, flags) { IsAlias = alias };
        _sink?.SetSlot(slot);
        mapping.AddReference();
        _slots = [.. slots.Append(slot).OrderBy(s => s.GuestAddress)];
        Interlocked.Increment(ref _generation);
        return slot;
    }

    private void RemoveSlotLocked(MemorySlot slot)
    {
        if (Array.IndexOf(_slots, slot) < 0)
            throw new GuestMemoryException($"{slot} is not in this memory map");
        _sink?.RemoveSlot(slot);
        _slots = [.. _slots.Where(s => s != slot)];
        Interlocked.Increment(ref _generation);
    }

    private static uint NextFreeId(MemorySlot[] slots)
    {
        uint id = 0;
        while (slots.Any(s => s.Id == id))
            id++;
        return id;
    }

    private static void RequirePageAligned(ulong address, ulong size)
    {
        if (size == 0 || ((address | size) & (DirtyBitmap.PageSize - 1)) != 0)
            throw new GuestMemoryException($"slot [0x{address:X}, +0x{size:X}) must be non-empty and 4 KiB aligned");
    }

    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed)
                return;
            _disposed = true;
            foreach (var slot in _slots)
                slot.Mapping.Release();
            _slots = [];
            Interlocked.Increment(ref _generation);
        }
    }
}
