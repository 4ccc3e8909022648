using System.Runtime.CompilerServices;

namespace Vdi.Vmm.Execution.Software;

/// <summary>
/// Guest memory access of <see cref="SoftCpu"/>. RAM goes through a cached host pointer of its slot
/// (<see cref="SoftRamWindow"/>): an aligned load or store of 1, 2, 4 or 8 bytes is one host access of that width, a
/// store marks the slot's host-write bitmap as <c>GuestMemory.Write</c> does, and a store to a code page bumps the code
/// version. Anything else — APIC windows, device MMIO, read-only slots for stores, accesses crossing a slot — goes to
/// the bus.
/// </summary>
internal sealed unsafe partial class SoftCpu
{
    private readonly SoftRam? _ram;
    private readonly Memory.GuestMemory? _memory; // _ram's, for the generation check on every access
    private SoftRamWindow _window;

    /// <summary>Set when the running block must end after this instruction (code changed, an event was delivered).</summary>
    private bool _leaveBlock;

    /// <summary>Host pointer for [address, address + size) when it is RAM (and writable, for a store); null otherwise.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private byte* RamPointer(ulong address, int size, bool write)
    {
        var offset = address - _window.Base;
        if (offset < _window.Size && _window.Size - offset >= (ulong)size
            && (!write || _window.Writable) && _window.Generation == _memory!.Generation)
        {
            // SAFETY: offset + size <= the slot's size and the slot map has not changed since the window was taken,
            // so the pointer stays inside the slot's live host mapping.
            return _window.Host + offset;
        }
        return RamPointerSlow(address, size, write);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private byte* RamPointerSlow(ulong address, int size, bool write)
    {
        if (_ram is null || !_ram.TryMap(address, out var window))
            return null;
        _window = window;
        var offset = address - window.Base;
        if (window.Size - offset < (ulong)size || (write && !window.Writable))
            return null;
        // SAFETY: the slot holds [address, address + size) (checked just above) and was just looked up.
        return window.Host + offset;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ulong ReadMem(ulong address, int size)
    {
        var p = RamPointer(address, size, write: false);
        if (p == null)
            return _bus.ReadMemory(this, address, size);
        // SAFETY: RamPointer returned a pointer into a mapped RAM slot with at least `size` bytes from it; the slot
        // stays mapped while the machine runs (slots are removed only with the vCPUs paused).
        return size switch
        {
            8 => Unsafe.ReadUnaligned<ulong>(p),
            4 => Unsafe.ReadUnaligned<uint>(p),
            2 => Unsafe.ReadUnaligned<ushort>(p),
            _ => *p,
        };
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void WriteMem(ulong address, int size, ulong value)
    {
        var p = RamPointer(address, size, write: true);
        if (p == null)
        {
            WriteMemSlow(address, size, value);
            return;
        }
        // SAFETY: as in ReadMem; the window is writable (not a read-only slot).
        switch (size)
        {
            case 8: Unsafe.WriteUnaligned(p, value); break;
            case 4: Unsafe.WriteUnaligned(p, (uint)value); break;
            case 2: Unsafe.WriteUnaligned(p, (ushort)value); break;
            default: *p = (byte)value; break;
        }
        NoteRamStore(address, size);
    }

    /// <summary>After a direct RAM store: the slot's host-write bitmap, and the code version if code was hit.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void NoteRamStore(ulong address, int size)
    {
        var page = (address - _window.Base) >> 12;
        ref var word = ref _window.Dirty[(int)(page >> 6)];
        var bit = 1UL << (int)(page & 63);
        if ((Volatile.Read(ref word) & bit) == 0)
            Interlocked.Or(ref word, bit);
        if ((((address + (ulong)size - 1) ^ address) >> 12) != 0)
            MarkDirtySlow(address + (ulong)size - 1);
        if (_ram!.NoteStore(address, size))
            _leaveBlock = true;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void MarkDirtySlow(ulong address)
    {
        var page = (address - _window.Base) >> 12;
        Interlocked.Or(ref _window.Dirty[page >> 6], 1UL << (int)(page & 63));
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void WriteMemSlow(ulong address, int size, ulong value)
    {
        _bus.WriteMemory(this, address, size, value);
        if (_bus.CodeVersion != _codeVersion)
            _leaveBlock = true;
    }
}
