namespace Vdi.Vmm.Host;

/// <summary>
/// The layout of the scanout shared between a desktop host and its broker (a sealed <c>memfd</c>, docs/host-protocol.md):
/// a 4 KiB header; the copy area — the pixels of the largest mode at a fixed stride (<c>maxWidth × 4</c>, rows at their
/// scanout position), for scanouts whose resource is private to the host; the resource arena — room for two images of
/// the largest mode, where the host places resources so the guest's transfers land in shared memory; then a 256×256
/// cursor area. The header holds two seqlocks — one for the scanout's pixels, mode and location, one for the cursor —
/// each odd while the host writes; a reader copies, then checks the counter did not move.
/// </summary>
public static class ScanoutLayout
{
    public const uint Magic = 0x53494456; // "VDIS"
    public const int LayoutVersion = 2;
    public const int PixelOffset = 4096;
    public const int MaxCursor = 256;
    public const int CursorBytes = MaxCursor * MaxCursor * 4;

    /// <summary>Images the arena holds at the largest mode: a new mode's resource is made before the old one goes.</summary>
    public const int ArenaImages = 2;

    // Header fields (byte offsets).
    internal const int MagicAt = 0, VersionAt = 4, SequenceAt = 8, WidthAt = 16, HeightAt = 20, FormatAt = 24;
    internal const int CursorSequenceAt = 32, CursorWidthAt = 40, CursorHeightAt = 44, CursorFormatAt = 48, CursorHotXAt = 52, CursorHotYAt = 56, CursorVisibleAt = 60;
    internal const int LocationOffsetAt = 64, LocationStrideAt = 72;

    public static int Stride(int maxWidth) => checked(maxWidth * 4);

    /// <summary>Where the resource arena starts: after the copy area.</summary>
    public static long ArenaOffset(int maxWidth, int maxHeight) => AlignPage(PixelOffset + ((long)Stride(maxWidth) * maxHeight));

    public static long ArenaSize(int maxWidth, int maxHeight) => ArenaImages * AlignPage((long)Stride(maxWidth) * maxHeight);

    public static long CursorOffset(int maxWidth, int maxHeight) => ArenaOffset(maxWidth, maxHeight) + ArenaSize(maxWidth, maxHeight);

    public static long Size(int maxWidth, int maxHeight) => CursorOffset(maxWidth, maxHeight) + CursorBytes;

    /// <summary>
    /// Whether a scanout of <paramref name="width"/>×<paramref name="height"/> whose first pixel is at
    /// <paramref name="offset"/>, rows <paramref name="stride"/> bytes apart, lies inside the pixel areas (copy area and
    /// arena) of a mapping for <paramref name="maxWidth"/>×<paramref name="maxHeight"/>. Null when it does; otherwise why not.
    /// </summary>
    public static string? CheckLocation(int maxWidth, int maxHeight, int width, int height, long offset, int stride)
    {
        if (width <= 0 || height <= 0)
            return null; // no scanout: nothing is read
        var end = CursorOffset(maxWidth, maxHeight);
        if (stride < (long)width * 4 || stride > Stride(maxWidth) || (stride & 3) != 0)
            return $"stride {stride} for a width of {width}";
        if (offset < PixelOffset || (offset & 3) != 0 || offset > end)
            return $"offset {offset} outside the pixel areas [{PixelOffset}, {end})";
        var last = offset + ((long)(height - 1) * stride) + ((long)width * 4);
        return last <= end ? null : $"{width}x{height} at offset {offset}, stride {stride} ends at {last}, past the pixel areas' end {end}";
    }

    private static long AlignPage(long n) => (n + 4095) & ~4095L;
}
