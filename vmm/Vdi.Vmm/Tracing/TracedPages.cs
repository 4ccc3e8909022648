namespace Vdi.Vmm.Tracing;

/// <summary>
/// One bit per 4 KiB guest-physical page below the top of RAM: set while the page is write-traced. Read without a lock
/// by the engines and devices (a bit is read with one volatile load); written only under the tracer's lock.
/// </summary>
internal sealed class TracedPages
{
    public const int PageShift = 12;

    private readonly ulong[] _words;
    private readonly ulong _pages;

    public TracedPages(ulong top)
    {
        _pages = top >> PageShift;
        _words = new ulong[(int)((_pages + 63) / 64)];
    }

    public ulong Top => _pages << PageShift;

    public bool IsTraced(ulong address)
    {
        var page = address >> PageShift;
        return page < _pages && ((Volatile.Read(ref _words[(int)(page >> 6)]) >> (int)(page & 63)) & 1) != 0;
    }

    /// <summary>True when any page of [address, address + length) is traced.</summary>
    public bool AnyTraced(ulong address, ulong length)
    {
        if (length == 0)
            return false;
        var last = (address + length - 1) >> PageShift;
        for (var page = address >> PageShift; page <= last && page < _pages; page++)
        {
            var word = Volatile.Read(ref _words[(int)(page >> 6)]);
            if (word == 0)
            {
                page |= 63; // a whole word of untraced pages
                continue;
            }
            if (((word >> (int)(page & 63)) & 1) != 0)
                return true;
        }
        return false;
    }

    public void Set(ulong page, bool traced)
    {
        ref var word = ref _words[(int)(page >> 6)];
        var bit = 1UL << (int)(page & 63);
        if (traced)
            Interlocked.Or(ref word, bit);
        else
            Interlocked.And(ref word, ~bit);
    }
}
