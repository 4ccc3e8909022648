using System.Runtime.CompilerServices;
using Vdi.Vmm.Devices.Gpu;
using Vdi.Vmm.Interop;
using static Vdi.Vmm.Interop.HostCalls;

namespace Vdi.Vmm.Host;

/// <summary>
/// The layout of the scanout shared between a desktop host and its broker (a sealed <c>memfd</c>, docs/host-protocol.md):
/// a 4 KiB header, the pixels of the largest mode at a fixed stride (<c>maxWidth × 4</c>, rows at their scanout
/// position), then a 256×256 cursor area. The header holds two seqlocks — one for the scanout's pixels and mode, one
/// for the cursor — each odd while the host writes; a reader copies, then checks the counter did not move.
/// </summary>
public static class ScanoutLayout
{
    public const uint Magic = 0x53494456; // "VDIS"
    public const int LayoutVersion = 1;
    public const int PixelOffset = 4096;
    public const int MaxCursor = 256;
    public const int CursorBytes = MaxCursor * MaxCursor * 4;

    // Header fields (byte offsets).
    internal const int MagicAt = 0, VersionAt = 4, SequenceAt = 8, WidthAt = 16, HeightAt = 20, FormatAt = 24;
    internal const int CursorSequenceAt = 32, CursorWidthAt = 40, CursorHeightAt = 44, CursorFormatAt = 48, CursorHotXAt = 52, CursorHotYAt = 56, CursorVisibleAt = 60;

    public static int Stride(int maxWidth) => checked(maxWidth * 4);

    public static long CursorOffset(int maxWidth, int maxHeight) => AlignPage(PixelOffset + ((long)Stride(maxWidth) * maxHeight));

    public static long Size(int maxWidth, int maxHeight) => CursorOffset(maxWidth, maxHeight) + CursorBytes;

    private static long AlignPage(long n) => (n + 4095) & ~4095L;
}

/// <summary>A mapping of the shared scanout, with the seqlock primitives both sides use.</summary>
public abstract unsafe class ScanoutMapping : IDisposable
{
    private int _disposed;

    private protected ScanoutMapping(int fd, byte* address, long size, int maxWidth, int maxHeight)
    {
        Descriptor = fd;
        Address = address;
        Size = size;
        MaxWidth = maxWidth;
        MaxHeight = maxHeight;
        Stride = ScanoutLayout.Stride(maxWidth);
        CursorOffset = ScanoutLayout.CursorOffset(maxWidth, maxHeight);
    }

    /// <summary>The memfd; -1 once disposed.</summary>
    public int Descriptor { get; private set; }

    public long Size { get; }

    public int MaxWidth { get; }

    public int MaxHeight { get; }

    public int Stride { get; }

    public long CursorOffset { get; }

    private protected byte* Address { get; }

    /// <summary>The scanout's seqlock: even when stable; bumped twice by each write.</summary>
    public long Sequence => Volatile.Read(ref Field<long>(ScanoutLayout.SequenceAt));

    private protected ref T Field<T>(int offset) where T : unmanaged =>
        // SAFETY: every header offset is below PixelOffset, inside the mapping of at least Size bytes.
        ref Unsafe.AsRef<T>(Address + offset);

    private protected Span<byte> Pixels =>
        // SAFETY: the pixel area lies between PixelOffset and CursorOffset, inside the mapping.
        new(Address + ScanoutLayout.PixelOffset, checked((int)(CursorOffset - ScanoutLayout.PixelOffset)));

    private protected Span<byte> Cursor =>
        // SAFETY: the cursor area is the mapping's last CursorBytes bytes.
        new(Address + CursorOffset, ScanoutLayout.CursorBytes);

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
            return;
        _ = Munmap((nint)Address, (nuint)Size);
        _ = Close(Descriptor);
        Descriptor = -1;
        GC.SuppressFinalize(this);
    }
}

/// <summary>
/// The host's side: creates the memfd (sealed against shrinking, so a reader's mapping can never fault), and copies
/// flushed rectangles and the cursor into it, one writer thread at a time.
/// </summary>
public sealed unsafe class ScanoutWriter : ScanoutMapping
{
    private ScanoutWriter(int fd, byte* address, long size, int maxWidth, int maxHeight) : base(fd, address, size, maxWidth, maxHeight)
    {
        Field<uint>(ScanoutLayout.MagicAt) = ScanoutLayout.Magic;
        Field<int>(ScanoutLayout.VersionAt) = ScanoutLayout.LayoutVersion;
    }

    /// <summary>Creates the shared scanout for modes up to <paramref name="maxWidth"/>×<paramref name="maxHeight"/>.</summary>
    public static ScanoutWriter Create(int maxWidth, int maxHeight)
    {
        var size = ScanoutLayout.Size(maxWidth, maxHeight);
        var fd = MemfdCreate("vdi-scanout", MFD_CLOEXEC | MFD_ALLOW_SEALING);
        if (fd < 0)
            throw new IOException($"memfd_create: {LibcCalls.Describe(LastErrno)}");
        if (Ftruncate(fd, size) != 0 || Fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) != 0)
        {
            var error = LibcCalls.Describe(LastErrno);
            _ = Close(fd);
            throw new IOException($"sizing and sealing the scanout memfd: {error}");
        }
        var p = Mmap(0, (nuint)size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (p == MapFailed)
        {
            var error = LibcCalls.Describe(LastErrno);
            _ = Close(fd);
            throw new IOException($"mapping the scanout memfd: {error}");
        }
        return new ScanoutWriter(fd, (byte*)p, size, maxWidth, maxHeight);
    }

    /// <summary>Publishes a new mode (0×0: no scanout); returns the sequence after the write.</summary>
    public long SetMode(int width, int height)
    {
        var s = Begin(ScanoutLayout.SequenceAt);
        Field<int>(ScanoutLayout.WidthAt) = width;
        Field<int>(ScanoutLayout.HeightAt) = height;
        return End(ScanoutLayout.SequenceAt, s);
    }

    /// <summary>
    /// Copies <paramref name="region"/> of the GPU's visible scanout into shared memory; returns the sequence after the
    /// write, or null when the region no longer fits the scanout (it changed size; a full flush follows).
    /// </summary>
    public long? Copy(VirtioGpu gpu, GpuRect region)
    {
        var s = Begin(ScanoutLayout.SequenceAt);
        var copied = false;
        try
        {
            if (region.X + region.Width <= MaxWidth && region.Y + region.Height <= MaxHeight && gpu.Capture(region, Pixels, Stride, out var format))
            {
                Field<int>(ScanoutLayout.FormatAt) = (int)format;
                copied = true;
            }
        }
        finally
        {
            s = End(ScanoutLayout.SequenceAt, s);
        }
        return copied ? s : null;
    }

    /// <summary>Publishes the cursor image (null pixels: hidden); returns the cursor sequence after the write.</summary>
    public long SetCursor(CursorImage cursor)
    {
        var s = Begin(ScanoutLayout.CursorSequenceAt);
        var visible = cursor.Pixels is { } pixels && cursor.Width is > 0 and <= ScanoutLayout.MaxCursor && cursor.Height is > 0 and <= ScanoutLayout.MaxCursor
            && pixels.Length >= cursor.Width * cursor.Height * 4;
        if (visible)
            cursor.Pixels.AsSpan(0, cursor.Width * cursor.Height * 4).CopyTo(Cursor);
        Field<int>(ScanoutLayout.CursorWidthAt) = visible ? cursor.Width : 0;
        Field<int>(ScanoutLayout.CursorHeightAt) = visible ? cursor.Height : 0;
        Field<int>(ScanoutLayout.CursorFormatAt) = (int)cursor.Format;
        Field<int>(ScanoutLayout.CursorHotXAt) = cursor.HotX;
        Field<int>(ScanoutLayout.CursorHotYAt) = cursor.HotY;
        Field<int>(ScanoutLayout.CursorVisibleAt) = visible ? 1 : 0;
        return End(ScanoutLayout.CursorSequenceAt, s);
    }

    /// <summary>Tests: fills the current mode's pixels with one byte value as one write.</summary>
    internal long FillForTest(byte value)
    {
        var s = Begin(ScanoutLayout.SequenceAt);
        var (w, h) = (Field<int>(ScanoutLayout.WidthAt), Field<int>(ScanoutLayout.HeightAt));
        for (var row = 0; row < h; row++)
            Pixels.Slice(row * Stride, w * 4).Fill(value);
        return End(ScanoutLayout.SequenceAt, s);
    }

    private long Begin(int at)
    {
        var s = Field<long>(at) + 1; // odd: a write is under way
        Volatile.Write(ref Field<long>(at), s);
        Interlocked.MemoryBarrier();
        return s;
    }

    private long End(int at, long odd)
    {
        Volatile.Write(ref Field<long>(at), odd + 1);
        return odd + 1;
    }
}

/// <summary>
/// The broker's side: maps the host's memfd read-only after checking its size and seals, and reads regions under the
/// seqlock. Nothing the host writes is trusted: mode and cursor sizes are checked against the mapping.
/// </summary>
public sealed unsafe class ScanoutReader : ScanoutMapping
{
    private const int MaxAttempts = 10_000;
    private static readonly TimeSpan s_readBudget = TimeSpan.FromMilliseconds(100);

    private ScanoutReader(int fd, byte* address, long size, int maxWidth, int maxHeight) : base(fd, address, size, maxWidth, maxHeight)
    {
    }

    /// <summary>Reads that found a write under way or a counter that moved, and were retried.</summary>
    public long Retries { get; private set; }

    /// <summary>Maps <paramref name="fd"/> (taking ownership of it); throws <see cref="HostProtocolException"/> when it does not match the welcome.</summary>
    public static ScanoutReader Open(int fd, int maxWidth, int maxHeight, long size)
    {
        try
        {
            if (maxWidth is < 1 or > 16384 || maxHeight is < 1 or > 16384 || size != ScanoutLayout.Size(maxWidth, maxHeight))
                throw new HostProtocolException($"shared scanout of {size} bytes does not fit {maxWidth}x{maxHeight}");
            var actual = Lseek(fd, 0, SEEK_END);
            if (actual < size)
                throw new HostProtocolException($"shared scanout is {actual} bytes, the welcome said {size}");
            var seals = Fcntl(fd, F_GET_SEALS, 0);
            if (seals < 0 || (seals & F_SEAL_SHRINK) == 0)
                throw new HostProtocolException("shared scanout is not sealed against shrinking");
            var p = Mmap(0, (nuint)size, PROT_READ, MAP_SHARED, fd, 0);
            if (p == MapFailed)
                throw new IOException($"mapping the shared scanout: {LibcCalls.Describe(LastErrno)}");
            var reader = new ScanoutReader(fd, (byte*)p, size, maxWidth, maxHeight);
            if (reader.Field<uint>(ScanoutLayout.MagicAt) != ScanoutLayout.Magic || reader.Field<int>(ScanoutLayout.VersionAt) != ScanoutLayout.LayoutVersion)
            {
                reader.Dispose();
                throw new HostProtocolException("shared scanout has the wrong magic or layout version");
            }
            return reader;
        }
        catch
        {
            _ = Close(fd);
            throw;
        }
    }

    /// <summary>The mode the host last published, or null for none.</summary>
    public (int Width, int Height)? Mode
    {
        get
        {
            for (var i = 0; i < MaxAttempts; i++)
            {
                var s = Sequence;
                if ((s & 1) != 0)
                    continue;
                var (w, h) = (Volatile.Read(ref Field<int>(ScanoutLayout.WidthAt)), Volatile.Read(ref Field<int>(ScanoutLayout.HeightAt)));
                if (Sequence == s)
                    return w > 0 && h > 0 && w <= MaxWidth && h <= MaxHeight ? (w, h) : null;
            }
            return null;
        }
    }

    /// <summary>
    /// Copies <paramref name="region"/> into <paramref name="destination"/> (rows <paramref name="stride"/> apart, at the
    /// region's own position), as <see cref="VirtioGpu.Capture(GpuRect, Span{byte}, int, out GpuFormat)"/> does. Never a
    /// torn copy: retried until the seqlock held still; false when there is no scanout, the region does not fit it,
    /// or the host never let go (a broken host).
    /// </summary>
    public bool Capture(GpuRect region, Span<byte> destination, int stride, out GpuFormat format) => Capture(region, destination, stride, out format, out _);

    /// <inheritdoc cref="Capture(GpuRect, Span{byte}, int, out GpuFormat)"/>
    /// <param name="sequence">The seqlock value the copy is consistent with.</param>
    public bool Capture(GpuRect region, Span<byte> destination, int stride, out GpuFormat format, out long sequence)
    {
        format = default;
        sequence = 0;
        if (region.IsEmpty || region.X < 0 || region.Y < 0 || stride < (long)(region.X + region.Width) * 4
            || (long)(region.Y + region.Height - 1) * stride + ((long)(region.X + region.Width) * 4) > destination.Length)
            throw new ArgumentOutOfRangeException(nameof(region), region, "the region does not fit the destination");
        var pixels = Pixels;
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        for (var attempt = 0; ; attempt++)
        {
            // A host that never lets go (broken, or hostile) costs the reader at most the budget.
            if (attempt > 64 && System.Diagnostics.Stopwatch.GetElapsedTime(started) > s_readBudget)
                return false;
            var s = Sequence;
            if ((s & 1) != 0)
            {
                Retries++;
                Backoff(attempt);
                continue;
            }
            var w = Volatile.Read(ref Field<int>(ScanoutLayout.WidthAt));
            var h = Volatile.Read(ref Field<int>(ScanoutLayout.HeightAt));
            var f = (GpuFormat)Volatile.Read(ref Field<int>(ScanoutLayout.FormatAt));
            if (w <= 0 || h <= 0 || w > MaxWidth || h > MaxHeight || !new GpuRect(0, 0, w, h).Contains(region))
            {
                if (Sequence == s)
                    return false;
                continue;
            }
            for (var row = 0; row < region.Height; row++)
            {
                pixels.Slice(((region.Y + row) * Stride) + (region.X * 4), region.Width * 4)
                    .CopyTo(destination[(((region.Y + row) * stride) + (region.X * 4))..]);
            }
            Interlocked.MemoryBarrier();
            if (Sequence == s)
            {
                format = f;
                sequence = s;
                return true;
            }
            Retries++;
            Backoff(attempt);
        }
    }

    private static void Backoff(int attempt)
    {
        if (attempt < 16)
            Thread.SpinWait(32);
        else
            Thread.Yield();
    }

    /// <summary>The cursor as the host last published it (pixels null when hidden); null when never consistent.</summary>
    public CursorImage? ReadCursor()
    {
        var cursor = Cursor;
        for (var attempt = 0; attempt < MaxAttempts; attempt++)
        {
            var s = Volatile.Read(ref Field<long>(ScanoutLayout.CursorSequenceAt));
            if ((s & 1) != 0)
                continue;
            var w = Field<int>(ScanoutLayout.CursorWidthAt);
            var h = Field<int>(ScanoutLayout.CursorHeightAt);
            var visible = Field<int>(ScanoutLayout.CursorVisibleAt) == 1 && w is > 0 and <= ScanoutLayout.MaxCursor && h is > 0 and <= ScanoutLayout.MaxCursor;
            var pixels = visible ? cursor[..(w * h * 4)].ToArray() : null;
            var image = new CursorImage(visible ? w : 0, visible ? h : 0, Field<int>(ScanoutLayout.CursorHotXAt), Field<int>(ScanoutLayout.CursorHotYAt),
                pixels, (GpuFormat)Field<int>(ScanoutLayout.CursorFormatAt));
            Interlocked.MemoryBarrier();
            if (Volatile.Read(ref Field<long>(ScanoutLayout.CursorSequenceAt)) == s)
                return image;
        }
        return null;
    }
}
