using Vdi.Vmm.Devices.Gpu;

namespace Vdi.Vmm.Host;

/// <summary>
/// The host's GPU resource memory: places resource images in the shared scanout's arena (first fit, page-aligned), so
/// the guest's TRANSFER_TO_HOST_2D writes straight where the broker reads and a flush of the scanout only publishes its
/// damage. Every write into an arena image holds the scanout seqlock odd (the writing vCPU thread owns it meanwhile),
/// so a broker's copy is never torn. Images no larger than a cursor (256×256), and images that do not fit, stay private
/// and a scanout showing one is copied into the copy area as before.
/// </summary>
public sealed class SharedResourceArena : IGpuResourceMemory
{
    private readonly ScanoutWriter _scanout;
    private readonly List<(long Offset, long Length)> _used = []; // sorted by offset; guarded by the GPU's gate

    private readonly long _end;

    /// <param name="scanout">The shared scanout whose arena holds the images.</param>
    /// <param name="limit">At most this many bytes of the arena are used (tests and comparisons; 0: none, every frame copied).</param>
    public SharedResourceArena(ScanoutWriter scanout, long limit = long.MaxValue)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(limit);
        _scanout = scanout;
        _end = scanout.ArenaOffset + Math.Min(scanout.ArenaSize, limit);
    }

    /// <summary>Images placed in the arena (tests, figures).</summary>
    public long Placed { get; private set; }

    public GpuResourceImage Allocate(int width, int height, int bytes)
    {
        if ((width > ScanoutLayout.MaxCursor || height > ScanoutLayout.MaxCursor) && Place(bytes) is { } offset)
        {
            Placed++;
            var image = new ArenaImage(this, offset, bytes);
            image.BeginWrite();
            try
            {
                image.Pixels.Clear(); // a previous image's pixels
            }
            finally
            {
                image.EndWrite();
            }
            return image;
        }
        return HeapResourceMemory.Instance.Allocate(width, height, bytes);
    }

    private long? Place(int bytes)
    {
        var length = (bytes + 4095L) & ~4095L;
        var at = _scanout.ArenaOffset;
        var index = 0;
        for (; index < _used.Count; index++)
        {
            if (_used[index].Offset - at >= length)
                break;
            at = _used[index].Offset + _used[index].Length;
        }
        if (at + length > _end)
            return null;
        _used.Insert(index, (at, length));
        return at;
    }

    private void Free(long offset) => _used.RemoveAll(u => u.Offset == offset);

    /// <summary>An image in the arena; <see cref="Offset"/> is its first byte's offset in the mapping.</summary>
    internal sealed class ArenaImage(SharedResourceArena arena, long offset, int bytes) : GpuResourceImage
    {
        private bool _released;

        public long Offset => offset;

        public override Span<byte> Pixels => _released ? [] : arena._scanout.ArenaSpan(offset, bytes);

        public override void BeginWrite() => arena._scanout.BeginPixels();

        public override void EndWrite() => arena._scanout.EndPixels();

        public override void Release()
        {
            if (_released)
                return;
            _released = true;
            arena.Free(offset);
        }
    }
}
