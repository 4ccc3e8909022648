namespace Vdi.Vmm.Devices.Gpu;

/// <summary>
/// Resource pixels move in a live migration's pre-copy rounds, as guest RAM does (<c>docs/vmm.md</c>, "Live
/// migration"), not in the state taken while the vCPUs are paused: a 1080p desktop holds 8 MiB of them, which in the
/// state cost tens of milliseconds of downtime to copy, send, parse and copy again. While tracking is on, each resource
/// has a bitmap of <see cref="PixelChunkBytes"/> chunks written since the last harvest (all of it when created, the
/// rows of each TRANSFER_TO_HOST_2D after), and the ids destroyed since the last harvest. A state saved while tracking
/// names the resources whose pixels were all handed out and not written since. The destination keeps what it receives in
/// images of its resource memory (<see cref="StagePixels"/>) — written, and their pages touched, before the pause — and
/// its restored resources take those images over.
/// </summary>
public sealed partial class VirtioGpu
{
    /// <summary>The unit of a resource's dirty tracking: a few rows of a desktop-sized resource.</summary>
    public const int PixelChunkBytes = 16 * 1024;

    private PixelTracking? _tracking; // under Gate
    private readonly Dictionary<uint, StagedImage> _staged = []; // under Gate; destination: pixels received before the state
    private long _stagedBytes;

    /// <summary>Starts tracking: every resource counts as written, and nothing is gone yet.</summary>
    public void StartPixelTracking()
    {
        lock (Gate)
        {
            _tracking = new PixelTracking();
            foreach (var resource in _resources.Values)
                _tracking.Created(resource);
        }
    }

    public void StopPixelTracking()
    {
        lock (Gate)
            _tracking = null;
    }

    /// <summary>The bytes of pixels written since the last harvest (whole chunks), without clearing anything.</summary>
    public long DirtyPixelBytes()
    {
        lock (Gate)
            return _tracking?.DirtyBytes() ?? 0;
    }

    /// <summary>
    /// The resources destroyed and the chunks written since the last harvest; clears them. Read each chunk with
    /// <see cref="TryReadPixelChunk"/>: a chunk written after this harvest is in the next one.
    /// </summary>
    internal PixelHarvest HarvestPixels()
    {
        lock (Gate)
            return _tracking?.Harvest() ?? PixelHarvest.Empty;
    }

    /// <summary>
    /// Copies chunk <paramref name="chunk"/> of <paramref name="resource"/> into <paramref name="into"/> (at least
    /// <see cref="PixelChunkBytes"/>); false when the resource is no longer the GPU's (its destruction is in a later harvest).
    /// </summary>
    internal bool TryReadPixelChunk(GpuResource resource, int chunk, Span<byte> into, out int length)
    {
        lock (Gate)
        {
            length = 0;
            if (!_resources.TryGetValue(resource.Id, out var current) || current != resource)
                return false;
            var from = (long)chunk * PixelChunkBytes;
            length = (int)Math.Min(PixelChunkBytes, resource.ByteCount - from);
            resource.Pixels.Slice((int)from, length).CopyTo(into);
            return true;
        }
    }

    /// <summary>
    /// Destination, before the machine starts: a chunk of resource <paramref name="id"/>'s pixels, a
    /// <paramref name="width"/>×<paramref name="height"/> resource, at <paramref name="offset"/>. A resource that comes
    /// with another size replaces the one of that id. Returns why it is refused: a size the guest could not have made, a
    /// chunk that is not one, or more than the GPU's resource memory in all.
    /// </summary>
    public string? StagePixels(uint id, uint width, uint height, long offset, ReadOnlySpan<byte> chunk)
    {
        if (width is 0 || height is 0 || width > (uint)_options.MaxWidth || height > (uint)_options.MaxHeight)
            return $"a {width}x{height} resource, over the {_options.MaxWidth}x{_options.MaxHeight} limit";
        var total = (long)width * height * 4;
        if (offset < 0 || offset % PixelChunkBytes != 0 || offset >= total || chunk.Length != Math.Min(PixelChunkBytes, total - offset))
            return $"{chunk.Length} bytes at {offset} of {total} is not a chunk of it";
        lock (Gate)
        {
            if (!_staged.TryGetValue(id, out var staged) || staged.Width != width || staged.Height != height)
            {
                var replaced = staged?.Bytes ?? 0;
                if (_stagedBytes - replaced + total > _options.ResourceMemoryLimit)
                    return $"resource pixels over the GPU's {_options.ResourceMemoryLimit >> 20} MiB";
                DropStagedPixels(id);
                staged = new StagedImage((int)width, (int)height, _resourceMemory.Allocate((int)width, (int)height, (int)total));
                _staged[id] = staged;
                _stagedBytes += total;
            }
            staged.Image.BeginWrite();
            try
            {
                chunk.CopyTo(staged.Image.Pixels[(int)offset..]);
            }
            finally
            {
                staged.Image.EndWrite();
            }
        }
        return null;
    }

    /// <summary>Destination: resource <paramref name="id"/> was destroyed on the source; its staged pixels go.</summary>
    public void DropStagedPixels(uint id)
    {
        lock (Gate)
        {
            if (_staged.Remove(id, out var gone))
            {
                gone.Image.Release();
                _stagedBytes -= gone.Bytes;
            }
        }
    }

    /// <summary>Under Gate: the staged image of a pre-copied <paramref name="width"/>×<paramref name="height"/> resource, or null.</summary>
    private GpuResourceImage? StagedImage(uint id, int width, int height) =>
        _staged.TryGetValue(id, out var staged) && staged.Width == width && staged.Height == height ? staged.Image : null;

    /// <summary>Under Gate, once restored: the images taken over leave the stage; the rest are released.</summary>
    private void ClearStage(IEnumerable<GpuResourceImage> taken)
    {
        var kept = taken.ToHashSet();
        foreach (var staged in _staged.Values.Where(s => !kept.Contains(s.Image)))
            staged.Image.Release();
        _staged.Clear();
        _stagedBytes = 0;
    }

    /// <summary>Under Gate, from TRANSFER_TO_HOST_2D: rows <paramref name="firstRow"/> to <paramref name="lastRow"/> changed.</summary>
    private void MarkPixelsWritten(GpuResource resource, int firstRow, int lastRow) =>
        _tracking?.Written(resource, (long)firstRow * resource.Stride, ((long)lastRow + 1) * resource.Stride);

    /// <summary>Under Gate: the resources a state saved now may leave out, their pixels already handed out.</summary>
    private bool PixelsHandedOut(GpuResource resource) => _tracking?.IsClean(resource) ?? false;

    /// <summary>What tracking keeps; every member under the GPU's gate.</summary>
    private sealed class PixelTracking
    {
        private readonly Dictionary<uint, (GpuResource Resource, ulong[] Dirty)> _resources = [];
        private readonly HashSet<uint> _gone = [];

        public void Created(GpuResource resource)
        {
            var chunks = Chunks(resource);
            var dirty = new ulong[(chunks + 63) / 64];
            for (var c = 0; c < chunks; c++)
                dirty[c >> 6] |= 1UL << (c & 63);
            _resources[resource.Id] = (resource, dirty);
        }

        public void Destroyed(uint id)
        {
            if (_resources.Remove(id))
                _gone.Add(id);
        }

        public void Written(GpuResource resource, long from, long to)
        {
            if (!_resources.TryGetValue(resource.Id, out var tracked) || tracked.Resource != resource)
                return; // created before tracking began and not seen since: cannot happen, Start marks every resource
            for (var c = (int)(from / PixelChunkBytes); c <= (int)((to - 1) / PixelChunkBytes); c++)
                tracked.Dirty[c >> 6] |= 1UL << (c & 63);
        }

        public bool IsClean(GpuResource resource) =>
            _resources.TryGetValue(resource.Id, out var tracked) && tracked.Resource == resource && Array.TrueForAll(tracked.Dirty, w => w == 0);

        public long DirtyBytes() => _resources.Values.Sum(t => (long)t.Dirty.Sum(w => System.Numerics.BitOperations.PopCount(w))) * PixelChunkBytes;

        public PixelHarvest Harvest()
        {
            var chunks = new List<(GpuResource, int)>();
            foreach (var (resource, dirty) in _resources.Values)
            {
                for (var w = 0; w < dirty.Length; w++)
                {
                    for (var word = dirty[w]; word != 0; word &= word - 1)
                        chunks.Add((resource, (w * 64) + System.Numerics.BitOperations.TrailingZeroCount(word)));
                    dirty[w] = 0;
                }
            }
            var gone = _gone.ToArray();
            _gone.Clear();
            return new PixelHarvest(gone, chunks);
        }

        private static int Chunks(GpuResource resource) => (int)((resource.ByteCount + PixelChunkBytes - 1) / PixelChunkBytes);
    }
}

/// <summary>A resource's pixels on the destination before its state arrives.</summary>
internal sealed record StagedImage(int Width, int Height, GpuResourceImage Image)
{
    public long Bytes => (long)Width * Height * 4;
}

/// <summary>Resources destroyed, and chunks of resources written, since the harvest before.</summary>
internal sealed record PixelHarvest(uint[] Gone, IReadOnlyList<(GpuResource Resource, int Chunk)> Chunks)
{
    public static readonly PixelHarvest Empty = new([], []);
}
