using System.Runtime.CompilerServices;
using Vdi.Vmm.Memory;

namespace Vdi.Vmm.Execution.Software;

/// <summary>
/// A slot of guest RAM as one software vCPU caches it for direct access: guest range, host pointer, whether guest
/// stores may go straight to it, the slot's host-write bitmap, and the memory map generation it was taken at.
/// </summary>
internal unsafe struct SoftRamWindow
{
    public ulong Base;
    public ulong Size; // 0: nothing cached
    public byte* Host;
    public ulong[] Dirty;
    public int Generation;
    public bool Writable;
}

/// <summary>
/// The software engine's RAM fast path, shared by a machine's vCPUs: maps a guest-physical address to a cached host
/// pointer of its slot (read-only slots are readable but never writable here, so stores to them take the bus, as KVM
/// would exit), and keeps the code-page bitmap and <see cref="CodeVersion"/> behind self-modifying code: a store to a
/// page code was fetched from bumps the version, and every vCPU decodes afresh.
/// </summary>
internal sealed unsafe class SoftRam
{
    private const int PageShift = 12;

    private readonly ulong[] _codePages; // one bit per guest page below _codeLimit that code was fetched from
    private readonly ulong _codeLimit;
    private long _codeVersion;

    public SoftRam(GuestMemory memory, ulong codeLimit)
    {
        Memory = memory;
        _codeLimit = codeLimit;
        _codePages = new ulong[(int)(((codeLimit >> PageShift) + 63) / 64)];
    }

    public GuestMemory Memory { get; }

    /// <summary>The machine's write-traced pages: never given a store tag in a TLB (null: nothing can be traced).</summary>
    public Tracing.TracedPages? Traced { get; init; }

    public long CodeVersion => Volatile.Read(ref _codeVersion);

    /// <summary>The slot holding <paramref name="address"/> as a window; false when it is not RAM.</summary>
    public bool TryMap(ulong address, out SoftRamWindow window)
    {
        var generation = Memory.Generation; // read first: a change after this makes the window stale, never wrong
        var slot = Memory.FindSlot(address);
        if (slot is null)
        {
            window = default;
            return false;
        }
        window = new SoftRamWindow
        {
            Base = slot.GuestAddress,
            Size = slot.Size,
            // SAFETY: the slot's host memory is mapped for the slot's lifetime; users check the generation before use.
            Host = (byte*)slot.HostAddress,
            Dirty = slot.HostWrites.Words,
            Generation = generation,
            Writable = !slot.IsReadOnly,
        };
        return true;
    }

    public void NoteCodePage(ulong rip)
    {
        if (rip >= _codeLimit)
            return;
        var page = rip >> PageShift;
        Interlocked.Or(ref _codePages[page >> 6], 1UL << (int)(page & 63));
    }

    /// <summary>A store of <paramref name="size"/> bytes landed at <paramref name="address"/>; true if it hit code.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool NoteStore(ulong address, int size)
    {
        var page = address >> PageShift;
        var words = _codePages;
        if (((address + (ulong)size - 1) >> PageShift) == page && (page >> 6) < (ulong)words.Length
            && ((Volatile.Read(ref words[(int)(page >> 6)]) >> (int)(page & 63)) & 1) == 0)
            return false; // one page, and no code on it
        return NoteWrite(address, (ulong)size);
    }

    /// <summary>Bumps <see cref="CodeVersion"/> when [address, address + length) touches a code page; true if it did.</summary>
    public bool NoteWrite(ulong address, ulong length)
    {
        if (address >= _codeLimit || length == 0)
            return false;
        var last = Math.Min(address + length - 1, _codeLimit - 1) >> PageShift;
        for (var page = address >> PageShift; page <= last; page++)
        {
            var word = (int)(page >> 6);
            var bit = 1UL << (int)(page & 63);
            if ((Volatile.Read(ref _codePages[word]) & bit) == 0)
            {
                if ((page & 63) == 0 && _codePages[word] == 0)
                    page += 63; // a whole word of pages without code
                continue;
            }
            // Code on this page changed: every vCPU decodes afresh and notes its code pages again.
            Array.Clear(_codePages);
            Interlocked.Increment(ref _codeVersion);
            return true;
        }
        return false;
    }
}
