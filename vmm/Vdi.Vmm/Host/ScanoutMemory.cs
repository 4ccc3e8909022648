using System.Runtime.CompilerServices;
using Vdi.Vmm.Devices.Gpu;
using Vdi.Vmm.Interop;
using static Vdi.Vmm.Interop.HostCalls;

namespace Vdi.Vmm.Host;

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
        ArenaOffset = ScanoutLayout.ArenaOffset(maxWidth, maxHeight);
        ArenaSize = ScanoutLayout.ArenaSize(maxWidth, maxHeight);
    }

    /// <summary>The memfd; -1 once disposed.</summary>
    public int Descriptor { get; private set; }

    public long Size { get; }

    public int MaxWidth { get; }

    public int MaxHeight { get; }

    public int Stride { get; }

    public long CursorOffset { get; }

    /// <summary>The resource arena: where the host places resource images (<see cref="SharedResourceArena"/>).</summary>
    public long ArenaOffset { get; }

    public long ArenaSize { get; }

    private protected byte* Address { get; }

    /// <summary>The scanout's seqlock: even when stable; bumped twice by each write.</summary>
    public long Sequence => Volatile.Read(ref Field<long>(ScanoutLayout.SequenceAt));

    private protected ref T Field<T>(int offset) where T : unmanaged =>
        // SAFETY: every header offset is below PixelOffset, inside the mapping of at least Size bytes.
        ref Unsafe.AsRef<T>(Address + offset);

    /// <summary>The copy area: the largest mode's rows at <see cref="Stride"/>, for scanouts the host copies.</summary>
    private protected Span<byte> CopyArea =>
        // SAFETY: the copy area lies between PixelOffset and ArenaOffset (Stride × MaxHeight ≤ 1 GiB), inside the mapping.
        new(Address + ScanoutLayout.PixelOffset, checked(Stride * MaxHeight));

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
    // Serialises the scanout seqlock's writers: the event thread (mode, copies) and vCPU threads writing a resource in
    // the arena. Order: the GPU's gate, then this lock.
    private readonly Lock _writeLock = new();
    private bool _direct;

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

    /// <summary>Publishes a new mode (0×0: no scanout) whose pixels the host copies into the copy area; returns the sequence after the write.</summary>
    public long SetMode(int width, int height) => SetMode(width, height, ScanoutLayout.PixelOffset, Stride, null);

    /// <summary>
    /// Publishes a new mode whose first pixel is at <paramref name="offset"/> in the mapping, rows
    /// <paramref name="stride"/> bytes apart: the copy area, or a resource image in the arena the guest writes directly.
    /// </summary>
    public long SetMode(int width, int height, long offset, int stride, GpuFormat? format)
    {
        lock (_writeLock)
        {
            var s = Begin(ScanoutLayout.SequenceAt);
            Field<int>(ScanoutLayout.WidthAt) = width;
            Field<int>(ScanoutLayout.HeightAt) = height;
            Field<long>(ScanoutLayout.LocationOffsetAt) = offset;
            Field<int>(ScanoutLayout.LocationStrideAt) = stride;
            if (format is { } f)
                Field<int>(ScanoutLayout.FormatAt) = (int)f;
            _direct = offset != ScanoutLayout.PixelOffset;
            return End(ScanoutLayout.SequenceAt, s);
        }
    }

    /// <summary>Whether the published mode's pixels are a resource image in the arena (a flush needs no copy).</summary>
    public bool Direct
    {
        get
        {
            lock (_writeLock)
                return _direct;
        }
    }

    /// <summary>The scanout sequence with no write under way: what a flush of an arena image publishes.</summary>
    public long Published
    {
        get
        {
            lock (_writeLock)
                return Field<long>(ScanoutLayout.SequenceAt);
        }
    }

    /// <summary>
    /// Copies <paramref name="region"/> of the GPU's visible scanout into shared memory; returns the sequence after the
    /// write, or null when the region no longer fits the scanout (it changed size; a full flush follows).
    /// </summary>
    public long? Copy(VirtioGpu gpu, GpuRect region)
    {
        lock (gpu.DeviceGate)
        {
            lock (_writeLock)
            {
                var s = Begin(ScanoutLayout.SequenceAt);
                var copied = false;
                try
                {
                    if (region.X + region.Width <= MaxWidth && region.Y + region.Height <= MaxHeight && gpu.Capture(region, CopyArea, Stride, out var format))
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
        }
    }

    /// <summary>A vCPU thread starts writing an arena image: the scanout seqlock goes odd until <see cref="EndPixels"/>.</summary>
    internal void BeginPixels()
    {
        _writeLock.Enter();
        Begin(ScanoutLayout.SequenceAt);
    }

    internal void EndPixels()
    {
        Volatile.Write(ref Field<long>(ScanoutLayout.SequenceAt), Field<long>(ScanoutLayout.SequenceAt) + 1);
        _writeLock.Exit();
    }

    /// <summary><paramref name="length"/> bytes of the arena at mapping offset <paramref name="offset"/>.</summary>
    internal Span<byte> ArenaSpan(long offset, int length)
    {
        if (offset < ArenaOffset || length < 0 || offset + length > ArenaOffset + ArenaSize)
            throw new ArgumentOutOfRangeException(nameof(offset), offset, "outside the resource arena");
        // SAFETY: checked just above to lie inside the arena, which lies inside the mapping.
        return new Span<byte>(Address + offset, length);
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
        lock (_writeLock)
        {
            var s = Begin(ScanoutLayout.SequenceAt);
            var (w, h) = (Field<int>(ScanoutLayout.WidthAt), Field<int>(ScanoutLayout.HeightAt));
            for (var row = 0; row < h; row++)
                CopyArea.Slice(row * Stride, w * 4).Fill(value);
            return End(ScanoutLayout.SequenceAt, s);
        }
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
