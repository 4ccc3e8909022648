namespace Vdi.Vmm.Memory;

/// <summary>One bit per 4 KiB page, set concurrently by host writers and taken atomically by a harvest.</summary>
public sealed class DirtyBitmap
{
    public const int PageShift = 12;
    public const ulong PageSize = 1UL << PageShift;

    private readonly ulong[] _words;

    public DirtyBitmap(ulong pageCount)
    {
        PageCount = pageCount;
        _words = new ulong[WordsFor(pageCount)];
    }

    public ulong PageCount { get; }

    /// <summary>The bits themselves, for a hot path that marks one page inline (check, then <c>Interlocked.Or</c>).</summary>
    internal ulong[] Words => _words;

    public static int WordsFor(ulong pageCount) => checked((int)((pageCount + 63) / 64));

    /// <summary>Marks every page touched by [offset, offset + length) within the slot.</summary>
    public void MarkRange(ulong offset, ulong length)
    {
        if (length == 0)
            return;
        var first = offset >> PageShift;
        var last = (offset + length - 1) >> PageShift;
        for (var page = first; page <= last && page < PageCount; page++)
        {
            var bit = 1UL << (int)(page & 63);
            ref var word = ref _words[page >> 6];
            if ((Volatile.Read(ref word) & bit) == 0)
                Interlocked.Or(ref word, bit);
        }
    }

    /// <summary>ORs the bitmap into <paramref name="target"/> and clears it, word by word, without losing a concurrent mark.</summary>
    public void TakeInto(Span<ulong> target)
    {
        for (var i = 0; i < _words.Length && i < target.Length; i++)
        {
            if (Volatile.Read(ref _words[i]) != 0)
                target[i] |= Interlocked.Exchange(ref _words[i], 0);
        }
    }
}
