using System.Runtime.CompilerServices;
using Vdi.Vmm.Devices.Gpu;
using Vdi.Vmm.Interop;
using static Vdi.Vmm.Interop.HostCalls;

namespace Vdi.Vmm.Host;

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
            var offset = Volatile.Read(ref Field<long>(ScanoutLayout.LocationOffsetAt));
            var sourceStride = Volatile.Read(ref Field<int>(ScanoutLayout.LocationStrideAt));
            // The host is not trusted: its mode and location must lie inside the mapping's pixel areas.
            if (w <= 0 || h <= 0 || w > MaxWidth || h > MaxHeight || !new GpuRect(0, 0, w, h).Contains(region)
                || ScanoutLayout.CheckLocation(MaxWidth, MaxHeight, w, h, offset, sourceStride) is not null)
            {
                if (Sequence == s)
                    return false;
                continue;
            }
            for (var row = 0; row < region.Height; row++)
            {
                var from = offset + ((long)(region.Y + row) * sourceStride) + (region.X * 4);
                // SAFETY: CheckLocation bounded the whole w×h scanout (offset + (h−1)·stride + w·4) by CursorOffset, inside
                // the mapping, and the region lies inside w×h.
                new ReadOnlySpan<byte>(Address + from, region.Width * 4).CopyTo(destination[(((region.Y + row) * stride) + (region.X * 4))..]);
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
