using Vdi.Vmm.Memory;

namespace Vdi.Vmm.Migration;

/// <summary>
/// The pages a running machine dirties, from every source merged into one bitmap over RAM: the guest's writes (KVM's
/// dirty log, or the software engine's dirty map), the VMM's own host writes, and device DMA (the IOMMU's dirty bits);
/// and the GPU's resource pixels written (<see cref="Devices.Gpu.VirtioGpu.StartPixelTracking"/>).
/// </summary>
internal sealed class DirtyTracker : IDisposable
{
    private readonly Machine.Machine _machine;
    private readonly int _words;
    private bool _started;

    public DirtyTracker(Machine.Machine machine)
    {
        _machine = machine;
        PageCount = (long)(machine.Config.MemoryBytes >> DirtyBitmap.PageShift);
        _words = DirtyBitmap.WordsFor((ulong)PageCount);
    }

    public long PageCount { get; }

    /// <summary>Starts logging every source and forgets what was written before.</summary>
    public void Start()
    {
        _machine.Memory.StartDirtyLog();
        _machine.Iommu.StartDirtyTracking();
        _machine.Devices.Gpu.StartPixelTracking();
        _started = true;
        Harvest(out _);
    }

    /// <summary>The pages dirtied since the last harvest, and how many of them only device DMA recorded.</summary>
    public ulong[] Harvest(out long dmaOnly)
    {
        var bitmap = new ulong[_words];
        _machine.Memory.HarvestDirty(bitmap);
        dmaOnly = _machine.Iommu.HarvestDirty(bitmap); // after the CPU's: pages the CPU also wrote count once, as the CPU's
        return bitmap;
    }

    /// <summary>The GPU's resources destroyed and pixel chunks written since the last pixel harvest.</summary>
    public Devices.Gpu.PixelHarvest HarvestPixels() => _machine.Devices.Gpu.HarvestPixels();

    /// <summary>Bytes of pixels written since the last pixel harvest, left as they are.</summary>
    public long DirtyPixelBytes => _machine.Devices.Gpu.DirtyPixelBytes();

    public static long Count(ulong[] bitmap)
    {
        long n = 0;
        foreach (var w in bitmap)
            n += System.Numerics.BitOperations.PopCount(w);
        return n;
    }

    public static ulong[] All(long pages)
    {
        var bitmap = new ulong[DirtyBitmap.WordsFor((ulong)pages)];
        Array.Fill(bitmap, ulong.MaxValue);
        if (pages % 64 != 0)
            bitmap[^1] = (1UL << (int)(pages % 64)) - 1; // no bits past the last page
        return bitmap;
    }

    public void Dispose()
    {
        if (!_started)
            return;
        _started = false;
        _machine.Devices.Gpu.StopPixelTracking();
        _machine.Iommu.StopDirtyTracking();
        _machine.Memory.StopDirtyLog();
    }
}
